/** The diagonal whitening a of the coordinates t̃ = a⊙(w − w*) that q is fitted in (a = 1 without whitening). */
import type { Posterior } from '../../posterior';
import { fillBelow, fold, Key } from '../../rng';
import type { ViOptions } from './options';

/** Floor under the whitening second moment (the reference's), so a coordinate whose gradient never moves keeps a finite scale. */
const WHITENING_FLOOR = 1e-8;

/** Number of minibatch gradients in the whitening pre-pass (the reference's rule). */
export function whiteningSteps(o: Pick<ViOptions, 'whitening_mode' | 'steps'>): number {
  return o.whitening_mode === 'none' ? 0 : Math.min(1000, Math.max(500, Math.floor(o.steps / 10)));
}

/**
 * The diagonal whitening a = v^{1/4} (chains × d), v a decayed second moment of minibatch loss
 * gradients at w*, one independent estimate per chain. `rmsprop` starts v at 1 without bias
 * correction (SGLD's RMSprop; the 1 lingers as decay^S, ≈ 0.007 at the defaults, and floors v
 * where gradients are small); `adam` is Adam's second-moment estimate, started at 0 and bias
 * corrected, so v is the plain average of g² however small. (The reference's `adam` also kept a
 * first moment it never used, making both modes identical; a diagonal whitener is a scale, so a
 * first moment has no role in it.) Each chain's a is then divided by its geometric mean: q's family
 * is unchanged by a common factor in a (s absorbs it), so the factor — the arbitrary magnitude of
 * the loss gradients — would only distort the reported scales and the cap of the starting scale.
 */
export function whiteningScales(posterior: Posterior, o: ViOptions, keys: Key[], a: Float64Array): void {
  const S = whiteningSteps(o);
  if (S === 0) {
    a.fill(1);
    return;
  }
  const { d, n, chains, center } = posterior;
  const B = o.batch_size;
  const positions = posterior.array(chains * d);
  for (let c = 0; c < chains; c++) positions.set(center, c * d);
  const rows = new Int32Array(chains * B);
  const rowViews = keys.map((_, c) => rows.subarray(c * B, (c + 1) * B));
  const grad = posterior.array(chains * d);
  const loss = new Float64Array(chains);
  const v = a; // accumulate v in place, then map it to v^{1/4}
  v.fill(o.whitening_mode === 'rmsprop' ? 1 : 0);
  const decay = o.whitening_decay;
  for (let t = 0; t < S; t++) {
    for (let c = 0; c < chains; c++) fillBelow(fold(keys[c], t), n, rowViews[c]);
    posterior.lossGradient(positions, rows, B, grad, loss);
    for (let i = 0; i < chains * d; i++) v[i] = decay * v[i] + (1 - decay) * grad[i] * grad[i];
  }
  const correction = o.whitening_mode === 'adam' ? 1 - Math.pow(decay, S) : 1;
  for (let c = 0; c < chains; c++) {
    let meanLog = 0;
    for (let i = c * d; i < (c + 1) * d; i++) {
      a[i] = Math.pow(v[i] / correction + WHITENING_FLOOR, 0.25);
      meanLog += Math.log(a[i]) / d;
    }
    const geometricMean = Math.exp(meanLog);
    for (let i = c * d; i < (c + 1) * d; i++) a[i] /= geometricMean;
  }
}

import { fillBelow, fold, Key } from '../../rng';
import type { CentralDifferenceHessian } from './hessian';

/**
 * Each chain's starting scale s₀ = 1/√(mean diagonal of the whitened posterior precision),
 * nβ·tr(Ã⁻¹HÃ⁻¹)/d + γ·mean(1/a²) with Ã = diag(a), tr(·) from Hutchinson's estimator with
 * `probes` Rademacher probes on minibatch HVPs (2 minibatch gradients each), capped at ln 2 (the
 * reference's start, also the fallback when the estimate is not positive). Why: the ρ-gradient
 * grows like (posterior precision)·s², so a start 10× too wide (the reference's ln 2 against a
 * posterior scale of ~0.06 at n = 1000) makes the first gradients ~100× their size near the
 * optimum; Adam's second moment (β₂ = 0.999) remembers them for thousands of steps and the fit
 * stalls short of the optimum (linear regression: λ̂ 10% high after 5000 steps). A start near the
 * mean scale keeps gradients O(1); coordinates it starts too narrow get bounded gradients (the
 * entropy's push 1 − precision·s² ≤ 1) and widen at Adam's pace.
 */
export function initialScales(
  hessian: CentralDifferenceHessian,
  whitening: Float64Array,
  nBeta: number,
  gamma: number,
  batch: number,
  probes: number,
  keys: Key[],
): Float64Array {
  const { d, n, chains } = hessian.posterior;
  const directions = new Float64Array(chains * d);
  const hv = new Float64Array(chains * d);
  const signs = new Int32Array(d);
  const rows = new Int32Array(chains * batch);
  const rowViews = keys.map((_, c) => rows.subarray(c * batch, (c + 1) * batch));
  const curvature = new Float64Array(chains);
  for (let p = 0; p < probes; p++) {
    for (let c = 0; c < chains; c++) {
      fillBelow(fold(keys[c], p, 0), 2, signs);
      fillBelow(fold(keys[c], p, 1), n, rowViews[c]);
      for (let i = 0; i < d; i++) directions[c * d + i] = (2 * signs[i] - 1) / whitening[c * d + i];
    }
    hessian.apply(directions, hv, rows, batch);
    for (let c = 0; c < chains; c++) {
      let q = 0;
      for (let i = 0; i < d; i++) q += directions[c * d + i] * hv[c * d + i];
      curvature[c] += q / (probes * d);
    }
  }
  return curvature.map((h, c) => {
    let localizer = 0;
    for (let i = 0; i < d; i++) localizer += gamma / (d * whitening[c * d + i] ** 2);
    const precision = nBeta * Math.max(0, h) + localizer;
    return precision > 0 ? Math.min(Math.LN2, 1 / Math.sqrt(precision)) : Math.LN2;
  });
}

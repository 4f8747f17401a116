/**
 * Adam (β 0.9/0.999, ε 1e-8) ascending the ELBO, with optional per-chain global-norm clipping (off
 * in the preset: the gradient's norm is heavy-tailed and grows with nβ and d, so a fixed threshold
 * binds on most steps, reweights them by 1/‖g‖ and moves the fixed point away from the ELBO's
 * optimum; Adam's normalisation already bounds each step), and its learning-rate schedule.
 */
import type { ViOptions } from './options';

export const ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

/** The learning rate at step t (0-based): a linear warm-up over ⌊lr_warmup_frac·steps⌋ steps, then constant, cosine or linear decay to 0. */
export function learningRate(o: Pick<ViOptions, 'lr' | 'steps' | 'lr_schedule' | 'lr_warmup_frac'>, t: number): number {
  const warmup = Math.floor(o.lr_warmup_frac * o.steps);
  if (t < warmup) return (o.lr * (t + 1)) / warmup;
  if (o.lr_schedule === null) return o.lr;
  const progress = (t - warmup) / (o.steps - warmup);
  return o.lr_schedule === 'cosine' ? 0.5 * o.lr * (1 + Math.cos(Math.PI * progress)) : o.lr * (1 - progress);
}

/** One Adam step *up* the gradient on [from, to): θ += lr·m̂/(√v̂ + ε), the gradient first scaled by `clip`. */
export function adamAscent(params: Float64Array, grad: Float64Array, m: Float64Array, v: Float64Array, from: number, to: number, clip: number, stepScale: number, vScale: number): void {
  const { beta1, beta2, eps } = ADAM;
  for (let k = from; k < to; k++) {
    const g = clip * grad[k];
    const mk = beta1 * m[k] + (1 - beta1) * g;
    const vk = beta2 * v[k] + (1 - beta2) * g * g;
    m[k] = mk;
    v[k] = vk;
    params[k] += (stepScale * mk) / (Math.sqrt(vk * vScale) + eps);
  }
}

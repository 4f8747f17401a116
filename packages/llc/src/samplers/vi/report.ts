/** What a run reports besides λ̂: progress, the optimisation curves, and JSON-safe summaries for the diagnostics. */
import type { Progress } from '../types';

/** The reporter throttles what is shown; this only keeps the callback off the hot path. */
const PROGRESS_EVERY_MS = 100;

/**
 * Per-step, per-chain optimisation curves, at the parameters the step's draw was made with: `elbo`
 * the one-draw ELBO estimate log p(w) − log q(w), unbiased with the minibatch in log p (log p
 * unnormalised: the ELBO is below log Z of exp(−nβ·L_n − γ‖w − w*‖²/2)); `grad_norm` before
 * clipping; `loss_batch` L_B(w); `log_q` log q(w);
 * `scale_geomean` the geometric mean of s/a (q's diagonal scale in model coordinates); `pi_entropy` H(π).
 */
export const CURVES = ['elbo', 'grad_norm', 'loss_batch', 'log_q', 'scale_geomean', 'pi_entropy'] as const;

export function reporter(progress: Progress | undefined) {
  let last = performance.now();
  return (phase: 'warmup' | 'sampling', done: number, total: number, llc?: number) => {
    const now = performance.now();
    // Each phase's first and last report always pass: they time the phase.
    if (progress && (now - last >= PROGRESS_EVERY_MS || done === 0 || done === total)) {
      last = now;
      progress({ phase, done, total, llc });
    }
  };
}

export function spread(xs: ArrayLike<number>): { min: number; median: number; max: number } {
  const sorted = Float64Array.from(xs).sort();
  const mid = sorted.length >> 1;
  return { min: sorted[0], median: sorted.length % 2 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]), max: sorted[sorted.length - 1] };
}

/** JSON has no Infinity or NaN: such values become null. */
export function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/**
 * Pruners for the tuning study (README, "Tuning"): the median stopping rule (Golovin et al. 2017, "Google
 * Vizier: a service for black-box optimization", automated early stopping; Optuna's MedianPruner)
 * and a pruner that never prunes. Minimisation.
 *
 * The median rule prunes a running trial at step s when all of these hold:
 *   - s ≥ n_warmup_steps (early reports are too noisy to judge);
 *   - at least n_startup_trials trials have completed (pruned and failed ones do not count);
 *   - the trial's best intermediate value over its steps ≤ s is worse (strictly greater) than the
 *     median, over completed trials, of each one's value at its latest reported step ≤ s.
 * Choices, and why:
 *   - The trial's best value so far, not its value at s (as Optuna): λ̂ running estimates are noisy,
 *     and a trial that has once been competitive should not be stopped by one bad report.
 *   - Completed trials contribute their value at the latest step ≤ s rather than at exactly s
 *     (Optuna uses exactly s), so trials that report on different schedules (evaluation every k
 *     draws, with k set by the hyperparameters being tuned) are still compared; a completed trial
 *     with no report at or before s contributes nothing. If no completed trial contributes, there
 *     is no evidence and the trial continues.
 *   - NaN reports are ignored in both places; a trial whose every report up to s is NaN (a diverged
 *     sampler) is pruned once the other conditions hold. A trial with no report up to s continues.
 *   - The median of an even count is the mean of the two middle values.
 */
import { z } from 'zod';
import type { TrialRecord } from './trial';

export const MedianPrunerConfig = z.strictObject({
  type: z.literal('median'),
  n_startup_trials: z.int().min(0).default(5),
  n_warmup_steps: z.int().min(0).default(0),
});
export type MedianPrunerConfig = z.infer<typeof MedianPrunerConfig>;

export const NopPrunerConfig = z.strictObject({ type: z.literal('none') });

export const PrunerConfig = z.discriminatedUnion('type', [MedianPrunerConfig, NopPrunerConfig]);
export type PrunerConfig = z.infer<typeof PrunerConfig>;

export interface Pruner {
  /** Whether `trial`, which has just reported at `step`, should stop; `history` is the study's other trials. */
  shouldPrune(history: readonly TrialRecord[], trial: TrialRecord, step: number): boolean;
}

export const nopPruner: Pruner = { shouldPrune: () => false };

export function createPruner(config: PrunerConfig): Pruner {
  return config.type === 'median' ? medianPruner(config) : nopPruner;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
}

/** A completed trial's value at its latest reported step ≤ s, or undefined when it has none there or it is NaN. */
function valueAtOrBefore(trial: TrialRecord, step: number): number | undefined {
  let latestStep = -Infinity;
  let value: number | undefined;
  for (const [s, v] of trial.intermediate ?? []) {
    if (s <= step && s > latestStep) {
      latestStep = s;
      value = v;
    }
  }
  return value === undefined || Number.isNaN(value) ? undefined : value;
}

export function medianPruner(config: Omit<MedianPrunerConfig, 'type'>): Pruner {
  return {
    shouldPrune(history, trial, step) {
      if (step < config.n_warmup_steps) return false;
      const completed = history.filter((t) => t.state === 'complete');
      if (completed.length === 0 || completed.length < config.n_startup_trials) return false;

      const reports = (trial.intermediate ?? []).filter(([s]) => s <= step).map(([, v]) => v);
      if (reports.length === 0) return false;
      const finite = reports.filter((v) => !Number.isNaN(v));
      if (finite.length === 0) return true;
      const best = Math.min(...finite);

      const peers = completed.map((t) => valueAtOrBefore(t, step)).filter((v): v is number => v !== undefined);
      if (peers.length === 0) return false;
      return best > median(peers);
    },
  };
}

/**
 * What the tuning algorithms (tpe.ts, pruner.ts) know of a study: its trials in the order they
 * were asked, each with its parameters, state, objective value and intermediate reports. They are
 * plain data so that samplers and pruners stay pure functions of (seed, history) and a resumed study
 * decides exactly as the uninterrupted one would have.
 */
import type { Params, SearchSpace } from './space';

/**
 * complete: finished with an objective value; pruned: stopped early by the pruner; failed: crashed
 * or produced no usable value (null); running: asked and in flight, value still unknown.
 */
export type TrialState = 'complete' | 'pruned' | 'failed' | 'running';

export interface TrialRecord {
  params: Params;
  /** The objective (lower is better) for complete trials; null otherwise. */
  value: number | null;
  state: TrialState;
  /** Intermediate objective values reported while running, as [step, value] with integer steps ≥ 0. */
  intermediate?: readonly (readonly [number, number])[];
}

/** The ask half of ask/tell: a deterministic function of the sampler's seed, the history and the new trial's number. */
export interface Sampler {
  /**
   * Parameters for trial `trialNumber`. `history` holds every other trial of the study, oldest
   * first (trials still running included, so the sampler can steer away from them); the trial
   * being asked is not in it.
   */
  suggest(space: SearchSpace, history: readonly TrialRecord[], trialNumber: number): Params;
}

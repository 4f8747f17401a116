import type { z } from 'zod';
import type { Posterior } from '../posterior';
import type { Key } from '../rng';
import type { MalaSummary } from './mala';

export interface Work {
  /** Per-chain data-gradient work in full-gradient equivalents (a minibatch step costs B/n). */
  fge_warmup: number;
  fge_sampling: number;
  /** Gradient evaluations, every chain counted (a minibatch gradient counts as one). */
  grad_evals: number;
  /** Full-data loss evaluations for recording L_n at each draw, every chain counted. */
  full_loss_evals: number;
}

export interface SamplerResult {
  chains: number;
  draws: number;
  /** L_n at every kept draw, chains × draws, row-major by chain. */
  Ln: Float64Array;
  /** Per-chain cumulative FGE at each draw, warm-up included. */
  fge: Float64Array;
  /** Seconds since the run started at each draw, warm-up included. */
  seconds: Float64Array;
  /** Further per-draw traces (chains × draws), e.g. acceptance rate or energy. */
  traces: Record<string, Float64Array>;
  work: Work;
  timing: { warmup_s: number; sampling_s: number };
  /** Sampler-specific results for analysis.json (adapted step size, acceptance rate, …). */
  diagnostics: Record<string, unknown>;
  /** Divergent transitions after warm-up, every chain counted, for samplers that detect them (HMC). */
  divergences?: { count: number; transitions: number };
  /**
   * Reasons the sampler itself found not to trust its estimate (VI: a loss far from quadratic over
   * q), one sentence each; they make the run's status `check`.
   */
  warnings?: string[];
  /** The MALA acceptance of the sampler's proposals, for samplers that check it (SGLD). */
  mala?: MalaSummary;
  /**
   * λ̂ per chain when the sampler estimates it other than as nβ·(mean L_n − L0) over its draws
   * (VI's control-variate estimate). The reported λ̂ is then the mean of these.
   */
  llcPerChain?: number[];
  /** Per-step optimisation curves (VI's ELBO, gradient norm, …), chains × steps, row-major by chain. */
  optimization?: { steps: number; curves: Record<string, Float64Array> };
}

export interface Progress {
  (event: { phase: 'warmup' | 'sampling'; done: number; total: number; llc?: number }): void;
}

/** One sampler: its option schema (strict; presets and overrides are validated with it) and a run function. */
export interface SamplerModule<S extends z.ZodType = z.ZodType> {
  options: S;
  /** Precision and chain count, read by the sample rule before it builds the kernel. */
  precision(options: z.infer<S>): { dtype: 'float32' | 'float64'; chains: number; maxBatch: number };
  run(posterior: Posterior, options: z.infer<S>, key: Key, progress?: Progress): SamplerResult;
}

/**
 * What the speed benchmarks share: the three model sizes, synthetic problems on any kernel, and the
 * samplers' own steps timed through the real sampler code.
 */
import type { KernelProblem, LossKernel } from '../packages/llc/src/kernels/types';
import { Dtype, initParams, MlpArch } from '../packages/llc/src/mlp';
import { fillNormal, fold, keyFromSeed } from '../packages/llc/src/rng';
import hmc from '../packages/llc/src/samplers/hmc';
import sgld from '../packages/llc/src/samplers/sgld';
import { Posterior } from '../packages/llc/src/posterior';

export const CHAINS = 4;
export const SGLD_BATCH = 256;

const relu = (in_dim: number, widths: number[]): MlpArch => ({ in_dim, out_dim: 1, widths, activation: 'relu', bias: true, layernorm: false, skip_connections: false, residual_period: 2 });

export interface Model {
  model: 'small' | 'base' | 'large';
  arch: MlpArch;
  n: number;
}

/** The model presets `small` and `base`, and a larger 64-256-256-1 network. */
export const MODELS: Model[] = [
  { model: 'small', arch: relu(4, [4, 4]), n: 100 },
  { model: 'base', arch: relu(32, [62, 62, 62]), n: 20000 },
  { model: 'large', arch: relu(64, [256, 256]), n: 20000 },
];

/** Random data (X, Y ~ N(0, 1)) and a random centre, as KernelProblem for `make`. */
export function syntheticProblem(m: Model, dtype: Dtype, maxBatch: number, make: (p: KernelProblem) => LossKernel): { posterior: Posterior; kernel: LossKernel } {
  const X = new Float64Array(m.n * m.arch.in_dim);
  const Y = new Float64Array(m.n);
  fillNormal(keyFromSeed(1), X);
  fillNormal(keyFromSeed(2), Y);
  const kernel = make({ arch: m.arch, X, Y, n: m.n, lossFn: { kind: 'mse', df: 0, scale: 0 }, dtype, chains: CHAINS, maxBatch });
  const posterior = new Posterior(kernel, initParams(m.arch, fold(keyFromSeed(3), 0)), { n: m.n, beta: 1 / Math.log(m.n), nBeta: m.n / Math.log(m.n), gamma: 1 });
  return { posterior, kernel };
}

/** Seconds per SGLD step (B = SGLD_BATCH per chain, no preconditioner, float32) over `steps` burn-in steps. */
export function timeSgld(p: Posterior, steps: number): number {
  const o = { steps: 1, warmup: steps, batch_size: SGLD_BATCH, step_size: 1e-7, precond: 'none' as const, beta1: 0.9, beta2: 0.999, eps: 1e-8, bias_correction: true, eval_every: 1, mala_every: 0, chains: CHAINS, dtype: p.dtype };
  return sgld.run(p, o, keyFromSeed(4)).timing.warmup_s / steps;
}

/** Seconds per HMC leapfrog step (one full-data gradient of every chain) over `steps` transitions. */
export function timeHmc(p: Posterior, steps: number): number {
  const o = { draws: steps, warmup: 0, num_integration_steps: 1, step_size: 1e-4, step_size_jitter: 0, adapt_step_size: false, adapt_mass_matrix: false, target_acceptance: 0.8, chains: CHAINS, dtype: p.dtype };
  return hmc.run(p, o, keyFromSeed(4)).timing.sampling_s / steps;
}

/**
 * Seconds per step of `time`, measured over at least `budget` seconds after a one-step probe that
 * warms the JIT and sizes the run (a probe over budget is the measurement).
 */
export function measure(time: (steps: number) => number, budget: number): { secondsPerStep: number; steps: number } {
  const probe = time(1);
  if (probe >= budget) return { secondsPerStep: probe, steps: 1 };
  const steps = Math.max(2, Math.ceil(budget / probe));
  return { secondsPerStep: time(steps), steps };
}

/** Multiply-adds of one gradient: 2 flops per parameter and row forward, 4 backward (dW and dH). */
export function gradientGflop(d: number, rows: number): number {
  return (6 * rows * d) / 1e9;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

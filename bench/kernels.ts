/**
 * Kernel speed: the samplers' steps on synthetic targets of three sizes, for each kernel backend
 * and thread count. Prints one JSON line per case.
 *
 *   npm run bench                  every case
 *   npm run bench -- quick         small and base models only
 *   npm run bench -- large         one model (small, base or large)
 *
 * What is timed is the sampler's own step (for SGLD: minibatch indices, the gradient of every
 * chain, the fused update with its noise; for HMC: a leapfrog step with full-batch gradients), run
 * through the real sampler code, over at least BUDGET_S seconds after a warm-up.
 */
import { cpus } from 'node:os';
import { createKernel, KernelChoice } from '../packages/llc/src/kernels';
import { relaxedSimdSupported } from '../packages/llc/src/kernels/wasm/kernel';
import { castTo, Dtype, initParams, layout, MlpArch } from '../packages/llc/src/mlp';
import { fillNormal, fold, keyFromSeed } from '../packages/llc/src/rng';
import hmc from '../packages/llc/src/samplers/hmc';
import sgld from '../packages/llc/src/samplers/sgld';
import type { SamplingProblem } from '../packages/llc/src/samplers/types';

const BUDGET_S = 3;
const CHAINS = 4;
const SGLD_BATCH = 256;
/** Per-core peak of this machine class (AVX2 + FMA, two 256-bit FMA units): see shared/NOTES.md. */
const PEAK_PER_CORE = { float32: 96, float64: 48 };

const relu = (in_dim: number, widths: number[]): MlpArch => ({ in_dim, out_dim: 1, widths, activation: 'relu', bias: true, layernorm: false, skip_connections: false, residual_period: 2 });
const MODELS = [
  { model: 'small', arch: relu(4, [4, 4]), n: 100 },
  { model: 'base', arch: relu(32, [62, 62, 62]), n: 20000 },
  { model: 'large', arch: relu(64, [256, 256]), n: 20000 },
];

interface Case {
  model: string;
  arch: MlpArch;
  n: number;
  sampler: 'sgld' | 'hmc';
  choice: KernelChoice;
}

function problem(c: Case, dtype: Dtype): SamplingProblem {
  const d = layout(c.arch).d;
  const X = new Float64Array(c.n * c.arch.in_dim);
  const Y = new Float64Array(c.n);
  fillNormal(keyFromSeed(1), X);
  fillNormal(keyFromSeed(2), Y);
  const kernel = createKernel(
    { arch: c.arch, X, Y, n: c.n, lossFn: { kind: 'mse', df: 0, scale: 0 }, dtype, chains: CHAINS, maxBatch: c.sampler === 'sgld' ? SGLD_BATCH : 0 },
    c.choice,
  );
  const center = kernel.array(d);
  center.set(castTo(dtype, initParams(c.arch, fold(keyFromSeed(3), 0))));
  return { kernel, center, temperature: { n: c.n, beta: 1 / Math.log(c.n), nBeta: c.n / Math.log(c.n), gamma: 1 }, L0: 0 };
}

/** Seconds per step from a run of `steps` steps, and the kernel's name. */
function timeSteps(c: Case, steps: number): { secondsPerStep: number; kernel: string } {
  const dtype: Dtype = c.sampler === 'sgld' ? 'float32' : 'float64';
  const p = problem(c, dtype);
  try {
    if (c.sampler === 'sgld') {
      const o = { steps: 1, warmup: steps, batch_size: SGLD_BATCH, step_size: 1e-7, precond: 'none' as const, beta1: 0.9, beta2: 0.999, eps: 1e-8, bias_correction: true, eval_every: 1, chains: CHAINS, dtype };
      return { secondsPerStep: sgld.run(p, o, keyFromSeed(4)).timing.warmup_s / steps, kernel: p.kernel.name };
    }
    const o = { draws: steps, warmup: 0, num_integration_steps: 1, step_size: 1e-4, step_size_jitter: 0, adapt_step_size: false, adapt_mass_matrix: false, target_acceptance: 0.8, chains: CHAINS, dtype };
    return { secondsPerStep: hmc.run(p, o, keyFromSeed(4)).timing.sampling_s / steps, kernel: p.kernel.name };
  } finally {
    p.kernel.dispose();
  }
}

function run(c: Case): void {
  // A one-step probe warms the JIT and sizes the measured run; a probe over budget is the measurement.
  const probe = timeSteps(c, 1);
  const steps = probe.secondsPerStep >= BUDGET_S ? 1 : Math.max(2, Math.ceil(BUDGET_S / probe.secondsPerStep));
  const { secondsPerStep, kernel } = steps === 1 ? probe : timeSteps(c, steps);
  const d = layout(c.arch).d;
  const rows = c.sampler === 'sgld' ? SGLD_BATCH : c.n;
  const dtype: Dtype = c.sampler === 'sgld' ? 'float32' : 'float64';
  // Every step evaluates one gradient per chain.
  const gradsPerSecond = CHAINS / secondsPerStep;
  // Multiply-adds of one gradient: 2 per parameter and row forward, 4 backward (dW and dH).
  const gflops = (gradsPerSecond * 6 * rows * d) / 1e9;
  console.log(
    JSON.stringify({
      bench: 'kernels',
      model: c.model,
      d,
      n: c.n,
      sampler: c.sampler,
      dtype,
      rows_per_gradient: rows,
      chains: CHAINS,
      backend: c.choice.backend,
      kernel,
      threads: c.choice.threads,
      steps,
      grad_evals_per_s: gradsPerSecond,
      gflops,
      peak_pct: (100 * gflops) / (PEAK_PER_CORE[dtype] * c.choice.threads),
    }),
  );
}

function main(): void {
  const args = process.argv.slice(2);
  const named = MODELS.filter((m) => args.includes(m.model));
  const models = named.length ? named : args.includes('quick') ? MODELS.slice(0, 2) : MODELS;
  const maxThreads = Math.min(2, cpus().length);
  const variants = relaxedSimdSupported() ? (['relaxed-simd', 'simd'] as const) : (['simd'] as const);
  for (const m of models) {
    for (const sampler of ['sgld', 'hmc'] as const) {
      const choices: KernelChoice[] = [{ backend: 'reference', threads: 1 }];
      for (const variant of variants) choices.push({ backend: 'wasm', threads: 1, variant });
      for (let t = 2; t <= maxThreads; t++) choices.push({ backend: 'wasm', threads: t, variant: variants[0] });
      for (const choice of choices) run({ ...m, sampler, choice });
    }
  }
}

main();

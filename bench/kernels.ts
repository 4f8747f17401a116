/**
 * Kernel speed: the samplers' steps on synthetic targets of three sizes, for each kernel (both
 * WebAssembly builds) and thread count. Prints one JSON line per case.
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
import { loadNativeAddon, native } from '../packages/llc/src/kernels/native';
import { reference } from '../packages/llc/src/kernels/reference';
import type { KernelProblem, LossKernel } from '../packages/llc/src/kernels/types';
import { WasmVariant } from '../packages/llc/src/kernels/wasm/build';
import { relaxedSimdSupported, wasmKernel } from '../packages/llc/src/kernels/wasm/kernel';
import { Dtype, layout } from '../packages/llc/src/mlp';
import { CHAINS, gradientGflop, measure, MODELS, SGLD_BATCH, syntheticProblem, timeHmc, timeSgld } from './support';

const BUDGET_S = 3;

interface Choice {
  threads: number;
  make(problem: KernelProblem): LossKernel;
}

function main(): void {
  const args = process.argv.slice(2);
  const named = MODELS.filter((m) => args.includes(m.model));
  const models = named.length ? named : args.includes('quick') ? MODELS.slice(0, 2) : MODELS;
  const maxThreads = Math.min(2, cpus().length);
  const variants: WasmVariant[] = relaxedSimdSupported() ? ['relaxed-simd', 'simd'] : ['simd'];
  const nativeOk = native.available({ named: true });
  if (!nativeOk.ok) console.log(JSON.stringify({ bench: 'kernels', missing: `the native kernel: ${nativeOk.reason}` }));
  const loaded = loadNativeAddon();
  // The per-core peak against which to read the figures, measured here rather than assumed.
  const avx2Peak = 'addon' in loaded ? loaded.addon.avx2PeakF32(1) : null;
  const peak = { float32: avx2Peak, float64: avx2Peak && avx2Peak / 2 };
  console.log(JSON.stringify({ bench: 'kernels', avx2_peak_gflops_per_core: peak }));

  const choices: Choice[] = [{ threads: 1, make: (p) => reference.create(p, { threads: 1 }) }];
  for (let threads = 1; threads <= maxThreads; threads++) {
    for (const variant of threads === 1 ? variants : variants.slice(0, 1)) choices.push({ threads, make: (p) => wasmKernel(p, threads, variant) });
    if (nativeOk.ok) choices.push({ threads, make: (p) => native.create(p, { threads }) });
  }
  for (const m of models) {
    const d = layout(m.arch).d;
    for (const sampler of ['sgld', 'hmc'] as const) {
      const dtype: Dtype = sampler === 'sgld' ? 'float32' : 'float64';
      const rows = sampler === 'sgld' ? SGLD_BATCH : m.n;
      for (const choice of choices) {
        const p = syntheticProblem(m, dtype, sampler === 'sgld' ? SGLD_BATCH : 0, choice.make);
        try {
          const { secondsPerStep, steps } = measure((k) => (sampler === 'sgld' ? timeSgld(p.posterior, k) : timeHmc(p.posterior, k)), BUDGET_S);
          // Every step evaluates one gradient per chain.
          const gradsPerSecond = CHAINS / secondsPerStep;
          const gflops = gradsPerSecond * gradientGflop(d, rows);
          const perCore = peak[dtype];
          console.log(
            JSON.stringify({
              bench: 'kernels',
              model: m.model,
              d,
              n: m.n,
              sampler,
              dtype,
              rows_per_gradient: rows,
              chains: CHAINS,
              kernel: p.kernel.name,
              threads: choice.threads,
              steps,
              grad_evals_per_s: gradsPerSecond,
              gflops,
              avx2_peak_pct: perCore ? (100 * gflops) / (perCore * choice.threads) : null,
            }),
          );
        } finally {
          p.kernel.dispose();
        }
      }
    }
  }
}

main();

/**
 * Kernel speed: the samplers' steps on synthetic targets of three sizes, for each kernel (both
 * WebAssembly builds, native, and WebGPU where there is an adapter) and thread count, and the same
 * MLP gradient in gpu.js for comparison. Prints one JSON line per case.
 *
 *   npm run bench                  every case
 *   npm run bench -- quick         small and base models only
 *   npm run bench -- large         one model (small, base or large)
 *
 * What is timed is the sampler's own step (for SGLD: minibatch indices, the gradient of every
 * chain, the fused update with its noise; for HMC: a leapfrog step with full-batch gradients), run
 * through the real sampler code, over at least BUDGET_S seconds after a warm-up. On a software
 * WebGPU adapter (lavapipe) the WebGPU and gpu.js-webgpu figures compare with each other only: that
 * adapter computes on the CPU and is no measure of a GPU.
 */
import { cpus } from 'node:os';
import { loadNativeAddon, native } from '../packages/llc/src/kernels/native';
import { reference } from '../packages/llc/src/kernels/reference';
import type { KernelProblem, LossKernel } from '../packages/llc/src/kernels/types';
import { WasmVariant } from '../packages/llc/src/kernels/wasm/build';
import { relaxedSimdSupported, wasmKernel } from '../packages/llc/src/kernels/wasm/kernel';
import { webgpu } from '../packages/llc/src/kernels/webgpu';
import { gpu } from '../packages/llc/src/kernels/webgpu/device';
import { adapterName } from '../packages/llc/src/kernels/webgpu/kernel';
import { Dtype, layout } from '../packages/llc/src/mlp';
import { exposeWebGpu, gpujsGradient, GpujsMode } from './gpujs';
import { CHAINS, gradientGflop, measure, Model, MODELS, SGLD_BATCH, syntheticProblem, timeHmc, timeSgld } from './support';

const BUDGET_S = 3;

interface Choice {
  threads: number;
  /** float64 work on a float32-only kernel is measured in float32. */
  float32Only?: boolean;
  make(problem: KernelProblem): LossKernel;
}

const emit = (line: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'kernels', ...line }));

async function timeGpujs(mode: GpujsMode, m: Model): Promise<number> {
  const step = gpujsGradient(mode, m.arch, SGLD_BATCH);
  await step();
  let steps = 0;
  const start = performance.now();
  do {
    await step();
    steps++;
  } while (performance.now() - start < BUDGET_S * 1000);
  return (performance.now() - start) / 1000 / steps;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const named = MODELS.filter((m) => args.includes(m.model));
  const models = named.length ? named : args.includes('quick') ? MODELS.slice(0, 2) : MODELS;
  const maxThreads = Math.min(2, cpus().length);
  const variants: WasmVariant[] = relaxedSimdSupported() ? ['relaxed-simd', 'simd'] : ['simd'];
  const nativeOk = native.available({ named: true });
  if (!nativeOk.ok) emit({ missing: `the native kernel: ${nativeOk.reason}` });
  const g = gpu();
  if (g.ok) emit({ webgpu_adapter: adapterName(g.adapter), software: g.adapter.software, note: g.adapter.software ? 'a software adapter: WebGPU figures compare with each other only' : 'a hardware adapter' });
  else emit({ missing: `the webgpu kernel: ${g.reason}` });
  const loaded = loadNativeAddon();
  // The per-core peak against which to read the figures, measured here rather than assumed.
  const avx2Peak = 'addon' in loaded ? loaded.addon.avx2PeakF32(1) : null;
  const peak = { float32: avx2Peak, float64: avx2Peak && avx2Peak / 2 };
  emit({ avx2_peak_gflops_per_core: peak });

  const choices: Choice[] = [{ threads: 1, make: (p) => reference.create(p, { threads: 1 }) }];
  for (let threads = 1; threads <= maxThreads; threads++) {
    for (const variant of threads === 1 ? variants : variants.slice(0, 1)) choices.push({ threads, make: (p) => wasmKernel(p, threads, variant) });
    if (nativeOk.ok) choices.push({ threads, make: (p) => native.create(p, { threads }) });
  }
  if (g.ok) choices.push({ threads: 1, float32Only: true, make: (p) => webgpu.create(p, { threads: 1 }) });
  for (const m of models) {
    const d = layout(m.arch).d;
    for (const sampler of ['sgld', 'hmc'] as const) {
      const rows = sampler === 'sgld' ? SGLD_BATCH : m.n;
      for (const choice of choices) {
        const dtype: Dtype = sampler === 'sgld' || choice.float32Only ? 'float32' : 'float64';
        const p = syntheticProblem(m, dtype, sampler === 'sgld' ? SGLD_BATCH : 0, choice.make);
        try {
          const { secondsPerStep, steps } = measure((k) => (sampler === 'sgld' ? timeSgld(p.posterior, k) : timeHmc(p.posterior, k)), BUDGET_S);
          // Every step evaluates one gradient per chain.
          const gradsPerSecond = CHAINS / secondsPerStep;
          const gflops = gradsPerSecond * gradientGflop(d, rows);
          const perCore = peak[dtype];
          emit({
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
            avx2_peak_pct: perCore && !choice.float32Only ? (100 * gflops) / (perCore * choice.threads) : null,
          });
        } finally {
          p.kernel.dispose();
        }
      }
    }
    // gpu.js: one chain's gradient on a minibatch, the work of one SGLD chain-step without the update.
    const modes: GpujsMode[] = ['cpu'];
    if (g.ok) {
      exposeWebGpu();
      modes.push('webgpu');
    }
    for (const mode of modes) {
      const secondsPerGradient = await timeGpujs(mode, m);
      emit({
        model: m.model,
        d,
        n: m.n,
        sampler: 'gradient',
        dtype: 'float32',
        rows_per_gradient: SGLD_BATCH,
        chains: 1,
        kernel: `gpu.js-${mode}`,
        threads: 1,
        grad_evals_per_s: 1 / secondsPerGradient,
        gflops: gradientGflop(d, SGLD_BATCH) / secondsPerGradient,
        avx2_peak_pct: peak.float32 ? (100 * gradientGflop(d, SGLD_BATCH)) / secondsPerGradient / peak.float32 : null,
      });
    }
  }
  process.exit(0);
}

void main();

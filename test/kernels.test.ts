/**
 * The fast kernels (WebAssembly in both builds, plain SIMD and relaxed-SIMD FMA; native C++ with
 * OpenBLAS; WGSL on a WebGPU adapter, here Mesa's software one) against the plain TypeScript
 * float64 oracle: loss and gradient for every architecture feature and loss, in each kernel's
 * precisions, minibatch and multi-block full-data passes; results independent of the thread count;
 * the fused SGLD step, and the GPU's fused multi-step SGLD; the normal streams the SGLD noise comes
 * from; the native addon in worker threads.
 *
 * Without the native addon (no C++ toolchain or OpenBLAS when npm install ran) or a WebGPU adapter
 * their cases are skipped with a warning, unless LAMBDA_HAT_REQUIRE_NATIVE=1 or
 * LAMBDA_HAT_REQUIRE_WEBGPU=1 (CI sets both), which turn that into a failure.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { loadNativeAddon, native } from '../packages/llc/src/kernels/native';
import { webgpu } from '../packages/llc/src/kernels/webgpu';
import { referenceKernel } from '../packages/llc/src/kernels/reference';
import type { KernelProblem, LossKernel } from '../packages/llc/src/kernels/types';
import { wasmBinary, WasmVariant } from '../packages/llc/src/kernels/wasm/build';
import { relaxedSimdSupported, wasmKernel } from '../packages/llc/src/kernels/wasm/kernel';
import { instantiate } from '../packages/llc/src/kernels/wasm/pool';
import { castTo, Dtype, FloatArray, initParams, layout, LossFn, MlpArch } from '../packages/llc/src/mlp';
import { Posterior } from '../packages/llc/src/posterior';
import { fillNormal, fold, keyFromSeed } from '../packages/llc/src/rng';
import { REQUIRE_WEBGPU, useSoftwareVulkan } from './support/software-vulkan';
import { REPO } from './support/workspace';

const base: MlpArch = { in_dim: 5, out_dim: 2, widths: [16, 12], activation: 'tanh', bias: true, layernorm: false, skip_connections: false, residual_period: 2 };
const ARCHS: [string, MlpArch][] = [
  ['tanh', base],
  ['relu', { ...base, activation: 'relu' }],
  ['gelu without bias', { ...base, activation: 'gelu', bias: false }],
  ['layernorm and skip connections', { ...base, widths: [16, 16, 16], layernorm: true, skip_connections: true, residual_period: 1 }],
  ['linear regression', { ...base, widths: [], activation: 'identity', out_dim: 1 }],
];
const MSE: LossFn = { kind: 'mse', df: 0, scale: 0 };
const STUDENT: LossFn = { kind: 't_regression', df: 4, scale: 0.3 };
const N = 2500; // three full-data blocks of 1024 rows
const BATCH = 300; // two minibatch blocks of 256 rows in the WebAssembly kernel
const CHAINS = 3;
const TOLERANCE: Record<Dtype, number> = { float32: 1e-5, float64: 1e-12 };
/** GPU arithmetic (its own tanh, exp and log, fused multiply-adds, float32 sums) is held to a looser bar. */
const GPU_TOLERANCE: Record<Dtype, number> = { float32: 1e-4, float64: 0 };

const VARIANTS: WasmVariant[] = relaxedSimdSupported() ? ['simd', 'relaxed-simd'] : ['simd'];
if (VARIANTS.length === 1) console.warn('\n*** relaxed SIMD is not available in this runtime: only the plain SIMD build is tested ***\n');

const nativeAvailable = native.available({ named: true });
const REQUIRE_NATIVE = process.env.LAMBDA_HAT_REQUIRE_NATIVE === '1';
if (!nativeAvailable.ok) console.warn(`\n*** the native kernel is not available, its tests are skipped: ${nativeAvailable.reason} ***\n`);

const webgpuAvailable = useSoftwareVulkan();

interface Candidate {
  label: string;
  precisions: readonly Dtype[];
  tolerance: Record<Dtype, number>;
  /** Whether LAMBDA_HAT_THREADS means anything to it. */
  threaded: boolean;
  make(problem: KernelProblem, threads: number): LossKernel;
}
const BOTH = ['float32', 'float64'] as const;
const CANDIDATES: Candidate[] = [
  ...VARIANTS.map((variant) => ({ label: `wasm ${variant}`, precisions: BOTH, tolerance: TOLERANCE, threaded: true, make: (p: KernelProblem, threads: number) => wasmKernel(p, threads, variant) })),
  ...(nativeAvailable.ok ? [{ label: 'native', precisions: BOTH, tolerance: TOLERANCE, threaded: true, make: (p: KernelProblem, threads: number) => native.create(p, { threads }) }] : []),
  ...(webgpuAvailable.ok ? [{ label: 'webgpu', precisions: webgpu.precisions, tolerance: GPU_TOLERANCE, threaded: false, make: (p: KernelProblem) => webgpu.create(p, { threads: 1 }) }] : []),
];

it('the native and WebGPU kernels are available where they are required', () => {
  if (REQUIRE_NATIVE) expect(nativeAvailable).toEqual({ ok: true });
  if (REQUIRE_WEBGPU) expect(webgpuAvailable).toEqual({ ok: true });
});

function setup(arch: MlpArch, lossFn: LossFn, dtype: Dtype, make: Candidate['make'] | 'reference', threads = 1) {
  const d = layout(arch).d;
  const X = new Float64Array(N * arch.in_dim);
  const Y = new Float64Array(N * arch.out_dim);
  fillNormal(keyFromSeed(1), X);
  fillNormal(keyFromSeed(2), Y);
  // The oracle sees exactly the numbers the float32 kernel sees.
  const problem = { arch, X: castTo(dtype, X), Y: castTo(dtype, Y), n: N, lossFn, dtype, chains: CHAINS, maxBatch: BATCH };
  const kernel = make === 'reference' ? referenceKernel({ ...problem, dtype: 'float64' }) : make(problem, threads);
  const theta = new Float64Array(CHAINS * d);
  for (let c = 0; c < CHAINS; c++) theta.set(initParams(arch, fold(keyFromSeed(3), c), new Float64Array(d)), c * d);
  const positions = kernel.array(CHAINS * d);
  positions.set(castTo(dtype, theta));
  return { kernel, d, positions };
}

const rows = Int32Array.from({ length: CHAINS * BATCH }, (_, i) => (i * 7919 + 13) % N);

function evaluate(kernel: LossKernel, positions: FloatArray, minibatch: boolean) {
  const grad = kernel.array(positions.length);
  const loss = new Float64Array(CHAINS);
  kernel.lossGrad(positions, minibatch ? rows : null, BATCH, grad, loss);
  const lossOnly = new Float64Array(CHAINS);
  if (!minibatch) kernel.loss(positions, lossOnly);
  return { grad: Float64Array.from(grad), loss, lossOnly };
}

function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

const sameBits = (a: FloatArray, b: FloatArray) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('fast kernels agree with the TypeScript oracle', () => {
  for (const { label, make, precisions, tolerance } of CANDIDATES) {
    for (const [name, arch] of ARCHS) {
      for (const lossFn of [MSE, STUDENT]) {
        for (const dtype of precisions) {
          it(`${label}, ${name}, ${lossFn.kind}, ${dtype}`, () => {
            const fast = setup(arch, lossFn, dtype, make);
            const ref = setup(arch, lossFn, dtype, 'reference');
            ref.positions.set(fast.positions);
            try {
              for (const minibatch of [true, false]) {
                const got = evaluate(fast.kernel, fast.positions, minibatch);
                const want = evaluate(ref.kernel, ref.positions, minibatch);
                expect(relativeError(got.grad, want.grad), `gradient, minibatch ${minibatch}`).toBeLessThan(tolerance[dtype]);
                expect(relativeError(got.loss, want.loss), `loss, minibatch ${minibatch}`).toBeLessThan(tolerance[dtype]);
                if (!minibatch) expect(relativeError(got.lossOnly, want.loss)).toBeLessThan(tolerance[dtype]);
              }
            } finally {
              fast.kernel.dispose();
            }
          });
        }
      }
    }
  }
});

describe('threads', () => {
  for (const { label, make } of CANDIDATES.filter((c) => c.threaded)) {
    it(`${label}: two threads give bit-identical results to one (passes and the fused SGLD step)`, () => {
      const arch: MlpArch = { ...base, in_dim: 32, widths: [96, 96] };
      for (const dtype of ['float32', 'float64'] as const) {
        const results = [1, 2].map((threads) => {
          const { kernel, positions, d } = setup(arch, MSE, dtype, make, threads);
          try {
            expect(kernel.threads).toBe(threads);
            const full = evaluate(kernel, positions, false);
            const mini = evaluate(kernel, positions, true);
            const arrays = { w: positions, grad: kernel.array(CHAINS * d), m: kernel.array(CHAINS * d), v: kernel.array(CHAINS * d).fill(1), center: kernel.array(d) };
            kernel.sgldStep(arrays, rows.subarray(0, CHAINS * 200), 200, new Float64Array(CHAINS), sgldSettings(2));
            return [full.grad, full.loss, mini.grad, Float64Array.from(positions), Float64Array.from(arrays.v)];
          } finally {
            kernel.dispose();
          }
        });
        results[0].forEach((a, i) => expect(sameBits(a, results[1][i]), `${dtype} result ${i}`).toBe(true));
      }
    });
  }
});

function sgldSettings(precond: 0 | 1 | 2) {
  return { stepSize: 1e-3, nBeta: 40, gamma: 2, precond, beta1: 0.9, beta2: 0.99, eps: 1e-8, bias1: 0.1, bias2: 0.01, noiseKey: fold(keyFromSeed(8), 1) };
}

describe('the fused SGLD step', () => {
  for (const { label, make, precisions, tolerance } of CANDIDATES) {
    for (const dtype of precisions) {
      for (const precond of [0, 1, 2] as const) {
        it(`${label} matches the oracle: ${dtype}, preconditioner ${['none', 'rmsprop', 'adam'][precond]}`, () => {
          const arch: MlpArch = { ...base, activation: 'relu' };
          const state = (s: ReturnType<typeof setup>) => ({
            w: s.positions,
            grad: s.kernel.array(CHAINS * s.d),
            m: s.kernel.array(CHAINS * s.d).fill(0.01),
            v: s.kernel.array(CHAINS * s.d).fill(0.5),
            center: Float64Array.from(s.positions.subarray(0, s.d)),
          });
          const fast = setup(arch, MSE, dtype, make);
          const ref = setup(arch, MSE, dtype, 'reference');
          ref.positions.set(fast.positions);
          try {
            const a = state(fast);
            const b = state(ref);
            const lossA = new Float64Array(CHAINS);
            const lossB = new Float64Array(CHAINS);
            fast.kernel.sgldStep(a, rows, BATCH, lossA, sgldSettings(precond));
            ref.kernel.sgldStep(b, rows, BATCH, lossB, sgldSettings(precond));
            expect(relativeError(a.w, b.w)).toBeLessThan(tolerance[dtype]);
            expect(relativeError(a.v, b.v)).toBeLessThan(tolerance[dtype]);
            expect(relativeError(a.m, b.m)).toBeLessThan(tolerance[dtype]);
            expect(relativeError(lossA, lossB)).toBeLessThan(tolerance[dtype]);
          } finally {
            fast.kernel.dispose();
          }
        });
      }
    }
  }
});

describe('normal streams', () => {
  const memory = new WebAssembly.Memory({ initial: 40, maximum: 65536, shared: true });
  const wasm = instantiate(new WebAssembly.Module(readFileSync(wasmBinary('simd'))), memory);
  const key = fold(keyFromSeed(9), 3);
  const exact = new Float64Array(20001);
  fillNormal(key, exact);
  const wasmF32 = (start: number, count: number) => {
    const at = 131072;
    wasm.normalsF32(key.hi, key.lo, BigInt(start), count, at);
    return Float32Array.from(new Float32Array(memory.buffer, at, count));
  };

  it('the WebAssembly float64 stream is the JavaScript stream', () => {
    for (let i = 0; i < 3000; i++) expect(Math.abs((wasm.normalAt(key.hi, key.lo, BigInt(i)) as number) - exact[i])).toBeLessThan(1e-14);
  });

  it('the vectorised WebAssembly float32 stream is within 2e-6 of it, whatever slice is asked for', () => {
    const whole = wasmF32(0, 20001);
    for (let i = 0; i < whole.length; i++) expect(Math.abs(whole[i] - exact[i])).toBeLessThan(2e-6);
    for (const [start, count] of [[3, 17], [8, 8], [9997, 1234], [20000, 1]]) expect(wasmF32(start, count)).toEqual(whole.subarray(start, start + count));
  });

  it.skipIf(!nativeAvailable.ok)('the native float64 stream is the JavaScript stream, and its float32 stream the WebAssembly one, bit for bit', () => {
    const loaded = loadNativeAddon();
    if (!('addon' in loaded)) throw new Error(loaded.reason);
    const { addon } = loaded;
    const f64 = new Float64Array(exact.length);
    addon.normals(key.hi, key.lo, 0, f64);
    for (let i = 0; i < exact.length; i++) expect(Math.abs(f64[i] - exact[i]), `element ${i}`).toBeLessThan(1e-14);
    for (const [start, count] of [[0, 20001], [3, 17], [8, 8], [9997, 1234], [20000, 1]]) {
      const f32 = new Float32Array(count);
      addon.normals(key.hi, key.lo, start, f32);
      expect(sameBits(f32, wasmF32(start, count)), `slice ${start}+${count}`).toBe(true);
    }
  });
});

describe('arrays the kernel does not own', () => {
  for (const { label, make, precisions } of CANDIDATES) {
    it(`${label}: give the same results, copied in and out`, () => {
      for (const dtype of precisions) {
        const { kernel, positions } = setup(base, MSE, dtype, make);
        try {
          const owned = evaluate(kernel, positions, true);
          const foreign = Float64Array.from(positions);
          const grad = new Float64Array(foreign.length);
          const loss = new Float64Array(CHAINS);
          kernel.lossGrad(foreign, rows, BATCH, grad, loss);
          expect(grad).toEqual(owned.grad);
          expect(loss).toEqual(owned.loss);
        } finally {
          kernel.dispose();
        }
      }
    });
  }
});

it.skipIf(!nativeAvailable.ok)('the native addon runs in worker threads, two at once, with the results of the main thread', async () => {
  const arch: MlpArch = { ...base, in_dim: 32, widths: [64, 64] };
  const { kernel, positions } = setup(arch, MSE, 'float32', CANDIDATES.find((c) => c.label === 'native')!.make);
  const want = evaluate(kernel, positions, false);
  const script = `
    const { parentPort, workerData } = require('node:worker_threads');
    require(${JSON.stringify(require.resolve('@swc-node/register'))});
    const { native } = require(${JSON.stringify(join(REPO, 'packages/llc/src/kernels/native/index.ts'))});
    const { arch, X, Y, n, positions, rows, batch, chains } = workerData;
    const kernel = native.create({ arch, X, Y, n, lossFn: { kind: 'mse', df: 0, scale: 0 }, dtype: 'float32', chains, maxBatch: batch }, { threads: 1 });
    const grad = new Float32Array(positions.length);
    const loss = new Float64Array(chains);
    for (let i = 0; i < 20; i++) kernel.lossGrad(positions, null, batch, grad, loss);
    parentPort.postMessage({ grad, loss });`;
  const X = new Float64Array(N * arch.in_dim);
  const Y = new Float64Array(N * arch.out_dim);
  fillNormal(keyFromSeed(1), X);
  fillNormal(keyFromSeed(2), Y);
  const data = { arch, X: castTo('float32', X), Y: castTo('float32', Y), n: N, positions: Float32Array.from(positions), rows, batch: BATCH, chains: CHAINS };
  const results = await Promise.all(
    [0, 1].map(
      () =>
        new Promise<{ grad: Float32Array; loss: Float64Array }>((resolve, reject) => {
          const worker = new Worker(script, { eval: true, workerData: data });
          worker.once('message', (m) => {
            resolve(m);
            void worker.terminate();
          });
          worker.once('error', reject);
        }),
    ),
  );
  for (const r of results) {
    expect(sameBits(Float64Array.from(r.grad), want.grad)).toBe(true);
    expect(r.loss).toEqual(want.loss);
  }
});

describe.skipIf(!webgpuAvailable.ok)('the WebGPU kernel', () => {
  const make = (p: KernelProblem) => webgpu.create(p, { threads: 1 });
  const arch: MlpArch = { ...base, activation: 'relu' };
  const settings = (t: number, precond: 0 | 1 | 2) => ({ ...sgldSettings(precond), bias1: 1 - 0.9 ** t, bias2: 1 - 0.99 ** t, noiseKey: fold(keyFromSeed(8), t) });
  const steps = 40;
  const manyRows = Int32Array.from({ length: steps * CHAINS * BATCH }, (_, i) => (i * 104729 + 7) % N);

  /** 40 SGLD steps with the Adam preconditioner: one fused call on the GPU, or one call per step. */
  function run(kernel: LossKernel, positions: FloatArray, d: number, fused: boolean) {
    const arrays = { w: positions, grad: kernel.array(CHAINS * d), m: kernel.array(CHAINS * d), v: kernel.array(CHAINS * d).fill(1), center: Float64Array.from(positions.subarray(0, d)) };
    const loss = new Float64Array(CHAINS);
    const all = Array.from({ length: steps }, (_, t) => settings(t + 1, 2));
    if (fused) kernel.sgldSteps!(arrays, manyRows, BATCH, loss, all);
    else all.forEach((s, t) => kernel.sgldStep(arrays, manyRows.subarray(t * CHAINS * BATCH, (t + 1) * CHAINS * BATCH), BATCH, loss, s));
    return { w: Float64Array.from(arrays.w), m: Float64Array.from(arrays.m), v: Float64Array.from(arrays.v), loss };
  }

  it('runs 40 fused SGLD steps in one submission as the oracle runs them one by one', () => {
    const gpu = setup(arch, MSE, 'float32', make);
    const ref = setup(arch, MSE, 'float32', 'reference');
    ref.positions.set(gpu.positions);
    try {
      const a = run(gpu.kernel, gpu.positions, gpu.d, true);
      const b = run(ref.kernel, ref.positions, ref.d, false);
      for (const key of ['w', 'm', 'v', 'loss'] as const) expect(relativeError(a[key], b[key]), key).toBeLessThan(GPU_TOLERANCE.float32);
    } finally {
      gpu.kernel.dispose();
    }
  });

  it('gives the same bits when run again on the same adapter', () => {
    const results = [0, 1].map(() => {
      const { kernel, positions, d } = setup(arch, MSE, 'float32', make);
      try {
        const full = evaluate(kernel, positions, false);
        return [full.grad, full.loss, ...Object.values(run(kernel, positions, d, true))];
      } finally {
        kernel.dispose();
      }
    });
    results[0].forEach((x, i) => expect(sameBits(x, results[1][i]), `result ${i}`).toBe(true));
  });

  it('draws the SGLD noise from the project stream: within 2e-6 of the exact normals', () => {
    // With nβ = γ = 0 and ε = 1 the update from w = 0 is w ← ξ.
    const { kernel, d } = setup(arch, MSE, 'float32', make);
    try {
      const w = kernel.array(CHAINS * d);
      const arrays = { w, grad: kernel.array(CHAINS * d), m: kernel.array(CHAINS * d), v: kernel.array(CHAINS * d), center: kernel.array(d) };
      const noiseKey = fold(keyFromSeed(9), 3);
      kernel.sgldStep(arrays, rows, BATCH, new Float64Array(CHAINS), { ...sgldSettings(0), stepSize: 1, nBeta: 0, gamma: 0, noiseKey });
      const exact = new Float64Array(CHAINS * d);
      fillNormal(noiseKey, exact);
      let worst = 0;
      for (let i = 0; i < exact.length; i++) worst = Math.max(worst, Math.abs(w[i] - exact[i]));
      expect(worst).toBeLessThan(2e-6);
    } finally {
      kernel.dispose();
    }
  });

  it('runs a 10-step leapfrog trajectory in one submission as the Posterior runs it on the oracle', () => {
    const temperature = { n: N, beta: 0.01, nBeta: 25, gamma: 2 };
    const run = (kernel: LossKernel, start: FloatArray) => {
      const d = kernel.d;
      const posterior = new Posterior(kernel, Float64Array.from(start.subarray(0, d)), temperature);
      const q = posterior.array(CHAINS * d);
      q.set(start);
      for (let i = 0; i < q.length; i++) q[i] += 0.01 * Math.sin(i);
      const p = posterior.array(CHAINS * d);
      for (let i = 0; i < p.length; i++) p[i] = Math.cos(3 * i);
      const state = { q, p, grad: posterior.array(CHAINS * d), loss: new Float64Array(CHAINS), potential: new Float64Array(CHAINS) };
      posterior.gradient(q, state.grad, state.loss, state.potential);
      const invMass = Float64Array.from({ length: CHAINS * d }, (_, i) => 0.5 + (i % 7) / 7);
      posterior.leapfrog(state, invMass, Float64Array.from([1e-3, 2e-3, 5e-4]), 10);
      return state;
    };
    const gpu = setup(arch, MSE, 'float32', make);
    const ref = setup(arch, MSE, 'float32', 'reference');
    ref.positions.set(gpu.positions);
    try {
      const a = run(gpu.kernel, gpu.positions);
      const b = run(ref.kernel, ref.positions);
      for (const key of ['q', 'p', 'grad', 'loss', 'potential'] as const) expect(relativeError(a[key], b[key]), key).toBeLessThan(GPU_TOLERANCE.float32);
    } finally {
      gpu.kernel.dispose();
    }
  });

  it('computes float32 only: a float64 problem is refused', () => {
    expect(() => webgpu.create({ arch, X: new Float64Array(N * arch.in_dim), Y: new Float64Array(N * arch.out_dim), n: N, lossFn: MSE, dtype: 'float64', chains: 1, maxBatch: 0 }, { threads: 1 })).toThrow(/float32 only/);
  });
});

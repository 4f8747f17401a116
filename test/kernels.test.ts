/**
 * The WebAssembly kernels against the plain TypeScript float64 oracle: loss and gradient for every
 * architecture feature and loss, in float32 and float64, for both builds (plain SIMD and relaxed-SIMD
 * FMA), minibatch and multi-block full-data passes; results independent of the thread count; the
 * fused SGLD step; and the normal streams the SGLD noise comes from.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createKernel } from '../packages/llc/src/kernels';
import type { LossKernel } from '../packages/llc/src/kernels/types';
import { wasmBinary, WasmVariant } from '../packages/llc/src/kernels/wasm/build';
import { relaxedSimdSupported } from '../packages/llc/src/kernels/wasm/kernel';
import { instantiate } from '../packages/llc/src/kernels/wasm/pool';
import { castTo, Dtype, FloatArray, initParams, layout, LossFn, MlpArch } from '../packages/llc/src/mlp';
import { fillNormal, fold, keyFromSeed } from '../packages/llc/src/rng';

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
const BATCH = 300; // two minibatch blocks of 256 rows
const CHAINS = 3;
const TOLERANCE: Record<Dtype, number> = { float32: 1e-5, float64: 1e-12 };

const VARIANTS: WasmVariant[] = relaxedSimdSupported() ? ['simd', 'relaxed-simd'] : ['simd'];
if (VARIANTS.length === 1) console.warn('\n*** relaxed SIMD is not available in this runtime: only the plain SIMD build is tested ***\n');

function setup(arch: MlpArch, lossFn: LossFn, dtype: Dtype, backend: 'wasm' | 'reference', threads = 1, variant?: WasmVariant) {
  const d = layout(arch).d;
  const X = new Float64Array(N * arch.in_dim);
  const Y = new Float64Array(N * arch.out_dim);
  fillNormal(keyFromSeed(1), X);
  fillNormal(keyFromSeed(2), Y);
  // The oracle sees exactly the numbers the float32 kernel sees.
  const Xd = castTo(dtype, X);
  const Yd = castTo(dtype, Y);
  const kernel = createKernel(
    { arch, X: Xd, Y: Yd, n: N, lossFn, dtype: backend === 'reference' ? 'float64' : dtype, chains: CHAINS, maxBatch: BATCH },
    { backend, threads, variant },
  );
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

describe('WebAssembly kernels agree with the TypeScript oracle', () => {
  for (const variant of VARIANTS) {
    for (const [name, arch] of ARCHS) {
      for (const lossFn of [MSE, STUDENT]) {
        for (const dtype of ['float32', 'float64'] as const) {
          it(`${variant}, ${name}, ${lossFn.kind}, ${dtype}`, () => {
            const wasm = setup(arch, lossFn, dtype, 'wasm', 1, variant);
            const ref = setup(arch, lossFn, dtype, 'reference');
            ref.positions.set(wasm.positions);
            try {
              for (const minibatch of [true, false]) {
                const got = evaluate(wasm.kernel, wasm.positions, minibatch);
                const want = evaluate(ref.kernel, ref.positions, minibatch);
                expect(relativeError(got.grad, want.grad), `gradient, minibatch ${minibatch}`).toBeLessThan(TOLERANCE[dtype]);
                expect(relativeError(got.loss, want.loss), `loss, minibatch ${minibatch}`).toBeLessThan(TOLERANCE[dtype]);
                if (!minibatch) expect(relativeError(got.lossOnly, want.loss)).toBeLessThan(TOLERANCE[dtype]);
              }
            } finally {
              wasm.kernel.dispose();
            }
          });
        }
      }
    }
  }
});

describe('threads', () => {
  it('give bit-identical results to one thread (passes and the fused SGLD step)', () => {
    const arch: MlpArch = { ...base, in_dim: 32, widths: [96, 96] };
    for (const dtype of ['float32', 'float64'] as const) {
      const results = [1, 2].map((threads) => {
        const { kernel, positions, d } = setup(arch, MSE, dtype, 'wasm', threads);
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
      results[0].forEach((a, i) => expect(Buffer.from(a.buffer).equals(Buffer.from(results[1][i].buffer)), `${dtype} result ${i}`).toBe(true));
    }
  });
});

function sgldSettings(precond: 0 | 1 | 2) {
  return { stepSize: 1e-3, nBeta: 40, gamma: 2, precond, beta1: 0.9, beta2: 0.99, eps: 1e-8, bias1: 0.1, bias2: 0.01, noiseKey: fold(keyFromSeed(8), 1) };
}

describe('the fused SGLD step', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    for (const precond of [0, 1, 2] as const) {
      it(`matches the oracle: ${dtype}, preconditioner ${['none', 'rmsprop', 'adam'][precond]}`, () => {
        const arch: MlpArch = { ...base, activation: 'relu' };
        const state = (s: ReturnType<typeof setup>) => ({
          w: s.positions,
          grad: s.kernel.array(CHAINS * s.d),
          m: s.kernel.array(CHAINS * s.d).fill(0.01),
          v: s.kernel.array(CHAINS * s.d).fill(0.5),
          center: Float64Array.from(s.positions.subarray(0, s.d)),
        });
        const wasm = setup(arch, MSE, dtype, 'wasm');
        const ref = setup(arch, MSE, dtype, 'reference');
        ref.positions.set(wasm.positions);
        try {
          const a = state(wasm);
          const b = state(ref);
          const lossA = new Float64Array(CHAINS);
          const lossB = new Float64Array(CHAINS);
          wasm.kernel.sgldStep(a, rows, BATCH, lossA, sgldSettings(precond));
          ref.kernel.sgldStep(b, rows, BATCH, lossB, sgldSettings(precond));
          expect(relativeError(a.w, b.w)).toBeLessThan(TOLERANCE[dtype]);
          expect(relativeError(a.v, b.v)).toBeLessThan(TOLERANCE[dtype]);
          expect(relativeError(a.m, b.m)).toBeLessThan(TOLERANCE[dtype]);
          expect(relativeError(lossA, lossB)).toBeLessThan(TOLERANCE[dtype]);
        } finally {
          wasm.kernel.dispose();
        }
      });
    }
  }
});

describe('normal streams', () => {
  const memory = new WebAssembly.Memory({ initial: 40, maximum: 65536, shared: true });
  const wasm = instantiate(new WebAssembly.Module(readFileSync(wasmBinary('simd'))), memory);
  const key = fold(keyFromSeed(9), 3);
  const exact = new Float64Array(20001);
  fillNormal(key, exact);

  it('the float64 stream is the JavaScript stream', () => {
    for (let i = 0; i < 3000; i++) expect(Math.abs((wasm.normalAt(key.hi, key.lo, BigInt(i)) as number) - exact[i])).toBeLessThan(1e-14);
  });

  it('the vectorised float32 stream is within 2e-6 of it, whatever slice is asked for', () => {
    const at = 131072;
    const read = (start: number, count: number) => {
      wasm.normalsF32(key.hi, key.lo, BigInt(start), count, at);
      return Float32Array.from(new Float32Array(memory.buffer, at, count));
    };
    const whole = read(0, 20001);
    for (let i = 0; i < whole.length; i++) expect(Math.abs(whole[i] - exact[i])).toBeLessThan(2e-6);
    for (const [start, count] of [[3, 17], [8, 8], [9997, 1234], [20000, 1]]) expect(read(start, count)).toEqual(whole.subarray(start, start + count));
  });
});

it('arrays the kernel does not own give the same results, copied in and out', () => {
  const { kernel, positions } = setup(base, MSE, 'float64', 'wasm');
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
});

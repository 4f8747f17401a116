/**
 * The native CPU kernel: the MLP passes and the fused SGLD step of ./src, an N-API addon, with the
 * layer products in OpenBLAS (cblas_sgemm / cblas_dgemm) and the elementwise work in loops compiled
 * for the CPU's vector width. Typed arrays go to the addon as they are: the kernel's own arrays are
 * plain typed arrays, and an array of the other precision is converted on the way in and out.
 *
 * Threads are the addon's own (src/pool.h): work is split into items of one chain and one block of
 * rows and combined in a fixed order, so a result does not depend on their number; each BLAS call
 * runs on one thread.
 */
import { arrayFor, castTo, FloatArray } from '../../mlp';
import { NetworkTable, networkTable } from '../network-table';
import type { KernelProblem, LossKernel, NumericIdentity, SgldArrays, SgldStep } from '../types';

/** The addon's exports (src/addon.cc). */
export interface NativeAddon {
  Kernel: new (spec: NativeSpec) => NativeHandle;
  normals(keyHi: number, keyLo: number, start: number, out: Float32Array | Float64Array): void;
  /** The BLAS build and the CPU kernels it chose, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH … (core SkylakeX)". */
  blas(): string;
  /** Measured float32 AVX2 FMA throughput of one core, GFLOP/s (0 without AVX2). */
  avx2PeakF32(seconds?: number): number;
}

interface NativeSpec extends NetworkTable {
  float32: boolean;
  X: Float64Array;
  Y: Float64Array;
  n: number;
  chains: number;
  maxBatch: number;
  threads: number;
}

interface NativeHandle {
  loss(positions: FloatArray, out: Float64Array): void;
  lossGrad(positions: FloatArray, rows: Int32Array | null, batch: number, grad: FloatArray, out: Float64Array): void;
  sgldStep(w: FloatArray, grad: FloatArray, m: FloatArray, v: FloatArray, center: FloatArray, rows: Int32Array, batch: number, out: Float64Array, settings: Float64Array, keyHi: number, keyLo: number): void;
  dispose(): void;
}

/** OpenBLAS cores whose single-precision and double-precision kernels use fused multiply-adds. */
const FMA_CORES = /haswell|zen|skylakex|cooperlake|sapphirerapids|armv8|neoverse|a64fx|power/i;

/** How this addon rounds: the BLAS and its CPU kernels decide, the elementwise loops never fuse. */
export function nativeIdentity(addon: NativeAddon, dtype: 'float32' | 'float64'): NumericIdentity {
  const blas = addon.blas();
  const core = /\(core ([^)]*)\)/.exec(blas)?.[1] ?? blas;
  return { kernel: 'native', precision: dtype, fma: blas === 'Accelerate' || FMA_CORES.test(core), implementation: blas };
}

export function nativeKernel({ arch, X, Y, n, lossFn, dtype, chains, maxBatch }: KernelProblem, addon: NativeAddon, threads: number): LossKernel {
  const network = networkTable(arch, lossFn);
  const { d } = network;
  const handle = new addon.Kernel({
    ...network,
    float32: dtype === 'float32',
    X: castTo('float64', X) as Float64Array,
    Y: castTo('float64', Y) as Float64Array,
    n,
    chains,
    maxBatch,
    threads,
  });

  /** `a` itself when it has the kernel's precision, else a copy that `back` returns to it. */
  const own = (a: FloatArray): FloatArray => ((dtype === 'float32') === a instanceof Float32Array ? a : castTo(dtype, a));
  const back = (copy: FloatArray, a: FloatArray) => {
    if (copy !== a) a.set(copy);
  };
  const settings = new Float64Array(9);

  return {
    name: `native-${dtype === 'float32' ? 'f32' : 'f64'}`,
    identity: nativeIdentity(addon, dtype),
    threads,
    dtype,
    d,
    n,
    chains,
    array: (length) => arrayFor(dtype, length),
    loss: (positions, out) => handle.loss(own(positions), out),
    lossGrad(positions, rows, batch, grad, out) {
      const g = own(grad);
      handle.lossGrad(own(positions), rows, batch, g, out);
      back(g, grad);
    },
    sgldStep(a: SgldArrays, rows: Int32Array, batch: number, out: Float64Array, step: SgldStep) {
      const [w, grad, m, v] = [own(a.w), own(a.grad), own(a.m), own(a.v)];
      settings.set([step.stepSize, step.nBeta, step.gamma, step.precond, step.beta1, step.beta2, step.eps, step.bias1, step.bias2]);
      handle.sgldStep(w, grad, m, v, own(a.center), rows, batch, out, settings, step.noiseKey.hi, step.noiseKey.lo);
      back(w, a.w);
      back(grad, a.grad);
      back(m, a.m);
      back(v, a.v);
    },
    dispose: () => handle.dispose(),
  };
}

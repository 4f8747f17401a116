/**
 * The exports of the WebAssembly kernel module, one concrete function per element type. Built
 * twice by build.ts: with plain SIMD and with relaxed SIMD (fused multiply-add).
 */
import { gemm } from './gemm';
import { lossAndGrad, lossOnly } from './mlp';
import { sgldUpdate } from './sgld';

export { normalAt, normalsF32 } from './rng';

export function lossGrad_f32(arch: usize, item: usize, scratch: usize): void {
  lossAndGrad<f32>(arch, item, scratch);
}
export function lossGrad_f64(arch: usize, item: usize, scratch: usize): void {
  lossAndGrad<f64>(arch, item, scratch);
}
export function loss_f32(arch: usize, item: usize, scratch: usize): void {
  lossOnly<f32>(arch, item, scratch);
}
export function loss_f64(arch: usize, item: usize, scratch: usize): void {
  lossOnly<f64>(arch, item, scratch);
}

/** y ← y + α·x over n elements. */
function axpy<T>(n: i32, alpha: f64, x: usize, y: usize): void {
  const S = <usize>sizeof<T>();
  for (let i = 0; i < n; i++) store<T>(y + <usize>i * S, load<T>(y + <usize>i * S) + <T>alpha * load<T>(x + <usize>i * S));
}
export function axpy_f32(n: i32, alpha: f64, x: usize, y: usize): void {
  axpy<f32>(n, alpha, x, y);
}
export function axpy_f64(n: i32, alpha: f64, x: usize, y: usize): void {
  axpy<f64>(n, alpha, x, y);
}

export function sgldUpdate_f32(w: usize, grad: usize, m: usize, v: usize, center: usize, d: i32, c0: i32, c1: i32, eps: f64, nBeta: f64, gamma: f64, precond: i32, beta1: f64, beta2: f64, epsP: f64, bias1: f64, bias2: f64, keyHi: u32, keyLo: u32, scratch: usize): void {
  sgldUpdate<f32>(w, grad, m, v, center, d, c0, c1, eps, nBeta, gamma, precond, beta1, beta2, epsP, bias1, bias2, keyHi, keyLo, scratch);
}
export function sgldUpdate_f64(w: usize, grad: usize, m: usize, v: usize, center: usize, d: i32, c0: i32, c1: i32, eps: f64, nBeta: f64, gamma: f64, precond: i32, beta1: f64, beta2: f64, epsP: f64, bias1: f64, bias2: f64, keyHi: u32, keyLo: u32, scratch: usize): void {
  sgldUpdate<f64>(w, grad, m, v, center, d, c0, c1, eps, nBeta, gamma, precond, beta1, beta2, epsP, bias1, bias2, keyHi, keyLo, scratch);
}

/** For benchmarks and tests of the product kernel alone. */
export function gemm_f32(M: i32, N: i32, K: i32, A: usize, lda: i32, transA: bool, B: usize, ldb: i32, C: usize, ldc: i32, accumulate: bool): void {
  gemm<f32>(M, N, K, A, lda, transA, B, ldb, C, ldc, accumulate);
}
export function gemm_f64(M: i32, N: i32, K: i32, A: usize, lda: i32, transA: bool, B: usize, ldb: i32, C: usize, ldc: i32, accumulate: bool): void {
  gemm<f64>(M, N, K, A, lda, transA, B, ldb, C, ldc, accumulate);
}

/**
 * One fused SGLD step of chain c whose minibatch is a single item: its gradient, then its update,
 * in one call, so the gradient is used while still in cache and threads synchronise once per step.
 */
function sgldStep<T>(arch: usize, item: usize, scratch: usize, w: usize, grad: usize, m: usize, v: usize, center: usize, d: i32, c: i32, eps: f64, nBeta: f64, gamma: f64, precond: i32, beta1: f64, beta2: f64, epsP: f64, bias1: f64, bias2: f64, keyHi: u32, keyLo: u32): void {
  lossAndGrad<T>(arch, item, scratch);
  sgldUpdate<T>(w, grad, m, v, center, d, c, c + 1, eps, nBeta, gamma, precond, beta1, beta2, epsP, bias1, bias2, keyHi, keyLo, scratch);
}
export function sgldStep_f32(arch: usize, item: usize, scratch: usize, w: usize, grad: usize, m: usize, v: usize, center: usize, d: i32, c: i32, eps: f64, nBeta: f64, gamma: f64, precond: i32, beta1: f64, beta2: f64, epsP: f64, bias1: f64, bias2: f64, keyHi: u32, keyLo: u32): void {
  sgldStep<f32>(arch, item, scratch, w, grad, m, v, center, d, c, eps, nBeta, gamma, precond, beta1, beta2, epsP, bias1, bias2, keyHi, keyLo);
}
export function sgldStep_f64(arch: usize, item: usize, scratch: usize, w: usize, grad: usize, m: usize, v: usize, center: usize, d: i32, c: i32, eps: f64, nBeta: f64, gamma: f64, precond: i32, beta1: f64, beta2: f64, epsP: f64, bias1: f64, bias2: f64, keyHi: u32, keyLo: u32): void {
  sgldStep<f64>(arch, item, scratch, w, grad, m, v, center, d, c, eps, nBeta, gamma, precond, beta1, beta2, epsP, bias1, bias2, keyHi, keyLo);
}

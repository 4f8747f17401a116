/**
 * Dense matrix products for the MLP passes, in WebAssembly SIMD (f32x4 or f64x2), generic over the
 * element type, all with row-major B and C:
 *   gemm:   C (M×N) = [C +] op(A) · B,  op(A) = A or Aᵀ  (the backward pass: dW = gᵀ·h, dH = g·W),
 *           4 rows of C × 2 vectors of columns (8 accumulators), each step broadcasting one scalar
 *           of A per row against 2 vectors of a row of B;
 *   gemmNT: C (M×N) = [C +] A · Bᵀ  (the forward pass Z = H·Wᵀ), dot products along k.
 * With relaxed
 * SIMD the multiply-add is fused (one instruction, one rounding); without, it is a multiply and an
 * add, so the two builds give different (both correct) roundings.
 */

/** a·b + c in lanes of T: fused under relaxed SIMD. */
// @ts-ignore: decorator
@inline export function madd<T>(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return v128.relaxed_madd<T>(a, b, c);
  return v128.add<T>(v128.mul<T>(a, b), c);
}

/**
 * The general product. Leading dimensions are in elements. With `transA`, A is stored K×M
 * (element (m, k) at A[k·lda + m]); otherwise M×K (at A[m·lda + k]). With `accumulate`, C is added to.
 */
export function gemm<T>(M: i32, N: i32, K: i32, A: usize, lda: i32, transA: bool, B: usize, ldb: i32, C: usize, ldc: i32, accumulate: bool): void {
  const S = <usize>sizeof<T>();
  const L = 16 / <i32>S;
  // Moving down a row of op(A) and along k, in bytes.
  const rowStep: usize = transA ? S : <usize>lda * S;
  const kStep: usize = transA ? <usize>lda * S : S;
  const bRow: usize = <usize>ldb * S;
  let i = 0;
  for (; i + 4 <= M; i += 4) {
    const a0 = A + <usize>i * rowStep;
    const c0 = C + <usize>(i * ldc) * S;
    let j = 0;
    for (; j + 2 * L <= N; j += 2 * L) block4x2<T>(K, a0, rowStep, kStep, B + <usize>j * S, bRow, c0 + <usize>j * S, <usize>ldc * S, accumulate);
    for (; j + L <= N; j += L) block4x1<T>(K, a0, rowStep, kStep, B + <usize>j * S, bRow, c0 + <usize>j * S, <usize>ldc * S, accumulate);
    for (; j < N; j++) for (let r = 0; r < 4; r++) scalarDot<T>(K, a0 + <usize>r * rowStep, kStep, B + <usize>j * S, bRow, c0 + <usize>(r * ldc + j) * S, accumulate);
  }
  for (; i < M; i++) {
    const a0 = A + <usize>i * rowStep;
    const c0 = C + <usize>(i * ldc) * S;
    let j = 0;
    for (; j + L <= N; j += L) block1x1<T>(K, a0, kStep, B + <usize>j * S, bRow, c0 + <usize>j * S, accumulate);
    for (; j < N; j++) scalarDot<T>(K, a0, kStep, B + <usize>j * S, bRow, c0 + <usize>j * S, accumulate);
  }
}

// @ts-ignore: decorator
@inline function block4x2<T>(K: i32, a: usize, rowStep: usize, kStep: usize, b: usize, bRow: usize, c: usize, cRow: usize, accumulate: bool): void {
  let c00 = v128.splat<T>(0), c01 = v128.splat<T>(0), c10 = v128.splat<T>(0), c11 = v128.splat<T>(0);
  let c20 = v128.splat<T>(0), c21 = v128.splat<T>(0), c30 = v128.splat<T>(0), c31 = v128.splat<T>(0);
  if (accumulate) {
    c00 = v128.load(c); c01 = v128.load(c, 16);
    c10 = v128.load(c + cRow); c11 = v128.load(c + cRow, 16);
    c20 = v128.load(c + 2 * cRow); c21 = v128.load(c + 2 * cRow, 16);
    c30 = v128.load(c + 3 * cRow); c31 = v128.load(c + 3 * cRow, 16);
  }
  const a1 = a + rowStep, a2 = a + 2 * rowStep, a3 = a + 3 * rowStep;
  let k: usize = 0;
  const kEnd = <usize>K * kStep;
  for (; k < kEnd; k += kStep) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    b += bRow;
    const x0 = v128.splat<T>(load<T>(a + k));
    c00 = madd<T>(x0, b0, c00); c01 = madd<T>(x0, b1, c01);
    const x1 = v128.splat<T>(load<T>(a1 + k));
    c10 = madd<T>(x1, b0, c10); c11 = madd<T>(x1, b1, c11);
    const x2 = v128.splat<T>(load<T>(a2 + k));
    c20 = madd<T>(x2, b0, c20); c21 = madd<T>(x2, b1, c21);
    const x3 = v128.splat<T>(load<T>(a3 + k));
    c30 = madd<T>(x3, b0, c30); c31 = madd<T>(x3, b1, c31);
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c + cRow, c10); v128.store(c + cRow, c11, 16);
  v128.store(c + 2 * cRow, c20); v128.store(c + 2 * cRow, c21, 16);
  v128.store(c + 3 * cRow, c30); v128.store(c + 3 * cRow, c31, 16);
}

// @ts-ignore: decorator
@inline function block4x1<T>(K: i32, a: usize, rowStep: usize, kStep: usize, b: usize, bRow: usize, c: usize, cRow: usize, accumulate: bool): void {
  let c0 = v128.splat<T>(0), c1 = v128.splat<T>(0), c2 = v128.splat<T>(0), c3 = v128.splat<T>(0);
  if (accumulate) {
    c0 = v128.load(c); c1 = v128.load(c + cRow); c2 = v128.load(c + 2 * cRow); c3 = v128.load(c + 3 * cRow);
  }
  const a1 = a + rowStep, a2 = a + 2 * rowStep, a3 = a + 3 * rowStep;
  const kEnd = <usize>K * kStep;
  for (let k: usize = 0; k < kEnd; k += kStep) {
    const b0 = v128.load(b);
    b += bRow;
    c0 = madd<T>(v128.splat<T>(load<T>(a + k)), b0, c0);
    c1 = madd<T>(v128.splat<T>(load<T>(a1 + k)), b0, c1);
    c2 = madd<T>(v128.splat<T>(load<T>(a2 + k)), b0, c2);
    c3 = madd<T>(v128.splat<T>(load<T>(a3 + k)), b0, c3);
  }
  v128.store(c, c0); v128.store(c + cRow, c1); v128.store(c + 2 * cRow, c2); v128.store(c + 3 * cRow, c3);
}

// @ts-ignore: decorator
@inline function block1x1<T>(K: i32, a: usize, kStep: usize, b: usize, bRow: usize, c: usize, accumulate: bool): void {
  let c0 = accumulate ? v128.load(c) : v128.splat<T>(0);
  const kEnd = <usize>K * kStep;
  for (let k: usize = 0; k < kEnd; k += kStep) {
    c0 = madd<T>(v128.splat<T>(load<T>(a + k)), v128.load(b), c0);
    b += bRow;
  }
  v128.store(c, c0);
}

/** One element of C: the dot product of a row of op(A) with a column of B. */
// @ts-ignore: decorator
@inline function scalarDot<T>(K: i32, a: usize, kStep: usize, b: usize, bRow: usize, c: usize, accumulate: bool): void {
  let s: T = accumulate ? load<T>(c) : <T>0;
  const kEnd = <usize>K * kStep;
  for (let k: usize = 0; k < kEnd; k += kStep) {
    s += load<T>(a + k) * load<T>(b);
    b += bRow;
  }
  store<T>(c, s);
}

/**
 * C (M×N) = [C +] A (M×K) · Bᵀ with B stored N×K: C[i, j] = Σ_k A[i, k]·B[j, k], as dot products
 * vectorised along k (both operands contiguous there), 4 rows × 2 columns at a time. This is the
 * forward pass Z = H·Wᵀ with W out×in, with no transpose of W.
 */
export function gemmNT<T>(M: i32, N: i32, K: i32, A: usize, lda: i32, B: usize, ldb: i32, C: usize, ldc: i32, accumulate: bool): void {
  const S = <usize>sizeof<T>();
  let i = 0;
  for (; i + 4 <= M; i += 4) {
    let j = 0;
    for (; j + 2 <= N; j += 2) dot4x2<T>(K, A + <usize>(i * lda) * S, <usize>lda * S, B + <usize>(j * ldb) * S, <usize>ldb * S, C + <usize>(i * ldc + j) * S, <usize>ldc * S, accumulate);
    for (; j < N; j++) for (let r = 0; r < 4; r++) dot1<T>(K, A + <usize>((i + r) * lda) * S, B + <usize>(j * ldb) * S, C + <usize>((i + r) * ldc + j) * S, accumulate);
  }
  for (; i < M; i++) for (let j = 0; j < N; j++) dot1<T>(K, A + <usize>(i * lda) * S, B + <usize>(j * ldb) * S, C + <usize>(i * ldc + j) * S, accumulate);
}

/** The sum of the lanes of v. */
// @ts-ignore: decorator
@inline function lanes<T>(v: v128): T {
  if (sizeof<T>() == 4) return <T>(f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
  return <T>(f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1));
}

// @ts-ignore: decorator
@inline function dot4x2<T>(K: i32, a: usize, aRow: usize, b: usize, bRow: usize, c: usize, cRow: usize, accumulate: bool): void {
  const S = <usize>sizeof<T>();
  const L = 16 / <i32>S;
  let s00 = v128.splat<T>(0), s01 = v128.splat<T>(0), s10 = v128.splat<T>(0), s11 = v128.splat<T>(0);
  let s20 = v128.splat<T>(0), s21 = v128.splat<T>(0), s30 = v128.splat<T>(0), s31 = v128.splat<T>(0);
  const a1 = a + aRow, a2 = a + 2 * aRow, a3 = a + 3 * aRow, b1 = b + bRow;
  const vecEnd = <usize>(K - (K % L)) * S;
  for (let k: usize = 0; k < vecEnd; k += 16) {
    const x0 = v128.load(b + k);
    const x1 = v128.load(b1 + k);
    const y0 = v128.load(a + k);
    s00 = madd<T>(y0, x0, s00); s01 = madd<T>(y0, x1, s01);
    const y1 = v128.load(a1 + k);
    s10 = madd<T>(y1, x0, s10); s11 = madd<T>(y1, x1, s11);
    const y2 = v128.load(a2 + k);
    s20 = madd<T>(y2, x0, s20); s21 = madd<T>(y2, x1, s21);
    const y3 = v128.load(a3 + k);
    s30 = madd<T>(y3, x0, s30); s31 = madd<T>(y3, x1, s31);
  }
  let t00 = lanes<T>(s00), t01 = lanes<T>(s01), t10 = lanes<T>(s10), t11 = lanes<T>(s11);
  let t20 = lanes<T>(s20), t21 = lanes<T>(s21), t30 = lanes<T>(s30), t31 = lanes<T>(s31);
  for (let k = vecEnd; k < <usize>K * S; k += S) {
    const x0 = load<T>(b + k), x1 = load<T>(b1 + k);
    const y0 = load<T>(a + k), y1 = load<T>(a1 + k), y2 = load<T>(a2 + k), y3 = load<T>(a3 + k);
    t00 += y0 * x0; t01 += y0 * x1; t10 += y1 * x0; t11 += y1 * x1;
    t20 += y2 * x0; t21 += y2 * x1; t30 += y3 * x0; t31 += y3 * x1;
  }
  if (accumulate) {
    t00 += load<T>(c); t01 += load<T>(c + S);
    t10 += load<T>(c + cRow); t11 += load<T>(c + cRow + S);
    t20 += load<T>(c + 2 * cRow); t21 += load<T>(c + 2 * cRow + S);
    t30 += load<T>(c + 3 * cRow); t31 += load<T>(c + 3 * cRow + S);
  }
  store<T>(c, t00); store<T>(c + S, t01);
  store<T>(c + cRow, t10); store<T>(c + cRow + S, t11);
  store<T>(c + 2 * cRow, t20); store<T>(c + 2 * cRow + S, t21);
  store<T>(c + 3 * cRow, t30); store<T>(c + 3 * cRow + S, t31);
}

// @ts-ignore: decorator
@inline function dot1<T>(K: i32, a: usize, b: usize, c: usize, accumulate: bool): void {
  const S = <usize>sizeof<T>();
  const L = 16 / <i32>S;
  let s = v128.splat<T>(0);
  const vecEnd = <usize>(K - (K % L)) * S;
  for (let k: usize = 0; k < vecEnd; k += 16) s = madd<T>(v128.load(a + k), v128.load(b + k), s);
  let t = lanes<T>(s);
  for (let k = vecEnd; k < <usize>K * S; k += S) t += load<T>(a + k) * load<T>(b + k);
  store<T>(c, accumulate ? t + load<T>(c) : t);
}

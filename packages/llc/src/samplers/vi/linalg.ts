/** Dense r×r Cholesky algebra for the MFA components' C_m = I_r + A_mᵀA_m, stored row-major inside larger arrays. */

/** In-place Cholesky of the r×r matrix at `off` (lower triangle read and written); returns log det. */
export function cholesky(c: Float64Array, off: number, r: number): number {
  let logDet = 0;
  for (let j = 0; j < r; j++) {
    let diag = c[off + j * r + j];
    for (let k = 0; k < j; k++) diag -= c[off + j * r + k] ** 2;
    const ljj = Math.sqrt(diag);
    c[off + j * r + j] = ljj;
    logDet += 2 * Math.log(ljj);
    for (let i = j + 1; i < r; i++) {
      let v = c[off + i * r + j];
      for (let k = 0; k < j; k++) v -= c[off + i * r + k] * c[off + j * r + k];
      c[off + i * r + j] = v / ljj;
    }
  }
  return logDet;
}

/** Solves L·Lᵀ·y = g for the first `n` unknowns of the factor at `off` (a leading block of a Cholesky factor is the factor of the leading block). */
export function choleskySolve(l: Float64Array, off: number, r: number, n: number, g: Float64Array, y: Float64Array, yOff: number): void {
  for (let i = 0; i < n; i++) {
    let v = g[i];
    for (let k = 0; k < i; k++) v -= l[off + i * r + k] * y[yOff + k];
    y[yOff + i] = v / l[off + i * r + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let v = y[yOff + i];
    for (let k = i + 1; k < n; k++) v -= l[off + k * r + i] * y[yOff + k];
    y[yOff + i] = v / l[off + i * r + i];
  }
}

/**
 * The linear-regression problem the VI and flow tests share: in_dim 10, out_dim 1 (d = 11),
 * n = 1000, w* the exact least-squares fit. Feature scales fall from 1 to 0.05, so
 * nβ·a_k/(nβ·a_k + γ) ranges over (0, 1): the exact λ is well below d/2 and only a q of the right
 * scale in every direction gets it right.
 */
import { referenceKernel } from '../../packages/llc/src/kernels/reference';
import type { MlpArch } from '../../packages/llc/src/mlp';
import { Posterior } from '../../packages/llc/src/posterior';
import { fillNormal, keyFromSeed } from '../../packages/llc/src/rng';
import { regularTruth } from './regular-model';

const lossFn = { kind: 'mse' as const, df: 0, scale: 0 };
export const linArch: MlpArch = { in_dim: 10, out_dim: 1, widths: [], activation: 'identity', bias: true, layernorm: false, skip_connections: false, residual_period: 2 };
export const linN = 1000;
export const linD = 11;
export const linX = new Float64Array(linN * 10);
export const linY = new Float64Array(linN);
fillNormal(keyFromSeed(101), linX);
for (let i = 0; i < linN; i++) for (let k = 0; k < 10; k++) linX[i * 10 + k] *= Math.pow(0.05, k / 9);
{
  const noise = new Float64Array(linN);
  fillNormal(keyFromSeed(102), noise);
  for (let i = 0; i < linN; i++) {
    let y = 0.3;
    for (let k = 0; k < 10; k++) y += (k % 3 === 0 ? 1 : -0.5) * linX[i * 10 + k];
    linY[i] = y + 0.1 * noise[i];
  }
}
export const linTemperature = { n: linN, beta: 1 / Math.log(linN), nBeta: linN / Math.log(linN), gamma: 1 };

/** Rows of X̃ = [X, 1] (the layout is Out.W then Out.b). */
export const linRow = (i: number, j: number) => (j < 10 ? linX[i * 10 + j] : 1);

/** Least squares by Gaussian elimination on the normal equations (X̃ᵀX̃)w = X̃ᵀy. */
export const linWStar = ((): Float64Array => {
  const a = Array.from({ length: linD }, (_, j) =>
    Array.from({ length: linD }, (_, k) => {
      let s = 0;
      for (let i = 0; i < linN; i++) s += linRow(i, j) * linRow(i, k);
      return s;
    }),
  );
  const b = Array.from({ length: linD }, (_, j) => {
    let s = 0;
    for (let i = 0; i < linN; i++) s += linRow(i, j) * linY[i];
    return s;
  });
  for (let p = 0; p < linD; p++) {
    for (let q = p + 1; q < linD; q++) {
      const f = a[q][p] / a[p][p];
      for (let k = p; k < linD; k++) a[q][k] -= f * a[p][k];
      b[q] -= f * b[p];
    }
  }
  const w = new Float64Array(linD);
  for (let p = linD - 1; p >= 0; p--) {
    let s = b[p];
    for (let k = p + 1; k < linD; k++) s -= a[p][k] * w[k];
    w[p] = s / a[p][p];
  }
  return w;
})();

/** The exact λ and the Hessian's eigenvalues at w*. */
export const linTruth = regularTruth(linX, linY, linN, 10, linWStar, linTemperature.nBeta, linTemperature.gamma);

/** The problem as a posterior for `chains` chains (or kernel slots) on the reference kernel. */
export function linearProblem(chains: number, dtype: 'float32' | 'float64' = 'float64', batch = 64): Posterior {
  return new Posterior(referenceKernel({ arch: linArch, X: linX, Y: linY, n: linN, lossFn, dtype, chains, maxBatch: batch }), linWStar, linTemperature);
}

/**
 * Ground truth for a regular model: linear regression (depth 0, identity activation) with MSE.
 * L_n(w) = (1/n)·‖X̃w − y‖² with X̃ = [X, 1] (the layout is Out.W then Out.b), so the Hessian is
 * H = (2/n)·X̃ᵀX̃ everywhere, the localized tempered posterior is Gaussian, and at the minimiser
 *   λ = nβ·(E[L_n] − L_n(w*)) = ½·Σ_k nβ·a_k / (nβ·a_k + γ)
 * over the eigenvalues a_k of H. Plain float64 linear algebra, independent of the product's code.
 */

export interface RegularTruth {
  lambda: number;
  eigenvalues: number[];
  /** ‖w* − ŵ‖ against the exact least-squares solution ŵ. */
  distanceToMinimiser: number;
  /** nβ·(L_n(w*) − L_n(ŵ)): how much an imperfect w* could move λ̂. */
  excessLoss: number;
}

/** Eigenvalues of a symmetric matrix by cyclic Jacobi rotations. */
export function symmetricEigenvalues(a: number[][]): number[] {
  const n = a.length;
  const m = a.map((r) => [...r]);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p][q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(m[p][q]) < 1e-300) continue;
        const theta = (m[q][q] - m[p][p]) / (2 * m[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k][p];
          const mkq = m[k][q];
          m[k][p] = c * mkp - s * mkq;
          m[k][q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p][k];
          const mqk = m[q][k];
          m[p][k] = c * mpk - s * mqk;
          m[q][k] = s * mpk + c * mqk;
        }
      }
    }
  }
  return m.map((r, i) => r[i]).sort((x, y) => x - y);
}

/** Solves A x = b for symmetric positive definite A (Cholesky). */
function solveSpd(a: number[][], b: number[]): number[] {
  const n = a.length;
  const L = a.map(() => new Array(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i][j];
      for (let k = 0; k < j; k++) s -= L[i][k] * L[j][k];
      L[i][j] = i === j ? Math.sqrt(s) : s / L[j][j];
    }
  }
  const y = new Array(n).fill(0);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[i][k] * y[k];
    y[i] = s / L[i][i];
  }
  const x = new Array(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= L[k][i] * x[k];
    x[i] = s / L[i][i];
  }
  return x;
}

export function regularTruth(X: Float64Array, Y: Float64Array, n: number, inDim: number, wStar: Float64Array, nBeta: number, gamma: number): RegularTruth {
  const d = inDim + 1;
  const row = (i: number, j: number) => (j < inDim ? X[i * inDim + j] : 1);
  const H = Array.from({ length: d }, () => new Array(d).fill(0));
  const xty = new Array(d).fill(0);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      xty[j] += row(i, j) * Y[i];
      for (let k = 0; k < d; k++) H[j][k] += row(i, j) * row(i, k);
    }
  }
  const wHat = solveSpd(H, xty);
  for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) H[j][k] *= 2 / n;
  const eigenvalues = symmetricEigenvalues(H);
  const lambda = 0.5 * eigenvalues.reduce((s, a) => s + (nBeta * a) / (nBeta * a + gamma), 0);
  const delta = Array.from(wStar, (w, j) => w - wHat[j]);
  let quad = 0;
  for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) quad += delta[j] * H[j][k] * delta[k];
  return { lambda, eigenvalues, distanceToMinimiser: Math.hypot(...delta), excessLoss: nBeta * 0.5 * quad };
}

/**
 * The control variate's trace term, complete: Σ_m π_m Σ_j u_mjᵀHu_mj (u_mj = s⊙A_m[:, j]/a) plus
 * the diagonal part Σ_i (s_i/a_i)²·H_ii, which the reference left out.
 */
import { fillBelow, fold, Key } from '../../rng';
import type { CentralDifferenceHessian } from './hessian';
import type { MfaFamily } from './mfa';

export interface CovarianceTrace {
  /** Σ_m π_m Σ_j u_mjᵀHu_mj per chain. */
  lowRank: Float64Array;
  /** Σ_i (s_i/a_i)²·H_ii per chain (exact, or Hutchinson's estimate). */
  diagonal: Float64Array;
  method: 'exact' | 'hutchinson';
}

/**
 * tr(H·Σ_q) in model coordinates for every chain's (prepared) q, Σ_q = Σ_m π_m Σ_m with
 * Σ_m = diag(s/a)(A_mA_mᵀ + I)diag(s/a): the low-rank part through the HVPs of u_mj = s⊙A_m[:, j]/a,
 * the diagonal part from H_ii. Exactly, H_ii = e_iᵀHe_i, shared by all chains (⌈d/chains⌉ HVP
 * calls); otherwise each chain averages (Dz)ᵀH(Dz) over `probes` Rademacher z, D = diag(s/a),
 * an unbiased estimate of Σ_i D_ii²H_ii (Hutchinson 1990) whose error comes only from H's
 * off-diagonal entries.
 */
export function covarianceTrace(
  hessian: CentralDifferenceHessian,
  family: MfaFamily,
  params: Float64Array,
  whitening: Float64Array,
  exactMaxD: number,
  probes: number,
  probeKeys: Key[],
): CovarianceTrace {
  const { d, M, r, ranks } = family.shape;
  const chains = family.slots;
  const directions = new Float64Array(chains * d);
  const hv = new Float64Array(chains * d);
  const quadratic = (c: number): number => {
    let q = 0;
    for (let i = 0; i < d; i++) q += directions[c * d + i] * hv[c * d + i];
    return q;
  };
  const lowRank = new Float64Array(chains);
  for (let m = 0; m < M; m++) {
    for (let j = 0; j < ranks[m]; j++) {
      for (let c = 0; c < chains; c++) {
        const s = family.scales(c);
        const row = c * family.size + family.aOffset + m * d * r;
        for (let i = 0; i < d; i++) directions[c * d + i] = (s[i] * params[row + i * r + j]) / whitening[c * d + i];
      }
      hessian.apply(directions, hv);
      for (let c = 0; c < chains; c++) lowRank[c] += family.pi[c * M + m] * quadratic(c);
    }
  }
  const diagonal = new Float64Array(chains);
  if (d <= exactMaxD) {
    const hDiag = new Float64Array(d);
    for (let first = 0; first < d; first += chains) {
      directions.fill(0);
      for (let c = 0; c < chains && first + c < d; c++) directions[c * d + first + c] = 1;
      hessian.apply(directions, hv);
      for (let c = 0; c < chains && first + c < d; c++) hDiag[first + c] = hv[c * d + first + c];
    }
    for (let c = 0; c < chains; c++) {
      const s = family.scales(c);
      for (let i = 0; i < d; i++) diagonal[c] += (s[i] / whitening[c * d + i]) ** 2 * hDiag[i];
    }
    return { lowRank, diagonal, method: 'exact' };
  }
  const signs = new Int32Array(d);
  for (let p = 0; p < probes; p++) {
    for (let c = 0; c < chains; c++) {
      fillBelow(fold(probeKeys[c], p), 2, signs);
      const s = family.scales(c);
      for (let i = 0; i < d; i++) directions[c * d + i] = ((2 * signs[i] - 1) * s[i]) / whitening[c * d + i];
    }
    hessian.apply(directions, hv);
    for (let c = 0; c < chains; c++) diagonal[c] += quadratic(c) / probes;
  }
  return { lowRank, diagonal, method: 'hutchinson' };
}

/**
 * The flow's fixed coordinate scale σ₀ (chains × d): the Laplace-like marginal scale
 *   σ₀_i = min(init_scale_max, 1/√(nβ·max(0, H_ii) + γ)),   H = ∇²L_n(w*),
 * with H_ii exactly from d unit-vector HVPs of full-data gradients (shared by every chain, spread
 * over the kernel's slots) when d ≤ exact_diag_max_d, else from Hutchinson's diagonal estimator
 * mean_p z_p ⊙ Hz_p with `probes` Rademacher probes per chain under that chain's own key. The
 * flow is defined on w = w* + σ₀ ⊙ T(z), so its couplings see and produce O(1) quantities.
 */
import { fillBelow, fold, Key } from '../../rng';
import type { CentralDifferenceHessian } from '../vi/hessian';

export interface ScaleSettings {
  nBeta: number;
  gamma: number;
  max: number;
  exactMaxD: number;
  probes: number;
}

/**
 * σ₀ for `chains` chains whose draws occupy `perChain` consecutive kernel slots each
 * (slots = chains·perChain = the hessian's posterior's chains). Returns σ₀ and H's diagonal estimate.
 */
export function initialScales(hessian: CentralDifferenceHessian, chains: number, perChain: number, s: ScaleSettings, keys: Key[]): { scale: Float64Array; diagonal: Float64Array; method: 'exact' | 'hutchinson' } {
  const { d, chains: slots } = hessian.posterior;
  const directions = new Float64Array(slots * d);
  const hv = new Float64Array(slots * d);
  const diagonal = new Float64Array(chains * d);
  let method: 'exact' | 'hutchinson';
  if (d <= s.exactMaxD) {
    method = 'exact';
    const hDiag = new Float64Array(d);
    for (let first = 0; first < d; first += slots) {
      directions.fill(0);
      for (let k = 0; k < slots && first + k < d; k++) directions[k * d + first + k] = 1;
      hessian.apply(directions, hv);
      for (let k = 0; k < slots && first + k < d; k++) hDiag[first + k] = hv[k * d + first + k];
    }
    for (let c = 0; c < chains; c++) diagonal.set(hDiag, c * d);
  } else {
    method = 'hutchinson';
    const signs = new Int32Array(d);
    const rounds = Math.ceil(s.probes / perChain);
    for (let r = 0; r < rounds; r++) {
      directions.fill(0);
      for (let c = 0; c < chains; c++) {
        for (let j = 0; j < perChain; j++) {
          const p = r * perChain + j;
          if (p >= s.probes) continue;
          fillBelow(fold(keys[c], p), 2, signs);
          for (let i = 0; i < d; i++) directions[(c * perChain + j) * d + i] = 2 * signs[i] - 1;
        }
      }
      hessian.apply(directions, hv);
      for (let c = 0; c < chains; c++) {
        for (let j = 0; j < perChain; j++) {
          const slot = c * perChain + j;
          if (r * perChain + j >= s.probes) continue;
          for (let i = 0; i < d; i++) diagonal[c * d + i] += (directions[slot * d + i] * hv[slot * d + i]) / s.probes;
        }
      }
    }
  }
  const scale = diagonal.map((h) => {
    const precision = s.nBeta * Math.max(0, h) + s.gamma;
    return precision > 0 ? Math.min(s.max, 1 / Math.sqrt(precision)) : s.max;
  });
  return { scale, diagonal, method };
}

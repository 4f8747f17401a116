/**
 * From recorded losses to λ̂ (docs/mathematics.md): llc[c, t] = nβ·(L_n(w_{c,t}) − L0), averaged over every
 * chain and kept draw, with its Monte Carlo standard error and convergence diagnostics.
 */
import { chainDiagnostics, ChainDiagnostics } from './diagnostics';

export interface LlcSummary extends ChainDiagnostics {
  mean: number;
  /** Population standard deviation over all chains and draws. */
  std: number;
  min: number;
  max: number;
  per_chain: number[];
  /** Standard error of `mean`: from the ESS for MCMC; from the spread over chains when a sampler estimates λ̂ per chain. */
  mcse: number;
  chains: number;
  draws: number;
}

export function llcTrace(Ln: Float64Array, L0: number, nBeta: number): Float64Array {
  return Ln.map((l) => nBeta * (l - L0));
}

/**
 * `llc` is chains × draws, row-major by chain. `estimatedPerChain` replaces the per-chain means when
 * the sampler computed λ̂ per chain itself (VI's control variate); the draws still give the spread
 * and the diagnostics.
 */
export function summarizeLlc(llc: Float64Array, chains: number, draws: number, estimatedPerChain?: number[]): LlcSummary {
  let min = Infinity;
  let max = -Infinity;
  const drawMeans: number[] = [];
  for (let c = 0; c < chains; c++) {
    let s = 0;
    for (let t = 0; t < draws; t++) {
      const x = llc[c * draws + t];
      s += x;
      if (x < min) min = x;
      if (x > max) max = x;
    }
    drawMeans.push(s / draws);
  }
  const allMean = drawMeans.reduce((a, b) => a + b, 0) / chains;
  let sq = 0;
  for (let i = 0; i < chains * draws; i++) sq += (llc[i] - allMean) ** 2;
  const diagnostics = chainDiagnostics(llc, chains, draws);
  const perChain = estimatedPerChain ?? drawMeans;
  const mean = perChain.reduce((a, b) => a + b, 0) / chains;
  const spread = chains > 1 ? Math.sqrt(perChain.reduce((s, v) => s + (v - mean) ** 2, 0) / (chains - 1) / chains) : NaN;
  return {
    mean,
    std: Math.sqrt(sq / (chains * draws)),
    min,
    max,
    per_chain: perChain,
    ...diagnostics,
    mcse: estimatedPerChain ? spread : diagnostics.mcse_mean,
    chains,
    draws,
  };
}

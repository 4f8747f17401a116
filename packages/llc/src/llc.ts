/**
 * From recorded losses to λ̂ (SPEC §2): llc[c, t] = nβ·(L_n(w_{c,t}) − L0), averaged over every
 * chain and kept draw.
 */
export interface LlcSummary {
  mean: number;
  /** Population standard deviation over all chains and draws. */
  std: number;
  min: number;
  max: number;
  per_chain: number[];
}

export function llcTrace(Ln: Float64Array, L0: number, nBeta: number): Float64Array {
  return Ln.map((l) => nBeta * (l - L0));
}

/** `llc` is chains × draws, row-major by chain. */
export function summarizeLlc(llc: Float64Array, chains: number, draws: number): LlcSummary {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  const perChain: number[] = [];
  for (let c = 0; c < chains; c++) {
    let s = 0;
    for (let t = 0; t < draws; t++) {
      const x = llc[c * draws + t];
      s += x;
      if (x < min) min = x;
      if (x > max) max = x;
    }
    perChain.push(s / draws);
    sum += s;
  }
  const mean = sum / (chains * draws);
  let sq = 0;
  for (let i = 0; i < chains * draws; i++) sq += (llc[i] - mean) ** 2;
  return { mean, std: Math.sqrt(sq / (chains * draws)), min, max, per_chain: perChain };
}

/**
 * The running mean of λ̂ as a run goes on, with a 95% band from the spread between chains: what the
 * convergence overlay (overlay.ts) draws against work (FGE) or wall time. It shows whether the
 * estimate has settled and what a shorter run would have reported, which is what comparing samplers
 * at equal cost needs.
 */
import { checkShape } from './svg';

/** The first draws' cumulative means rest on a handful of values; a band there would only stretch the y-axis. */
const BAND_START = 10;
const Z_95 = 1.96;

export interface RunningMeanBand {
  /** At draw t, the mean over chains of each chain's mean of draws 0..t. */
  mean: Float64Array;
  /** mean ∓ 1.96·SEM, where SEM is the sample std (ddof 1) of the chains' cumulative means over √chains; NaN before startIndex. */
  lower: Float64Array;
  upper: Float64Array;
  /** min(10, draws − 1), or draws (no band) with fewer than two chains. */
  startIndex: number;
}

export function runningMeanBand(llc: Float64Array, chains: number, draws: number): RunningMeanBand {
  checkShape('runningMeanBand', llc, chains, draws);
  const mean = new Float64Array(draws).fill(NaN);
  const lower = new Float64Array(draws).fill(NaN);
  const upper = new Float64Array(draws).fill(NaN);
  const startIndex = chains >= 2 ? Math.max(0, Math.min(BAND_START, draws - 1)) : draws;
  const sums = new Float64Array(chains);
  const cumulative = new Float64Array(chains);
  for (let t = 0; t < draws; t++) {
    let total = 0;
    for (let c = 0; c < chains; c++) {
      sums[c] += llc[c * draws + t];
      cumulative[c] = sums[c] / (t + 1);
      total += cumulative[c];
    }
    mean[t] = total / chains;
    if (t < startIndex) continue;
    let squares = 0;
    for (let c = 0; c < chains; c++) squares += (cumulative[c] - mean[t]) ** 2;
    const halfWidth = Z_95 * Math.sqrt(squares / (chains - 1) / chains);
    lower[t] = mean[t] - halfWidth;
    upper[t] = mean[t] + halfWidth;
  }
  return { mean, lower, upper, startIndex };
}

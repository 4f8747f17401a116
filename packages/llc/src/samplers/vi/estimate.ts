/**
 * λ̂ per chain from the evaluation draws: the plain Monte Carlo mean and the control variate, and
 * the checks that decide between them.
 */
import type { Posterior } from '../../posterior';
import { finiteOrNull } from './report';

/** Largest |z| of mean_s v_sᵀHv_s against tr(HΣ_q) at which the control variate is trusted (a 6e-5 false-alarm rate). */
const CV_CONSISTENCY_Z = 4;

/** What the evaluation measured; per-draw arrays hold chain c's draw s at c·E + s. */
export interface Evaluation {
  chains: number;
  /** Draws per chain. */
  E: number;
  /** L_n(w* + v_s). */
  Ln: Float64Array;
  /** v_sᵀHv_s (zero without the control variate). */
  quad: Float64Array;
  /** tr(HΣ_q) per chain (zero without the control variate). */
  traceTerm: Float64Array;
  /** Half-step HVP checks that found the operator nonlinear. */
  linearityFailures: number;
}

export interface ChainEstimates {
  /** E_q[L_n] per chain: the plain mean, and the control-variate estimate. */
  eqMc: number[];
  eqCv: number[];
  llcMc: number[];
  llcCv: number[];
  /** Var(L_n)/Var(corrected) per chain; null without the control variate. */
  varianceReduction: (number | null)[];
  /** The control-variate λ̂ of every draw, chains × E. */
  llcCvTrace: Float64Array;
  /** The trace check's z-score, pooled over chains; NaN without the control variate. */
  consistencyZ: number;
  cvUsed: boolean;
  /** The estimate used: llcCv when the control variate passed its checks, else llcMc. */
  llcPerChain: number[];
}

export function chainEstimates({ chains, E, Ln, quad, traceTerm, linearityFailures }: Evaluation, posterior: Pick<Posterior, 'llc'>, controlVariate: boolean): ChainEstimates {
  const eqMc: number[] = [];
  const eqCv: number[] = [];
  const varianceReduction: (number | null)[] = [];
  const llcCvTrace = new Float64Array(chains * E);
  let traceGap = 0;
  let traceGapVariance = 0;
  for (let c = 0; c < chains; c++) {
    const losses = Ln.subarray(c * E, (c + 1) * E);
    const quadratics = quad.subarray(c * E, (c + 1) * E);
    const corrected = Float64Array.from(losses, (l, s) => l - 0.5 * quadratics[s]);
    eqMc.push(losses.reduce((a, b) => a + b, 0) / E);
    eqCv.push(corrected.reduce((a, b) => a + b, 0) / E + 0.5 * traceTerm[c]);
    for (let s = 0; s < E; s++) llcCvTrace[c * E + s] = posterior.llc(corrected[s] + 0.5 * traceTerm[c]);
    varianceReduction.push(controlVariate ? finiteOrNull(variance(losses) / variance(corrected)) : null);
    traceGap += quadratics.reduce((a, b) => a + b, 0) / E - traceTerm[c];
    traceGapVariance += variance(quadratics) / E;
  }
  // The control variate is unbiased only if the HVP operator is linear, so that E_q[vᵀHv] = tr(HΣ_q).
  // A loss with kinks (ReLU) within the difference step of w* breaks that; two checks, and λ̂
  // falls back to the plain mean if either fails: the half-step HVPs, and the sample mean of
  // v_sᵀHv_s against the trace in standard errors.
  const consistencyZ = controlVariate ? traceGap / Math.sqrt(traceGapVariance) : NaN;
  const cvUsed = controlVariate && linearityFailures === 0 && Math.abs(consistencyZ) <= CV_CONSISTENCY_Z;
  const llcMc = eqMc.map((e) => posterior.llc(e));
  const llcCv = eqCv.map((e) => posterior.llc(e));
  const llcPerChain = cvUsed ? llcCv : llcMc;
  return { eqMc, eqCv, llcMc, llcCv, varianceReduction, llcCvTrace, consistencyZ, cvUsed, llcPerChain };
}

function variance(xs: Float64Array): number {
  let mean = 0;
  for (const x of xs) mean += x / xs.length;
  let sq = 0;
  for (const x of xs) sq += (x - mean) ** 2;
  return sq / (xs.length - 1);
}

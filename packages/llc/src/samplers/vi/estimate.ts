/**
 * λ̂ per chain from the evaluation draws: the plain Monte Carlo mean and the control variate, and
 * the checks that decide between them.
 */
import type { Posterior } from '../../posterior';
import { finiteOrNull } from './report';

/** Largest |z| of mean_s v_sᵀHv_s against tr(HΣ_q) at which the control variate is trusted (a 6e-5 false-alarm rate). */
const CV_CONSISTENCY_Z = 4;

/**
 * The least share of λ̂ that the loss's quadratic part at w* must explain, and the most
 * it may: outside [0.9, 1.1] the loss is far from quadratic over q. On a singular model that is
 * where a Gaussian family fails: along a curved valley of the zero-loss set (w₁w₂ = c, say) the
 * best Gaussian pays a quartic penalty the posterior does not, about ¼ per such direction, while
 * the quadratic part sees only the directions across the valley (docs/vi.md).
 */
export const QUADRATIC_SHARE_RANGE = { low: 0.9, high: 1.1 } as const;

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
  /**
   * nβ·½·tr(HΣ_q) over the control-variate λ̂, pooled over chains: the part of λ̂ the quadratic
   * model of the loss at w* explains (1 on a regular model); NaN without the control variate.
   */
  quadraticShare: number;
}

export function chainEstimates({ chains, E, Ln, quad, traceTerm, linearityFailures }: Evaluation, posterior: Pick<Posterior, 'llc' | 'nBeta'>, controlVariate: boolean): ChainEstimates {
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
  let quadratic = 0;
  for (let c = 0; c < chains; c++) quadratic += posterior.nBeta * 0.5 * traceTerm[c];
  // Over the control-variate λ̂ (the quadratic part plus the mean of what it leaves over), which
  // has far less Monte Carlo noise than the plain mean: on a quadratic loss the share is 1 to within
  // the noise of a zero-mean linear term.
  // Where the HVPs failed their checks (kinks) the quadratic model itself is unreliable: the share
  // is then measured against the plain mean, and only the checks' failure is reported.
  const quadraticShare = controlVariate ? quadratic / (cvUsed ? llcCv : llcMc).reduce((a, b) => a + b, 0) : NaN;
  return { eqMc, eqCv, llcMc, llcCv, varianceReduction, llcCvTrace, consistencyZ, cvUsed, llcPerChain, quadraticShare };
}

function variance(xs: Float64Array): number {
  let mean = 0;
  for (const x of xs) mean += x / xs.length;
  let sq = 0;
  for (const x of xs) sq += (x - mean) ** 2;
  return sq / (xs.length - 1);
}

/**
 * Why λ̂ from this family cannot be trusted here: the loss is far from quadratic over q, as the
 * quadratic share says or, where the control variate failed its checks, as the Hessian-vector
 * products themselves show (they change with the direction and the step: kinks near w*); or the
 * check was switched off with the control variate. Null when the loss is quadratic over q.
 */
export function quadraticShareWarning(e: Pick<ChainEstimates, 'quadraticShare' | 'cvUsed'>, controlVariate: boolean): string | null {
  const consequence = 'a singular model, on which VI’s Gaussian-mixture family overestimates λ̂ (docs/vi.md); compare with HMC or MCLMC';
  if (!controlVariate) return `with control_variate off VI cannot tell whether the loss is quadratic over q: on a singular model its Gaussian-mixture family overestimates λ̂ (docs/vi.md); compare with HMC or MCLMC`;
  if (!e.cvUsed) return `the loss is not quadratic over q (its Hessian-vector products at w* depend on the direction and the step, as at ReLU kinks): ${consequence}`;
  const share = e.quadraticShare;
  if (share >= QUADRATIC_SHARE_RANGE.low && share <= QUADRATIC_SHARE_RANGE.high) return null;
  return `the loss is far from quadratic over q (its quadratic model at w* predicts ${(100 * share).toFixed(0)}% of λ̂): ${consequence}`;
}

/**
 * Nesterov's dual averaging of each chain's log step size toward a target acceptance probability
 * (Nesterov 2009, "Primal-dual subgradient methods for convex problems"; Hoffman & Gelman 2014,
 * "The No-U-Turn Sampler", §3.2.1; Stan Reference Manual, "HMC algorithm parameters"). The
 * iterates are a stochastic-approximation search that drives the running mean of
 * (target − acceptance) to zero; they keep moving with the noise, so the step size used afterwards
 * is their weighted average ε̄.
 */

/**
 * Stan's constants: t0 damps the first iterations, γ sets how far the iterates may stray from μ,
 * κ makes the averaging forget the early iterates.
 */
const T0 = 10;
const GAMMA = 0.05;
const KAPPA = 0.75;

/** Per chain except `count`, the iterations since the last (re)start. */
export interface DualAveragingState {
  /** log(10·ε₀): the iterates are shrunk toward a step size larger than the start, which favours exploring big steps. */
  mu: Float64Array;
  logStep: Float64Array;
  logStepAvg: Float64Array;
  /** The damped running mean of target − acceptance. */
  hBar: Float64Array;
  count: number;
}

export function dualAveraging(targetAcceptance: number) {
  return {
    /** Starts, or restarts, from the given per-chain step sizes. */
    init(step: Float64Array): DualAveragingState {
      const chains = step.length;
      const s: DualAveragingState = { mu: new Float64Array(chains), logStep: new Float64Array(chains), logStepAvg: new Float64Array(chains), hBar: new Float64Array(chains), count: 0 };
      for (let c = 0; c < chains; c++) {
        s.mu[c] = Math.log(10 * step[c]);
        s.logStep[c] = Math.log(step[c]);
      }
      return s;
    },

    /** Takes each chain's acceptance probability from one transition; writes the next step sizes into `step`. */
    update(s: DualAveragingState, accept: Float64Array, step: Float64Array): void {
      s.count++;
      const eta = 1 / (s.count + T0);
      const w = Math.pow(s.count, -KAPPA);
      for (let c = 0; c < step.length; c++) {
        s.hBar[c] = (1 - eta) * s.hBar[c] + eta * (targetAcceptance - accept[c]);
        s.logStep[c] = s.mu[c] - (Math.sqrt(s.count) / GAMMA) * s.hBar[c];
        s.logStepAvg[c] = w * s.logStep[c] + (1 - w) * s.logStepAvg[c];
        step[c] = Math.exp(s.logStep[c]);
      }
    },

    /** Writes the averaged step sizes ε̄ into `step`. */
    final(s: DualAveragingState, step: Float64Array): void {
      for (let c = 0; c < step.length; c++) step[c] = Math.exp(s.logStepAvg[c]);
    },
  };
}

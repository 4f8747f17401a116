/**
 * The tuning of MCLMC's momentum decoherence length L and step size ε (Robnik, De Luca, Silverstein
 * & Seljak 2023, "Microcanonical Hamiltonian Monte Carlo", JMLR 24; Robnik & Seljak 2023,
 * "Microcanonical Langevin Monte Carlo"; docs/mathematics.md, "MCLMC"), re-implemented from
 * BlackJAX 1.2.5's `mclmc_find_L_and_step_size` (blackjax/adaptation/mclmc_adaptation.py, with the
 * ESS of blackjax/diagnostics.py) and, like it, given the MCLMC transition to run. It runs on all
 * chains jointly, as the burn-in:
 *   - phases 1–2 adapt ε so that the energy-change variance per dimension approaches
 *     desired_energy_var: MCLMC has no Metropolis correction, so this variance is what bounds the
 *     bias; phase 2 also measures the posterior variances, which give L (and the diagonal
 *     preconditioner σ, after which ε is re-adapted for ⌊n2/3⌋ steps);
 *   - phase 3 sets L = 0.4·ε·mean(steps/ESS) at fixed ε, L from how fast the chains decorrelate.
 * A chain whose step goes non-finite is rolled back and ε capped (BlackJAX `handle_nans`).
 */
import { ess } from '../../diagnostics';
import type { FloatArray } from '../../mlp';
import type { Posterior } from '../../posterior';
import type { Key } from '../../rng';

/** Added to the energy-error ratio ξ so that log ξ stays finite (BlackJAX). */
const XI_FLOOR = 1e-8;
/** After a non-finite step the step size may not exceed 0.8 of the one that failed (BlackJAX). */
const FAILED_STEP_SHRINK = 0.8;
/** L = L_FACTOR·ε·mean(steps/ESS) in phase 3 (BlackJAX's Lfactor). */
const L_FACTOR = 0.4;
/** Initial guesses of `mclmc_find_L_and_step_size`: L = √d, ε = √d·0.25. */
const INITIAL_STEP_FRACTION_OF_L = 0.25;
/** Draws per chain the ESS of phase 3 needs (the project's ESS is undefined below this). */
export const MIN_ESS_STEPS = 4;

export interface TuningOptions {
  tune: boolean;
  num_steps: number;
  frac_tune1: number;
  frac_tune2: number;
  frac_tune3: number;
  desired_energy_var: number;
  trust_in_estimate: number;
  num_effective_samples: number;
  diagonal_preconditioning: boolean;
}

/**
 * Tuning steps of each phase: ⌊num_steps·frac⌋. (Some 1.2.x snapshots add one step to phases 1
 * and 2; without it a zero fraction cleanly skips its phase.)
 */
export function phaseSteps(o: Pick<TuningOptions, 'num_steps' | 'frac_tune1' | 'frac_tune2' | 'frac_tune3'>): [number, number, number] {
  return [Math.floor(o.num_steps * o.frac_tune1), Math.floor(o.num_steps * o.frac_tune2), Math.floor(o.num_steps * o.frac_tune3)];
}

/** Which part of the tuning a warm-up step belongs to. */
type TuningPhase = 'step_size' | 'step_size_and_variance' | 'preconditioner_readjust' | 'L_from_ess';

export interface TuningSchedule {
  step_size: number;
  step_size_and_variance: number;
  /** BlackJAX re-adapts ε for ⌊n2/3⌋ steps after switching the preconditioner on. */
  preconditioner_readjust: number;
  L_from_ess: number;
}

/** The tuning schedule for these options: the warm-up steps of each phase (all zero without tuning). */
export function tuningSchedule(o: TuningOptions): TuningSchedule {
  if (!o.tune) return { step_size: 0, step_size_and_variance: 0, preconditioner_readjust: 0, L_from_ess: 0 };
  const [n1, n2, n3] = phaseSteps(o);
  return { step_size: n1, step_size_and_variance: n2, preconditioner_readjust: o.diagonal_preconditioning ? Math.floor(n2 / 3) : 0, L_from_ess: n3 };
}

export function totalSteps(s: TuningSchedule): number {
  return s.step_size + s.step_size_and_variance + s.preconditioner_readjust + s.L_from_ess;
}

/** What the MCLMC transition runs with (BlackJAX's `MCLMCAdaptationState`). */
export interface MclmcParameters {
  L: number;
  stepSize: number;
  /** The diagonal preconditioner (√ of the measured variances); ones without preconditioning. */
  sqrtDiagCov: Float64Array;
}

/** The part of the sampler's state the tuning reads, rolls back and tunes. */
export interface TunedChains extends MclmcParameters {
  /** Positions, chains × d, in the kernel's precision. */
  w: FloatArray;
  /** Unit-norm velocities, chains × d. */
  u: Float64Array;
  /** ∇log π at w (float64, chains × d). */
  g: Float64Array;
  logDensity: Float64Array;
  /** L_n at w, from the last gradient evaluation. */
  loss: Float64Array;
  /** The last step's total energy change per chain: kinetic change − Δlog π. */
  energyChange: Float64Array;
}

/** The state of `make_L_step_size_adaptation` and `make_adaptation_L`, shared by all chains. */
export interface TuningState {
  /** Decayed sums of the weights and of weight·ξ/ε⁶ (BlackJAX's `time` and `x_average`). */
  time: number;
  xAverage: number;
  stepSizeMax: number;
  /** Step-size-weighted sums of (w − w*) and (w − w*)² over all chains in phase 2. */
  varianceWeight: number;
  varianceSum: Float64Array;
  varianceSumSq: Float64Array;
  /** Phase-3 positions, dimension-major: [j][chain][step], the layout the ESS reads. */
  samples: Float64Array;
  /** Last successful state per chain, restored when a tuning step goes non-finite. */
  saved: { w: FloatArray; u: Float64Array; g: Float64Array; logDensity: Float64Array; loss: Float64Array };
  failed: Uint8Array;
}

/** The tuning of L and ε around `transition`, one MCLMC step of every chain with the parameters in its state. */
export function mclmcTuning<S extends TunedChains>(transition: (s: S, key: Key) => void, posterior: Posterior, o: TuningOptions) {
  const { d, chains, center } = posterior;
  const schedule = tuningSchedule(o);
  const varianceStart = schedule.step_size;
  const readjustStart = varianceStart + schedule.step_size_and_variance;
  const essStart = readjustStart + schedule.preconditioner_readjust;
  const decayRate = (o.num_effective_samples - 1) / (o.num_effective_samples + 1);

  const phaseOf = (t: number): TuningPhase =>
    t < varianceStart ? 'step_size' : t < readjustStart ? 'step_size_and_variance' : t < essStart ? 'preconditioner_readjust' : 'L_from_ess';

  const save = (tuning: TuningState, s: S) => {
    const { saved } = tuning;
    saved.w.set(s.w);
    saved.u.set(s.u);
    saved.g.set(s.g);
    saved.logDensity.set(s.logDensity);
    saved.loss.set(s.loss);
  };

  /**
   * BlackJAX `handle_nans`, per chain: a chain whose new position or energy change is not finite
   * goes back to its previous state and counts as a zero energy change. Returns whether any failed.
   */
  const restoreFailedChains = (tuning: TuningState, s: S): boolean => {
    const { saved, failed } = tuning;
    let anyFailed = false;
    for (let c = 0; c < chains; c++) {
      const base = c * d;
      let finite = Number.isFinite(s.energyChange[c]);
      for (let j = 0; j < d && finite; j++) finite = Number.isFinite(s.w[base + j]);
      failed[c] = finite ? 0 : 1;
      if (finite) continue;
      anyFailed = true;
      s.w.set(saved.w.subarray(base, base + d), base);
      s.u.set(saved.u.subarray(base, base + d), base);
      s.g.set(saved.g.subarray(base, base + d), base);
      s.logDensity[c] = saved.logDensity[c];
      s.loss[c] = saved.loss[c];
      s.energyChange[c] = 0;
    }
    return anyFailed;
  };

  /**
   * The step-size predictor of `make_L_step_size_adaptation`, on the chain average of the energy
   * error ξ = ΔE²/(d·desired_energy_var): with Var[ΔE] ∝ ε⁶, each step proposes
   * ε = (Σ_t w_t·ξ_t/ε_t⁶ / Σ_t w_t)^(−1/6), sums decaying by (N_eff − 1)/(N_eff + 1) and weights
   * w = exp(−½·(ln ξ/(6·trust_in_estimate))²) that discount steps far from the target; ε never
   * exceeds 0.8 of a step size that produced a non-finite state.
   */
  const adaptStepSize = (tuning: TuningState, s: S) => {
    const eps = s.stepSize;
    if (restoreFailedChains(tuning, s)) tuning.stepSizeMax = FAILED_STEP_SHRINK * eps;
    let squaredEnergyChange = 0;
    for (let c = 0; c < chains; c++) squaredEnergyChange += s.energyChange[c] * s.energyChange[c];
    const xi = squaredEnergyChange / chains / (d * o.desired_energy_var) + XI_FLOOR;
    const weight = Math.exp(-0.5 * (Math.log(xi) / (6 * o.trust_in_estimate)) ** 2);
    tuning.xAverage = decayRate * tuning.xAverage + weight * (xi / eps ** 6);
    tuning.time = decayRate * tuning.time + weight;
    // Weights that all underflowed carry no information (BlackJAX would divide 0 by 0 here).
    if (tuning.time > 0) s.stepSize = Math.min((tuning.xAverage / tuning.time) ** (-1 / 6), tuning.stepSizeMax);
  };

  /** Phase 2: the running, step-size-weighted moments of every successful chain's position. */
  const accumulateVariance = (tuning: TuningState, s: S) => {
    for (let c = 0; c < chains; c++) {
      if (tuning.failed[c]) continue;
      tuning.varianceWeight += s.stepSize;
      for (let j = 0, i = c * d; j < d; j++, i++) {
        // Centred at w* so that E[x²] − E[x]² does not cancel catastrophically.
        const x = s.w[i] - center[j];
        tuning.varianceSum[j] += s.stepSize * x;
        tuning.varianceSumSq[j] += s.stepSize * x * x;
      }
    }
  };

  /** End of phase 2: L = √(Σ variances); with preconditioning σ = √variances and L = √d. */
  const setLFromVariance = (tuning: TuningState, s: S) => {
    let total = 0;
    for (let j = 0; j < d; j++) {
      const mean = tuning.varianceSum[j] / tuning.varianceWeight;
      const variance = tuning.varianceSumSq[j] / tuning.varianceWeight - mean * mean;
      total += variance;
      if (o.diagonal_preconditioning) s.sqrtDiagCov[j] = Math.sqrt(variance);
    }
    s.L = o.diagonal_preconditioning ? Math.sqrt(d) : Math.sqrt(total);
    if (!(s.L > 0) || !s.sqrtDiagCov.every((v) => v > 0))
      throw new Error(`MCLMC tuning failed: the position variances measured in phase 2 are degenerate (Σ variances = ${total})`);
    if (o.diagonal_preconditioning) {
      // The step size is re-adapted from scratch under the new preconditioner.
      tuning.time = 0;
      tuning.xAverage = 0;
      tuning.stepSizeMax = Infinity;
    }
  };

  const recordEssSample = (tuning: TuningState, s: S, index: number) => {
    const steps = schedule.L_from_ess;
    const block = chains * steps;
    for (let c = 0; c < chains; c++) for (let j = 0; j < d; j++) tuning.samples[j * block + c * steps + index] = s.w[c * d + j];
  };

  return {
    schedule,
    steps: totalSteps(schedule),

    /** The tuning state, and BlackJAX's initial L and ε in `s`. */
    init(s: S): TuningState {
      s.L = Math.sqrt(d);
      s.stepSize = s.L * INITIAL_STEP_FRACTION_OF_L;
      return {
        time: 0,
        xAverage: 0,
        stepSizeMax: Infinity,
        varianceWeight: 0,
        varianceSum: new Float64Array(d),
        varianceSumSq: new Float64Array(d),
        samples: new Float64Array(d * chains * schedule.L_from_ess),
        saved: {
          w: posterior.array(chains * d),
          u: new Float64Array(chains * d),
          g: new Float64Array(chains * d),
          logDensity: new Float64Array(chains),
          loss: new Float64Array(chains),
        },
        failed: new Uint8Array(chains),
      };
    },

    /** Tuning step `t`: one transition, then what its phase learns from it, written to the parameters in `s`. */
    update(tuning: TuningState, s: S, key: Key, t: number): void {
      const phase = phaseOf(t);
      if (phase === 'L_from_ess') {
        transition(s, key);
        recordEssSample(tuning, s, t - essStart);
        return;
      }
      save(tuning, s);
      transition(s, key);
      adaptStepSize(tuning, s);
      if (phase === 'step_size_and_variance') {
        accumulateVariance(tuning, s);
        if (t === readjustStart - 1) setLFromVariance(tuning, s);
      }
    },

    /**
     * After the last tuning step, phase 3 (`make_adaptation_L`): L = 0.4·ε·mean_j(steps/ESS_j).
     * BlackJAX measures one chain; here the ESS of each coordinate pools all chains, so the
     * per-chain equivalent of steps/ESS is chains·steps/ESS.
     */
    final(tuning: TuningState, s: S): void {
      const steps = schedule.L_from_ess;
      if (steps === 0) return;
      const block = chains * steps;
      let meanInverseEss = 0;
      for (let j = 0; j < d; j++) meanInverseEss += block / ess(tuning.samples.subarray(j * block, (j + 1) * block), chains, steps);
      meanInverseEss /= d;
      s.L = L_FACTOR * s.stepSize * meanInverseEss;
      if (!(s.L > 0 && Number.isFinite(s.L)))
        throw new Error(`MCLMC tuning failed: the effective sample size of phase 3 is undefined (L = ${s.L}); the chains produced non-finite or constant positions`);
    },
  };
}

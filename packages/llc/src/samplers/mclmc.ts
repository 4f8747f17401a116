/**
 * Microcanonical Langevin Monte Carlo (MCLMC; Robnik, De Luca, Silverstein & Seljak 2023,
 * "Microcanonical Hamiltonian Monte Carlo", JMLR 24; Robnik & Seljak 2023, "Microcanonical Langevin
 * Monte Carlo") for the localized tempered posterior (docs/mathematics.md),
 *   log π(w) = −nβ·L_n(w) − (γ/2)·‖w − w*‖²,   ∇log π = −nβ·∇L_n − γ·(w − w*),
 * re-implemented from BlackJAX 1.2.x, the `sqrt_diag_cov` / `with_isokinetic_maruyama` line the
 * reference ran (1.2.5): blackjax/mcmc/mclmc.py, blackjax/mcmc/integrators.py,
 * blackjax/adaptation/mclmc_adaptation.py and the ESS of blackjax/diagnostics.py.
 *
 * - Dynamics: unit-norm velocity u, isokinetic (ESH, Ver Steeg & Galstyan 2021) velocity update
 *   and Euclidean position update composed as the McLachlan (b1, ½, 1 − 2b1, ½, b1),
 *   b1 = 0.1931833275037836, or velocity Verlet (½, 1, ½) scheme; the last gradient of a step is
 *   the first of the next, so a step costs 2 (McLachlan) or 1 (velocity Verlet) full-data
 *   gradients. With a diagonal preconditioner σ the gradient is scaled by σ before the velocity
 *   update and the position moves along σ⊙u.
 * - Noise: the partial velocity refresh u ← (u + νz)/‖u + νz‖, ν = √((e^{2·(ε/2)/L} − 1)/d), once
 *   before and once after each deterministic step (`with_isokinetic_maruyama`).
 * - Tuning (`mclmc_find_L_and_step_size`), run on all chains jointly as the burn-in:
 *   phases 1–2 adapt ε so that the energy-change variance per dimension approaches
 *   desired_energy_var; phase 2 also measures the posterior variances, which give L (and σ);
 *   phase 3 sets L = 0.4·ε·mean(steps/ESS) at fixed ε. The chains then sample from the tuned
 *   state, so the tuning steps are the discarded burn-in.
 */
import { z } from 'zod';
import { ess } from '../diagnostics';
import type { FloatArray } from '../mlp';
import { fillNormal, fold, Key } from '../rng';
import { Phase, runChains, StepSampler } from './loop';
import type { Posterior } from '../posterior';
import type { SamplerModule } from './types';

/** Integrator coefficients, alternating velocity (even index) and position (odd index) sub-steps. */
const MCLACHLAN_B1 = 0.1931833275037836;
const INTEGRATORS = {
  isokinetic_mclachlan: [MCLACHLAN_B1, 0.5, 1 - 2 * MCLACHLAN_B1, 0.5, MCLACHLAN_B1],
  isokinetic_velocity_verlet: [0.5, 1, 0.5],
} as const;

/** BlackJAX's guard for normalising a vector: below this norm it is left as it is. */
const NORM_TOL = 1e-13;
/** Added to the energy-error ratio ξ so that log ξ stays finite (BlackJAX). */
const XI_FLOOR = 1e-8;
/** After a non-finite step the step size may not exceed 0.8 of the one that failed (BlackJAX). */
const FAILED_STEP_SHRINK = 0.8;
/** L = L_FACTOR·ε·mean(steps/ESS) in phase 3 (BlackJAX's Lfactor). */
const L_FACTOR = 0.4;
/** Initial guesses of `mclmc_find_L_and_step_size`: L = √d, ε = √d·0.25. */
const INITIAL_STEP_FRACTION_OF_L = 0.25;
/** Draws per chain the ESS of phase 3 needs (the project's ESS is undefined below this). */
const MIN_ESS_STEPS = 4;

const fraction = z.number().min(0).max(1);

/**
 * Tuning steps of each phase: ⌊num_steps·frac⌋. (Some 1.2.x snapshots add one step to phases 1
 * and 2; without it a zero fraction cleanly skips its phase.)
 */
function phaseSteps(o: { num_steps: number; frac_tune1: number; frac_tune2: number; frac_tune3: number }): [number, number, number] {
  return [Math.floor(o.num_steps * o.frac_tune1), Math.floor(o.num_steps * o.frac_tune2), Math.floor(o.num_steps * o.frac_tune3)];
}

const options = z
  .strictObject({
    draws: z.int().min(1),
    L: z.number().positive(),
    step_size: z.number().positive(),
    integrator: z.enum(['isokinetic_mclachlan', 'isokinetic_velocity_verlet']),
    tune: z.boolean(),
    num_steps: z.int().min(1),
    frac_tune1: fraction,
    frac_tune2: fraction,
    frac_tune3: fraction,
    desired_energy_var: z.number().positive(),
    trust_in_estimate: z.number().positive(),
    num_effective_samples: z.number().min(1),
    diagonal_preconditioning: z.boolean(),
    chains: z.int().min(1).max(1024),
    dtype: z.enum(['float32', 'float64']),
  })
  .superRefine((o, ctx) => {
    if (!o.tune) {
      if (o.diagonal_preconditioning)
        ctx.addIssue({ code: 'custom', path: ['diagonal_preconditioning'], message: 'needs tune: true (the preconditioner is estimated during tuning)' });
      return;
    }
    const steps = phaseSteps(o);
    const fracs = [o.frac_tune1, o.frac_tune2, o.frac_tune3];
    const minimum = [1, 2, MIN_ESS_STEPS];
    const why = ['', ' (a variance needs at least 2 draws)', ` (the ESS needs at least ${MIN_ESS_STEPS} draws)`];
    for (let k = 0; k < 3; k++) {
      if (fracs[k] > 0 && steps[k] < minimum[k])
        ctx.addIssue({
          code: 'custom',
          path: [`frac_tune${k + 1}`],
          message: `is ${fracs[k]}, which gives ⌊num_steps·frac_tune${k + 1}⌋ = ${steps[k]} tuning steps with num_steps = ${o.num_steps}; use 0 to skip the phase or at least ${minimum[k]} steps${why[k]}`,
        });
    }
    if (steps.every((s) => s === 0))
      ctx.addIssue({ code: 'custom', path: ['tune'], message: 'is true but every tuning phase has 0 steps; set tune: false to sample with L and step_size as given' });
    if (o.diagonal_preconditioning && steps[1] === 0)
      ctx.addIssue({ code: 'custom', path: ['diagonal_preconditioning'], message: 'needs phase 2 (frac_tune2 > 0), where the posterior variances are measured' });
  });

export type MclmcOptions = z.infer<typeof options>;

/** Which part of the tuning a warm-up step belongs to. */
type TuningPhase = 'step_size' | 'step_size_and_variance' | 'preconditioner_readjust' | 'L_from_ess';

export interface TuningSchedule {
  step_size: number;
  step_size_and_variance: number;
  /** BlackJAX re-adapts ε for ⌊n2/3⌋ steps after switching the preconditioner on. */
  preconditioner_readjust: number;
  L_from_ess: number;
}

export interface MclmcState {
  /** Positions, chains × d, in the kernel's precision. */
  w: FloatArray;
  /** Unit-norm velocities, chains × d. */
  u: Float64Array;
  /** ∇log π at w (float64, chains × d). */
  g: Float64Array;
  logDensity: Float64Array;
  /** L_n at w, from the last gradient evaluation. */
  loss: Float64Array;
  logDensityBefore: Float64Array;
  kineticChange: Float64Array;
  /** The last step's total energy change per chain: kinetic change − Δlog π. */
  energyChange: Float64Array;
  noise: Float64Array;
  /** Gradient evaluations per chain so far (each is one full-data gradient). */
  grads: number;
  L: number;
  stepSize: number;
  /** The diagonal preconditioner (√ of the measured variances); ones without preconditioning. */
  sqrtDiagCov: Float64Array;
  tuning: TuningState;
  /** Σ ΔE, Σ ΔE² and the count over all chains and sampling steps. */
  energySum: number;
  energySumSq: number;
  energyCount: number;
}

/** The state of `make_L_step_size_adaptation` and `make_adaptation_L`, shared by all chains. */
interface TuningState {
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

/** The tuning schedule for these options: the warm-up steps of each phase (all zero without tuning). */
export function tuningSchedule(o: MclmcOptions): TuningSchedule {
  if (!o.tune) return { step_size: 0, step_size_and_variance: 0, preconditioner_readjust: 0, L_from_ess: 0 };
  const [n1, n2, n3] = phaseSteps(o);
  return { step_size: n1, step_size_and_variance: n2, preconditioner_readjust: o.diagonal_preconditioning ? Math.floor(n2 / 3) : 0, L_from_ess: n3 };
}

function totalSteps(s: TuningSchedule): number {
  return s.step_size + s.step_size_and_variance + s.preconditioner_readjust + s.L_from_ess;
}

/** The discarded burn-in: the tuning steps, or as many steps at the given L and ε without tuning. */
function burnInSteps(o: MclmcOptions): number {
  return o.tune ? totalSteps(tuningSchedule(o)) : phaseSteps(o).reduce((a, b) => a + b, 0);
}

/**
 * MCLMC as a step sampler for the shared loop: warm-up steps are the tuning phases in order,
 * sampling steps run with the tuned L, ε and preconditioner.
 */
export function mclmcSampler(posterior: Posterior, o: MclmcOptions): StepSampler<MclmcState> {
  const { d, chains, center } = posterior;
  if (d < 2) throw new RangeError(`MCLMC needs at least 2 parameters (the velocity lives on the unit sphere), got d = ${d}`);
  const coefficients = INTEGRATORS[o.integrator];
  const schedule = tuningSchedule(o);
  const varianceStart = schedule.step_size;
  const readjustStart = varianceStart + schedule.step_size_and_variance;
  const essStart = readjustStart + schedule.preconditioner_readjust;
  const tuningEnd = essStart + schedule.L_from_ess;
  const decayRate = (o.num_effective_samples - 1) / (o.num_effective_samples + 1);

  const phaseOf = (t: number): TuningPhase =>
    t < varianceStart ? 'step_size' : t < readjustStart ? 'step_size_and_variance' : t < essStart ? 'preconditioner_readjust' : 'L_from_ess';

  /** Log density and its gradient at s.w for every chain, in one batched kernel call: log π = −U. */
  const evaluate = (s: MclmcState) => {
    posterior.gradient(s.w, s.g, s.loss, s.logDensity);
    s.grads++;
    for (let i = 0; i < chains * d; i++) s.g[i] = -s.g[i];
    for (let c = 0; c < chains; c++) s.logDensity[c] = -s.logDensity[c];
  };

  /**
   * The ESH velocity update over time `tau` (BlackJAX `esh_dynamics_momentum_update_one_step`):
   * with e = σ⊙∇log π / ‖σ⊙∇log π‖, δ = tau·‖σ⊙∇log π‖/(d − 1), ζ = e^{−δ},
   *   u ← normalise(e·(1 − ζ)(1 + ζ + (u·e)(1 − ζ)) + 2ζ·u),
   * which is the exact solution of the isokinetic velocity equation for a constant gradient; the
   * kinetic energy changes by (d − 1)·(δ − ln 2 + ln(1 + u·e + (1 − u·e)ζ²)).
   */
  const updateVelocity = (s: MclmcState, tau: number) => {
    const { u, g, sqrtDiagCov: sigma } = s;
    for (let c = 0; c < chains; c++) {
      const base = c * d;
      let gradNormSq = 0;
      for (let j = 0; j < d; j++) {
        const scaled = g[base + j] * sigma[j];
        gradNormSq += scaled * scaled;
      }
      const gradNorm = Math.sqrt(gradNormSq);
      const toUnit = gradNorm > NORM_TOL ? 1 / gradNorm : 1;
      let projection = 0;
      for (let j = 0; j < d; j++) projection += u[base + j] * g[base + j] * sigma[j] * toUnit;
      const delta = (tau * gradNorm) / (d - 1);
      const zeta = Math.exp(-delta);
      const alongGradient = (1 - zeta) * (1 + zeta + projection * (1 - zeta)) * toUnit;
      let normSq = 0;
      for (let j = 0; j < d; j++) {
        const v = alongGradient * g[base + j] * sigma[j] + 2 * zeta * u[base + j];
        u[base + j] = v;
        normSq += v * v;
      }
      const norm = Math.sqrt(normSq);
      if (norm > NORM_TOL) for (let j = 0; j < d; j++) u[base + j] /= norm;
      s.kineticChange[c] += (delta - Math.LN2 + Math.log(1 + projection + (1 - projection) * zeta * zeta)) * (d - 1);
    }
  };

  /** w ← w + tau·σ⊙u, then a fresh gradient: the position sub-step. */
  const updatePosition = (s: MclmcState, tau: number) => {
    const { w, u, sqrtDiagCov: sigma } = s;
    for (let c = 0; c < chains; c++) for (let j = 0, i = c * d; j < d; j++, i++) w[i] += tau * u[i] * sigma[j];
    evaluate(s);
  };

  /** Partial refresh over time `tau`: u ← normalise(u + νz), ν = √((e^{2·tau/L} − 1)/d). */
  const refresh = (s: MclmcState, key: Key, tau: number) => {
    const nu = Math.sqrt((Math.exp((2 * tau) / s.L) - 1) / d);
    fillNormal(key, s.noise);
    const { u, noise } = s;
    for (let c = 0; c < chains; c++) {
      const base = c * d;
      let normSq = 0;
      for (let j = 0; j < d; j++) {
        const v = u[base + j] + nu * noise[base + j];
        u[base + j] = v;
        normSq += v * v;
      }
      const norm = Math.sqrt(normSq);
      for (let j = 0; j < d; j++) u[base + j] /= norm;
    }
  };

  /** One MCLMC step of every chain; fills s.energyChange. */
  const advance = (s: MclmcState, key: Key) => {
    const eps = s.stepSize;
    s.logDensityBefore.set(s.logDensity);
    s.kineticChange.fill(0);
    refresh(s, fold(key, 0), eps / 2);
    for (let k = 0; k < coefficients.length; k++) {
      if (k % 2 === 0) updateVelocity(s, eps * coefficients[k]);
      else updatePosition(s, eps * coefficients[k]);
    }
    refresh(s, fold(key, 1), eps / 2);
    for (let c = 0; c < chains; c++) s.energyChange[c] = s.kineticChange[c] - s.logDensity[c] + s.logDensityBefore[c];
  };

  const save = (s: MclmcState) => {
    const { saved } = s.tuning;
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
  const restoreFailedChains = (s: MclmcState): boolean => {
    const { saved, failed } = s.tuning;
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
  const adaptStepSize = (s: MclmcState) => {
    const t = s.tuning;
    const eps = s.stepSize;
    if (restoreFailedChains(s)) t.stepSizeMax = FAILED_STEP_SHRINK * eps;
    let squaredEnergyChange = 0;
    for (let c = 0; c < chains; c++) squaredEnergyChange += s.energyChange[c] * s.energyChange[c];
    const xi = squaredEnergyChange / chains / (d * o.desired_energy_var) + XI_FLOOR;
    const weight = Math.exp(-0.5 * (Math.log(xi) / (6 * o.trust_in_estimate)) ** 2);
    t.xAverage = decayRate * t.xAverage + weight * (xi / eps ** 6);
    t.time = decayRate * t.time + weight;
    // Weights that all underflowed carry no information (BlackJAX would divide 0 by 0 here).
    if (t.time > 0) s.stepSize = Math.min((t.xAverage / t.time) ** (-1 / 6), t.stepSizeMax);
  };

  /** Phase 2: the running, step-size-weighted moments of every successful chain's position. */
  const accumulateVariance = (s: MclmcState) => {
    const t = s.tuning;
    for (let c = 0; c < chains; c++) {
      if (t.failed[c]) continue;
      t.varianceWeight += s.stepSize;
      for (let j = 0, i = c * d; j < d; j++, i++) {
        // Centred at w* so that E[x²] − E[x]² does not cancel catastrophically.
        const x = s.w[i] - center[j];
        t.varianceSum[j] += s.stepSize * x;
        t.varianceSumSq[j] += s.stepSize * x * x;
      }
    }
  };

  /** End of phase 2: L = √(Σ variances); with preconditioning σ = √variances and L = √d. */
  const setLFromVariance = (s: MclmcState) => {
    const t = s.tuning;
    let total = 0;
    for (let j = 0; j < d; j++) {
      const mean = t.varianceSum[j] / t.varianceWeight;
      const variance = t.varianceSumSq[j] / t.varianceWeight - mean * mean;
      total += variance;
      if (o.diagonal_preconditioning) s.sqrtDiagCov[j] = Math.sqrt(variance);
    }
    s.L = o.diagonal_preconditioning ? Math.sqrt(d) : Math.sqrt(total);
    if (!(s.L > 0) || !s.sqrtDiagCov.every((v) => v > 0))
      throw new Error(`MCLMC tuning failed: the position variances measured in phase 2 are degenerate (Σ variances = ${total})`);
    if (o.diagonal_preconditioning) {
      // The step size is re-adapted from scratch under the new preconditioner.
      t.time = 0;
      t.xAverage = 0;
      t.stepSizeMax = Infinity;
    }
  };

  /**
   * End of phase 3 (`make_adaptation_L`): L = 0.4·ε·mean_j(steps/ESS_j). BlackJAX measures one
   * chain; here the ESS of each coordinate pools all chains, so the per-chain equivalent of
   * steps/ESS is chains·steps/ESS.
   */
  const setLFromEss = (s: MclmcState) => {
    const steps = schedule.L_from_ess;
    const block = chains * steps;
    let meanInverseEss = 0;
    for (let j = 0; j < d; j++) meanInverseEss += block / ess(s.tuning.samples.subarray(j * block, (j + 1) * block), chains, steps);
    meanInverseEss /= d;
    s.L = L_FACTOR * s.stepSize * meanInverseEss;
    if (!(s.L > 0 && Number.isFinite(s.L)))
      throw new Error(`MCLMC tuning failed: the effective sample size of phase 3 is undefined (L = ${s.L}); the chains produced non-finite or constant positions`);
  };

  const recordEssSample = (s: MclmcState, index: number) => {
    const steps = schedule.L_from_ess;
    const block = chains * steps;
    for (let c = 0; c < chains; c++) for (let j = 0; j < d; j++) s.tuning.samples[j * block + c * steps + index] = s.w[c * d + j];
  };

  const tuneStep = (s: MclmcState, key: Key, t: number) => {
    const phase = phaseOf(t);
    if (phase === 'L_from_ess') {
      advance(s, key);
      recordEssSample(s, t - essStart);
      if (t === tuningEnd - 1) setLFromEss(s);
      return;
    }
    save(s);
    advance(s, key);
    adaptStepSize(s);
    if (phase === 'step_size_and_variance') {
      accumulateVariance(s);
      if (t === readjustStart - 1) setLFromVariance(s);
    }
  };

  const initialL = Math.sqrt(d);
  return {
    init: (positions, key) => {
      const s: MclmcState = {
        w: positions,
        u: new Float64Array(chains * d),
        g: new Float64Array(chains * d),
        logDensity: new Float64Array(chains),
        loss: new Float64Array(chains),
        logDensityBefore: new Float64Array(chains),
        kineticChange: new Float64Array(chains),
        energyChange: new Float64Array(chains),
        noise: new Float64Array(chains * d),
        grads: 0,
        L: o.tune ? initialL : o.L,
        stepSize: o.tune ? initialL * INITIAL_STEP_FRACTION_OF_L : o.step_size,
        sqrtDiagCov: new Float64Array(d).fill(1),
        tuning: {
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
        },
        energySum: 0,
        energySumSq: 0,
        energyCount: 0,
      };
      // A uniformly random direction per chain (BlackJAX `generate_unit_vector`).
      fillNormal(key, s.u);
      for (let c = 0; c < chains; c++) {
        const row = s.u.subarray(c * d, (c + 1) * d);
        const norm = Math.sqrt(row.reduce((sum, v) => sum + v * v, 0));
        for (let j = 0; j < d; j++) row[j] /= norm;
      }
      evaluate(s);
      return s;
    },
    step: (s, key, phase: Phase, t) => {
      if (phase === 'warmup') {
        if (o.tune) tuneStep(s, key, t);
        else advance(s, key);
        return;
      }
      advance(s, key);
      for (let c = 0; c < chains; c++) {
        s.energySum += s.energyChange[c];
        s.energySumSq += s.energyChange[c] * s.energyChange[c];
      }
      s.energyCount += chains;
      return { energy_change: s.energyChange };
    },
    positions: (s) => s.w,
    losses: (s) => s.loss,
    // Full-batch gradients: one gradient is one full-gradient equivalent.
    work: (s) => ({ grads: s.grads, fge: s.grads }),
    diagnostics: (s) => {
      const meanEnergyChange = s.energySum / s.energyCount;
      return {
        tuned: o.tune,
        L: s.L,
        step_size: s.stepSize,
        integrator: o.integrator,
        grads_per_step: (coefficients.length - 1) / 2,
        tuning_steps: { ...schedule },
        preconditioner: o.diagonal_preconditioning
          ? { min: s.sqrtDiagCov.reduce((a, b) => Math.min(a, b)), max: s.sqrtDiagCov.reduce((a, b) => Math.max(a, b)) }
          : null,
        energy_change: {
          mean_per_dim: meanEnergyChange / d,
          var_per_dim: (s.energySumSq / s.energyCount - meanEnergyChange * meanEnergyChange) / d,
          desired_var_per_dim: o.desired_energy_var,
        },
      };
    },
  };
}

export const mclmc: SamplerModule<typeof options> = {
  options,

  precision: (o) => ({ dtype: o.dtype, chains: o.chains, maxBatch: 0 }),

  run(posterior, o, key, progress) {
    const sampler = mclmcSampler(posterior, o);
    return runChains(sampler, posterior, { warmup: burnInSteps(o), steps: o.draws, recordEvery: 1 }, key, progress);
  },
};

export default mclmc;

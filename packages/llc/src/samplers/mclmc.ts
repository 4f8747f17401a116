/**
 * Microcanonical Langevin Monte Carlo (MCLMC; Robnik, De Luca, Silverstein & Seljak 2023,
 * "Microcanonical Hamiltonian Monte Carlo", JMLR 24; Robnik & Seljak 2023, "Microcanonical Langevin
 * Monte Carlo") for the localized tempered posterior (docs/mathematics.md),
 *   log π(w) = −nβ·L_n(w) − (γ/2)·‖w − w*‖²,   ∇log π = −nβ·∇L_n − γ·(w − w*),
 * re-implemented from BlackJAX 1.2.x, the `sqrt_diag_cov` / `with_isokinetic_maruyama` line the
 * reference ran (1.2.5): blackjax/mcmc/mclmc.py and blackjax/mcmc/integrators.py.
 *
 * - Dynamics: unit-norm velocity u, isokinetic (ESH, Ver Steeg & Galstyan 2021) velocity update
 *   and Euclidean position update composed as the McLachlan (b1, ½, 1 − 2b1, ½, b1),
 *   b1 = 0.1931833275037836, or velocity Verlet (½, 1, ½) scheme; the last gradient of a step is
 *   the first of the next, so a step costs 2 (McLachlan) or 1 (velocity Verlet) full-data
 *   gradients. With a diagonal preconditioner σ the gradient is scaled by σ before the velocity
 *   update and the position moves along σ⊙u.
 * - Noise: the partial velocity refresh u ← (u + νz)/‖u + νz‖, ν = √((e^{2·(ε/2)/L} − 1)/d), once
 *   before and once after each deterministic step (`with_isokinetic_maruyama`).
 * - Warm-up: with `tune`, the steps of BlackJAX's L and ε tuning (adaptation/mclmc-tuning.ts);
 *   the chains then sample from the tuned state, so the tuning steps are the discarded burn-in.
 */
import { z } from 'zod';
import { fillNormal, fold, Key } from '../rng';
import { mclmcTuning, MIN_ESS_STEPS, phaseSteps, totalSteps, TunedChains, TuningState, tuningSchedule } from './adaptation/mclmc-tuning';
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

const fraction = z.number().min(0).max(1);

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

export interface MclmcState extends TunedChains {
  logDensityBefore: Float64Array;
  kineticChange: Float64Array;
  noise: Float64Array;
  /** Gradient evaluations per chain so far (each is one full-data gradient). */
  grads: number;
  /** Null without tuning. */
  tuning: TuningState | null;
  /** Σ ΔE, Σ ΔE² and the count over all chains and sampling steps. */
  energySum: number;
  energySumSq: number;
  energyCount: number;
}

/** The schedule belongs to the tuning; callers of this sampler read it here. */
export { tuningSchedule };

/** The discarded burn-in: the tuning steps, or as many steps at the given L and ε without tuning. */
function burnInSteps(o: MclmcOptions): number {
  return o.tune ? totalSteps(tuningSchedule(o)) : phaseSteps(o).reduce((a, b) => a + b, 0);
}

/**
 * MCLMC as a step sampler for the shared loop: with `tune`, warm-up steps are tuning steps;
 * sampling steps, and the burn-in without tuning, are plain transitions.
 */
export function mclmcSampler(posterior: Posterior, o: MclmcOptions): StepSampler<MclmcState> {
  const { d, chains } = posterior;
  if (d < 2) throw new RangeError(`MCLMC needs at least 2 parameters (the velocity lives on the unit sphere), got d = ${d}`);
  const coefficients = INTEGRATORS[o.integrator];

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

  const tuning = mclmcTuning(advance, posterior, o);

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
        L: o.L,
        stepSize: o.step_size,
        sqrtDiagCov: new Float64Array(d).fill(1),
        tuning: null,
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
      if (o.tune) s.tuning = tuning.init(s);
      return s;
    },
    step: (s, key, phase: Phase, t) => {
      if (phase === 'warmup' && s.tuning) {
        tuning.update(s.tuning, s, key, t);
        if (t === tuning.steps - 1) tuning.final(s.tuning, s);
        return;
      }
      advance(s, key);
      if (phase === 'warmup') return;
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
        tuning_steps: { ...tuning.schedule },
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

/**
 * Variational inference for λ̂ with a mixture of factor analysers (MFA; Ghahramani & Hinton 1996),
 * with the defects of the Python reference's VI fixed (docs/mathematics.md, "VI").
 *
 * Target: the localized tempered posterior log p(w) = −nβ·L_n(w) − (γ/2)·‖w − w*‖² (+ const).
 * Family, per chain, in whitened coordinates t̃ = a⊙(w − w*) (a = 1 without whitening; whitening.ts):
 *   q(t̃) = Σ_m π_m·N(t̃; 0, S(A_m A_mᵀ + I)S),   π = softmax(α/T),   S = diag(s),
 *   s = softplus(ρ) clipped to [1e-4, 1e2],  A_m ∈ R^{d×r} (columns beyond r_m held at zero)
 * (mfa.ts).
 *
 * Fit: Adam *ascent* on the ELBO E_q[log p(w) − log q(w)], one draw per chain and step, with the
 * mean loss of B rows drawn with replacement standing in for L_n: sticking-the-landing gradients for
 * ρ and A and a score-function gradient for α (objective.ts); Adam with optional global-norm
 * clipping, a linear warm-up, then a constant, cosine or linearly decaying rate (optimiser.ts).
 * After each step A's columns are capped at norm 10. The start scale s₀ comes from a cheap
 * curvature estimate (initial-scale.ts), not the reference's ln 2.
 *
 * Estimate, per chain, from eval_samples draws v_s = w_s − w* of the fitted q, H = ∇²L_n(w*):
 *   Ê = mean_s[L_n(w_s) − ½·v_sᵀHv_s] + ½·tr(HΣ_q),   λ̂ = nβ·(Ê − L0),
 * an unbiased control variate because E_q[vvᵀ] = Σ_q = Σ_m π_m Σ_m exactly (every component has
 * mean w*). H·v comes from central differences of full-data gradients (hessian.ts), tr(HΣ_q) from
 * them too (trace.ts): H_ii exactly from d unit vectors when d ≤ exact_trace_max_d, else from
 * Hutchinson's estimator with Rademacher probes. Central differences are a linear operator only
 * where the loss is smooth on the scale of the step; a ReLU kink closer to w* than that (common in
 * float32, whose step is ~5e-3) makes the operator direction-dependent and the control variate
 * biased. Two checks guard it: the first 8 draws' HVPs are repeated at half the step (a kink
 * changes the result by O(1), smoothness by O(h²)), and mean_s v_sᵀHv_s must match tr(HΣ_q)
 * within sampling error; λ̂ falls back to the plain Monte Carlo mean if either fails (estimate.ts).
 *
 * The variational parameters and all of the family's algebra are float64; `dtype` sets the
 * kernel's precision (the network's forward and backward passes).
 */
import { fillBelow, fillNormal, fillUniform, fold, Key } from '../../rng';
import { RUN_KEY } from '../loop';
import type { Posterior } from '../../posterior';
import type { Progress, SamplerModule, SamplerResult } from '../types';
import { chainEstimates, quadraticShareWarning } from './estimate';
import { CentralDifferenceHessian } from './hessian';
import { initialScales } from './initial-scale';
import { MfaFamily } from './mfa';
import { MfaObjective } from './objective';
import { ADAM, adamAscent, learningRate } from './optimiser';
import { options, ViOptions } from './options';
import { CURVES, finiteOrNull, reporter, spread } from './report';
import { covarianceTrace } from './trace';
import { whiteningScales, whiteningSteps } from './whitening';

export { CentralDifferenceHessian } from './hessian';
export { initialScales } from './initial-scale';
export { MfaFamily, type MfaShape } from './mfa';
export { MfaObjective, type ObjectiveSettings } from './objective';
export { learningRate } from './optimiser';
export type { ViOptions } from './options';
export { covarianceTrace, type CovarianceTrace } from './trace';

/** Decay of the running mean of f that baselines the α score-function gradient. */
const BASELINE_DECAY = 0.99;
/**
 * Eval draws per chain whose HVP is repeated at half the step: for a smooth loss the two central
 * differences agree to O(h²) (~1e-5), across a ReLU kink they differ by O(1).
 */
const LINEARITY_CHECKS = 8;
const LINEARITY_TOL = 1e-2;

/** Key tags under each chain's key. */
const TAG = { init: 0, whitening: 1, optimisation: 2, evaluation: 3, probes: 4, initScale: 5 } as const;
/** Hutchinson probes per chain for the starting scale (2 minibatch gradients each). */
const INIT_PROBES = 8;

export const vi: SamplerModule<typeof options> = {
  options,

  precision: (o) => ({ dtype: o.dtype, chains: o.chains, maxBatch: o.batch_size }),

  run(posterior: Posterior, o: ViOptions, key: Key, progress?: Progress): SamplerResult {
    const start = performance.now();
    const report = reporter(progress);
    const { d, n, chains, center, nBeta, gamma } = posterior;
    const B = o.batch_size;
    const { M, r, steps } = o;
    const ranks = o.r_per_component ?? Array<number>(M).fill(r);
    const family = new MfaFamily({ d, M, r, ranks, temperature: o.alpha_temperature }, chains);
    const P = family.size;
    // Each chain is an independent fit under its own key, so chain c's result does not depend on how many chains run beside it.
    const chainKeys = Array.from({ length: chains }, (_, c) => fold(key, RUN_KEY.sampler, c));
    const keysFor = (tag: number) => chainKeys.map((k) => fold(k, tag));

    // --- Whitening pre-pass and initialisation.
    const whitening = new Float64Array(chains * d);
    whiteningScales(posterior, o, keysFor(TAG.whitening), whitening);
    const prepassSteps = whiteningSteps(o);
    const objective = new MfaObjective(family, whitening, { dirichlet: o.alpha_dirichlet_prior, entropyBonus: o.entropy_bonus });
    const initHessian = new CentralDifferenceHessian(posterior);
    const startScales = initialScales(initHessian, whitening, nBeta, gamma, B, INIT_PROBES, keysFor(TAG.initScale));
    const params = new Float64Array(chains * P);
    keysFor(TAG.init).forEach((k, c) => family.init(c, params, startScales[c], k));

    // --- Optimisation: all chains advance together, one kernel call per step.
    const optKeys = keysFor(TAG.optimisation);
    const grad = new Float64Array(chains * P);
    const adamM = new Float64Array(chains * P);
    const adamV = new Float64Array(chains * P);
    const draws = new Float64Array(chains * d);
    const positions = posterior.array(chains * d);
    const gradU = new Float64Array(chains * d);
    const potential = new Float64Array(chains);
    const lossBatch = new Float64Array(chains);
    const rows = new Int32Array(chains * B);
    const rowViews = chainKeys.map((_, c) => rows.subarray(c * B, (c + 1) * B));
    const noise = new Float64Array(chains * (r + d));
    const noiseViews = chainKeys.map((_, c) => noise.subarray(c * (r + d), (c + 1) * (r + d)));
    const uniform = new Float64Array(1);
    const components = new Int32Array(chains);
    const baselineSum = new Float64Array(chains);
    const curves = Object.fromEntries(CURVES.map((name) => [name, new Float64Array(chains * steps)])) as Record<(typeof CURVES)[number], Float64Array>;

    report('warmup', 0, steps);
    for (let t = 0; t < steps; t++) {
      for (let c = 0; c < chains; c++) {
        const stepKey = fold(optKeys[c], t);
        fillBelow(fold(stepKey, 0), n, rowViews[c]);
        fillUniform(fold(stepKey, 1), uniform);
        fillNormal(fold(stepKey, 2), noiseViews[c]);
        family.prepare(c, params);
        components[c] = family.sample(c, params, uniform[0], noiseViews[c], draws, c * d);
        for (let i = 0; i < d; i++) positions[c * d + i] = center[i] + draws[c * d + i] / whitening[c * d + i];
      }
      posterior.gradient(positions, gradU, lossBatch, potential, rows, B);
      const lr = learningRate(o, t);
      const bias1 = 1 - Math.pow(ADAM.beta1, t + 1);
      const bias2 = 1 - Math.pow(ADAM.beta2, t + 1);
      const baselineBias = 1 - Math.pow(BASELINE_DECAY, t);
      for (let c = 0; c < chains; c++) {
        const baseline = t === 0 ? null : baselineSum[c] / baselineBias;
        const f = objective.gradient(c, params, components[c], noiseViews[c], draws, potential[c], gradU, baseline, grad);
        baselineSum[c] = BASELINE_DECAY * baselineSum[c] + (1 - BASELINE_DECAY) * f;
        let sq = 0;
        for (let k = c * P; k < (c + 1) * P; k++) sq += grad[k] * grad[k];
        const norm = Math.sqrt(sq);
        const clip = o.clip_global_norm === null ? 1 : Math.min(1, o.clip_global_norm / (norm + 1e-8));
        adamAscent(params, grad, adamM, adamV, c * P, (c + 1) * P, clip, lr / bias1, 1 / bias2);
        family.capColumns(c, params);
        let piEntropy = 0;
        for (let m = 0; m < M; m++) piEntropy -= family.pi[c * M + m] > 0 ? family.pi[c * M + m] * Math.log(family.pi[c * M + m]) : 0;
        const at = c * steps + t;
        curves.elbo[at] = f;
        curves.grad_norm[at] = norm;
        curves.loss_batch[at] = lossBatch[c];
        curves.log_q[at] = objective.lastLogQ;
        curves.scale_geomean[at] = Math.exp((family.logScaleSum(c) - objective.logJacobian[c]) / d);
        curves.pi_entropy[at] = piEntropy;
      }
      report('warmup', t + 1, steps);
    }
    const optimisationEnd = performance.now();
    report('sampling', 0, o.eval_samples);

    // --- Evaluation: the trace term first, then eval_samples draws of every chain's q.
    for (let c = 0; c < chains; c++) family.prepare(c, params);
    const E = o.eval_samples;
    const hessian = new CentralDifferenceHessian(posterior);
    const trace = o.control_variate ? covarianceTrace(hessian, family, params, whitening, o.exact_trace_max_d, o.trace_probes, keysFor(TAG.probes)) : null;
    const traceTerm = Float64Array.from({ length: chains }, (_, c) => (trace ? trace.lowRank[c] + trace.diagonal[c] : 0));
    // Per chain: the whitening pre-pass, the starting-scale probes and the optimisation, all minibatch gradients.
    const minibatchGrads = chains * (prepassSteps + steps) + initHessian.gradients;
    const fgeOptimisation = (minibatchGrads / chains) * (B / n);
    const evalKeys = keysFor(TAG.evaluation);
    const Ln = new Float64Array(chains * E);
    const quad = new Float64Array(chains * E);
    const fge = new Float64Array(E);
    const seconds = new Float64Array(E);
    const hv = new Float64Array(chains * d);
    const hvHalfStep = new Float64Array(chains * d);
    const loss = new Float64Array(chains);
    let linearityChecks = 0;
    let linearityFailures = 0;
    let runningMc = 0;
    for (let s = 0; s < E; s++) {
      for (let c = 0; c < chains; c++) {
        const drawKey = fold(evalKeys[c], s);
        fillUniform(fold(drawKey, 0), uniform);
        fillNormal(fold(drawKey, 1), noiseViews[c]);
        family.sample(c, params, uniform[0], noiseViews[c], draws, c * d);
        for (let i = 0; i < d; i++) {
          draws[c * d + i] /= whitening[c * d + i]; // now v = w − w*
          positions[c * d + i] = center[i] + draws[c * d + i];
        }
      }
      posterior.loss(positions, loss);
      const checkLinearity = o.control_variate && s < LINEARITY_CHECKS;
      if (o.control_variate) hessian.apply(draws, hv);
      if (checkLinearity) hessian.apply(draws, hvHalfStep, null, n, hessian.step / 2);
      for (let c = 0; c < chains; c++) {
        Ln[c * E + s] = loss[c];
        if (o.control_variate) for (let i = 0; i < d; i++) quad[c * E + s] += draws[c * d + i] * hv[c * d + i];
        if (checkLinearity) {
          let halfStepQuad = 0;
          for (let i = 0; i < d; i++) halfStepQuad += draws[c * d + i] * hvHalfStep[c * d + i];
          // Measured against the typical size of vᵀHv (its mean is the trace), so flat directions do not raise false alarms.
          linearityChecks++;
          if (Math.abs(halfStepQuad - quad[c * E + s]) > LINEARITY_TOL * Math.max(Math.abs(quad[c * E + s]), traceTerm[c])) linearityFailures++;
        }
        runningMc += posterior.llc(loss[c]);
      }
      fge[s] = fgeOptimisation + hessian.gradients / chains + (s + 1);
      seconds[s] = (performance.now() - start) / 1000;
      report('sampling', s + 1, E, runningMc / ((s + 1) * chains));
    }
    const end = performance.now();

    // --- Per-chain estimates.
    const estimates = chainEstimates({ chains, E, Ln, quad, traceTerm, linearityFailures }, posterior, o.control_variate);
    const { eqMc, eqCv, llcMc, llcCv, varianceReduction, llcCvTrace, consistencyZ, cvUsed, llcPerChain, quadraticShare } = estimates;

    const tail = Math.max(1, Math.floor(steps / 10));
    const finalElbo = Array.from({ length: chains }, (_, c) => curves.elbo.subarray((c + 1) * steps - tail, (c + 1) * steps).reduce((a, b) => a + b, 0) / tail);
    const hvpGradients = hessian.gradients;
    const warning = quadraticShareWarning(estimates, o.control_variate);

    return {
      chains,
      draws: E,
      Ln,
      fge,
      seconds,
      traces: cvUsed ? { llc_cv: llcCvTrace } : {},
      work: {
        fge_warmup: fgeOptimisation,
        // A full-data loss pass is counted as one FGE: an upper bound on its cost, but the estimator cannot do without it.
        fge_sampling: hvpGradients / chains + E,
        grad_evals: minibatchGrads + hvpGradients,
        full_loss_evals: chains * E,
      },
      timing: { warmup_s: (optimisationEnd - start) / 1000, sampling_s: (end - optimisationEnd) / 1000 },
      diagnostics: {
        estimator: cvUsed ? 'control_variate' : 'monte_carlo',
        llc_mc: llcMc,
        llc_cv: o.control_variate ? llcCv : null,
        Eq_Ln_mc: eqMc,
        Eq_Ln_cv: o.control_variate ? eqCv : null,
        variance_reduction: varianceReduction,
        // nβ·½·tr(HΣ_q) over the control-variate λ̂: 1 where the loss is quadratic over q; outside [0.9, 1.1] the run is `check`.
        quadratic_share: finiteOrNull(quadraticShare),
        control_variate: {
          requested: o.control_variate,
          used: cvUsed,
          linearity_checks: linearityChecks,
          linearity_failures: linearityFailures,
          // (mean_s v_sᵀHv_s − tr(HΣ_q)) over its standard error, pooled over chains; beyond ±4 the control variate is not used.
          consistency_z: finiteOrNull(consistencyZ),
        },
        trace: trace && {
          method: trace.method,
          low_rank: Array.from(trace.lowRank),
          diagonal: Array.from(trace.diagonal),
          probes: trace.method === 'hutchinson' ? o.trace_probes : null,
          hvp_step: hessian.step,
        },
        initial_scale: Array.from(startScales),
        elbo_final: finalElbo,
        mixture_weights: Array.from({ length: chains }, (_, c) => Array.from(family.pi.subarray(c * M, (c + 1) * M))),
        scale_model: Array.from({ length: chains }, (_, c) => spread(Array.from(family.scales(c), (s, i) => s / whitening[c * d + i]))),
        whitening: {
          mode: o.whitening_mode,
          prepass_steps: prepassSteps,
          a: Array.from({ length: chains }, (_, c) => spread(whitening.subarray(c * d, (c + 1) * d))),
        },
        work_breakdown: {
          whitening_minibatch_grads: chains * prepassSteps,
          initial_scale_minibatch_grads: initHessian.gradients,
          optimisation_minibatch_grads: chains * steps,
          hvp_full_grads: hvpGradients,
          full_loss_evals: chains * E,
        },
      },
      llcPerChain,
      ...(warning && { warnings: [warning] }),
      optimization: { steps, curves },
    };
  },
};

export default vi;

/**
 * Hamiltonian Monte Carlo (Neal 2011, "MCMC using Hamiltonian dynamics"; docs/mathematics.md,
 * "HMC") on the localized tempered posterior
 *   U(w) = −log π(w) = nβ·L_n(w) + (γ/2)·‖w − w*‖²,
 * with a step size and a diagonal inverse mass per chain. A transition draws a momentum, takes
 * `num_integration_steps` leapfrog steps and applies a Metropolis correction; an energy error above
 * 1000 is a divergence. The warm-up steps are transitions under Stan's window adaptation
 * (adaptation/window.ts), and, unlike the reference, they are the burn-in: chains continue from
 * their adapted state into `draws` plain transitions.
 */
import { z } from 'zod';
import type { FloatArray } from '../mlp';
import { fillNormal, fillUniform, fold, Key } from '../rng';
import { HmcParameters, windowAdaptation, WindowState } from './adaptation/window';
import { runChains, StepSampler } from './loop';
import type { Posterior } from '../posterior';
import type { SamplerModule } from './types';

const options = z
  .strictObject({
    draws: z.int().min(1),
    warmup: z.int().min(0),
    num_integration_steps: z.int().min(1),
    step_size: z.number().positive(),
    step_size_jitter: z.number().min(0).lt(1),
    adapt_step_size: z.boolean(),
    adapt_mass_matrix: z.boolean(),
    target_acceptance: z.number().gt(0).lt(1),
    chains: z.int().min(1).max(1024),
    dtype: z.enum(['float32', 'float64']),
  })
  .superRefine((o, ctx) => {
    if (o.warmup === 0 && (o.adapt_step_size || o.adapt_mass_matrix))
      ctx.addIssue({ code: 'custom', path: ['warmup'], message: 'is 0, so nothing can be adapted: set warmup > 0, or adapt_step_size and adapt_mass_matrix to false' });
  });
type Options = z.infer<typeof options>;

const DIVERGENCE = 1000;

/** The chains and the parameters their transitions run with. */
interface Chains extends HmcParameters {
  q: FloatArray;
  p: FloatArray;
  grad: FloatArray; // ∇U at q
  loss: Float64Array; // L_n at q
  potential: Float64Array; // U at q
  qNew: FloatArray;
  gradNew: FloatArray;
  lossNew: Float64Array;
  potentialNew: Float64Array;
  noise: Float64Array;
  uniform: Float64Array;
  gradEvals: number;
}

interface State extends Chains {
  adaptation: WindowState;
  divergences: { warmup: number; sampling: number };
  acceptSum: number;
  acceptCount: number;
}

function makeHmc(posterior: Posterior, o: Options): StepSampler<State> {
  const { d, chains } = posterior;
  const L = o.num_integration_steps;
  const adaptation = windowAdaptation({ warmup: o.warmup, targetAcceptance: o.target_acceptance, adaptStepSize: o.adapt_step_size, adaptMassMatrix: o.adapt_mass_matrix });

  /** ∇U, L_n and U at `q` for every chain. */
  const gradient = (s: Chains, q: FloatArray, grad: FloatArray, loss: Float64Array, potential: Float64Array) => {
    posterior.gradient(q, grad, loss, potential);
    s.gradEvals++;
  };

  const kinetic = (s: Chains, p: FloatArray, c: number) => {
    let k = 0;
    for (let j = 0; j < d; j++) k += s.invMass[c * d + j] * p[c * d + j] ** 2;
    return 0.5 * k;
  };

  /**
   * One HMC transition for every chain with steps `step` (per chain) and the given number of
   * leapfrog steps. Returns per-chain acceptance probabilities and energies; accepted chains move.
   */
  const transition = (s: Chains, key: Key, leapfrogSteps: number, step: Float64Array) => {
    fillNormal(fold(key, 0), s.noise);
    fillUniform(fold(key, 1), s.uniform);
    for (let i = 0; i < chains * d; i++) s.p[i] = s.noise[i] / Math.sqrt(s.invMass[i]);
    const h0 = Float64Array.from({ length: chains }, (_, c) => s.potential[c] + kinetic(s, s.p, c));
    s.qNew.set(s.q);
    s.gradNew.set(s.grad);
    posterior.leapfrog({ q: s.qNew, p: s.p, grad: s.gradNew, loss: s.lossNew, potential: s.potentialNew }, s.invMass, step, leapfrogSteps);
    s.gradEvals += leapfrogSteps;
    const accept = new Float64Array(chains);
    const energy = new Float64Array(chains);
    const diverged = new Float64Array(chains);
    for (let c = 0; c < chains; c++) {
      const h1 = s.potentialNew[c] + kinetic(s, s.p, c);
      const dH = h1 - h0[c];
      const ok = Number.isFinite(dH);
      accept[c] = ok ? Math.min(1, Math.exp(-dH)) : 0;
      diverged[c] = !ok || dH > DIVERGENCE ? 1 : 0;
      const moved = s.uniform[c] < accept[c];
      if (moved) {
        s.q.set(s.qNew.subarray(c * d, (c + 1) * d), c * d);
        s.grad.set(s.gradNew.subarray(c * d, (c + 1) * d), c * d);
        s.loss[c] = s.lossNew[c];
        s.potential[c] = s.potentialNew[c];
      }
      energy[c] = moved ? h1 : h0[c];
    }
    return { accept, energy, diverged };
  };

  /** ε·U(1 − j, 1 + j) per chain: varying the trajectory length breaks the near-periodicity of fixed-length trajectories. */
  const jitteredStep = new Float64Array(chains);
  const jitterUniform = new Float64Array(chains);
  const jittered = (s: Chains, key: Key) => {
    fillUniform(fold(key, 2), jitterUniform);
    for (let c = 0; c < chains; c++) jitteredStep[c] = s.step[c] * (1 + o.step_size_jitter * (2 * jitterUniform[c] - 1));
    return jitteredStep;
  };

  /**
   * Stan's heuristic: from the current ε, double (or halve) until the acceptance probability of one
   * leapfrog step crosses 1/2; the first ε past the crossing is kept. Positions do not move.
   */
  const findReasonableStep = (s: Chains, key: Key) => {
    const direction = new Float64Array(chains);
    const done = new Uint8Array(chains);
    const qKeep = Float64Array.from(s.q);
    const gKeep = Float64Array.from(s.grad);
    const lKeep = Float64Array.from(s.loss);
    const uKeep = Float64Array.from(s.potential);
    for (let iter = 0; iter < 100 && done.some((x) => !x); iter++) {
      const { accept } = transition(s, fold(key, iter), 1, s.step);
      s.q.set(qKeep);
      s.grad.set(gKeep);
      s.loss.set(lKeep);
      s.potential.set(uKeep);
      for (let c = 0; c < chains; c++) {
        if (done[c]) continue;
        const up = accept[c] > 0.5;
        if (iter === 0) direction[c] = up ? 1 : -1;
        else if (up !== direction[c] > 0) {
          done[c] = 1;
          continue;
        }
        s.step[c] = direction[c] > 0 ? 2 * s.step[c] : s.step[c] / 2;
      }
    }
  };

  return {
    init(positions, key) {
      const size = chains * d;
      const s: Chains = {
        q: positions,
        p: posterior.array(size),
        grad: posterior.array(size),
        loss: new Float64Array(chains),
        potential: new Float64Array(chains),
        qNew: posterior.array(size),
        gradNew: posterior.array(size),
        lossNew: new Float64Array(chains),
        potentialNew: new Float64Array(chains),
        noise: new Float64Array(size),
        uniform: new Float64Array(chains),
        invMass: new Float64Array(size).fill(1),
        step: new Float64Array(chains).fill(o.step_size),
        gradEvals: 0,
      };
      gradient(s, s.q, s.grad, s.loss, s.potential);
      if (o.adapt_step_size) findReasonableStep(s, key);
      return Object.assign(s, { adaptation: adaptation.init(s), divergences: { warmup: 0, sampling: 0 }, acceptSum: 0, acceptCount: 0 });
    },

    step(s, key, phase, t) {
      const step = o.step_size_jitter > 0 ? jittered(s, key) : s.step;
      const { accept, energy, diverged } = transition(s, key, L, step);
      for (let c = 0; c < chains; c++) if (diverged[c]) s.divergences[phase]++;
      if (phase === 'sampling') {
        for (let c = 0; c < chains; c++) s.acceptSum += accept[c];
        s.acceptCount += chains;
        return { acceptance_rate: accept, energy, diverging: diverged, step_size: Float64Array.from(s.step) };
      }
      if (adaptation.update(s.adaptation, t, s.q, accept, s)) {
        findReasonableStep(s, fold(key, 3));
        adaptation.restart(s.adaptation, s);
      }
      if (t === o.warmup - 1) adaptation.final(s.adaptation, s);
    },

    positions: (s) => s.q,
    losses: (s) => s.loss,
    work: (s) => ({ grads: s.gradEvals, fge: s.gradEvals }),
    divergences: (s) => s.divergences.sampling,

    diagnostics(s) {
      const perChain = <T>(f: (c: number) => T) => Array.from({ length: chains }, (_, c) => f(c));
      const massSummary = (c: number) => {
        const v = Array.from(s.invMass.subarray(c * d, (c + 1) * d)).sort((a, b) => a - b);
        return { min: v[0], median: v[Math.floor(d / 2)], max: v[d - 1] };
      };
      return {
        step_size: Array.from(s.step),
        inverse_mass: perChain(massSummary),
        acceptance_rate: s.acceptCount ? s.acceptSum / s.acceptCount : null,
        divergences: s.divergences,
        slow_windows: adaptation.windows,
      };
    },
  };
}

export const hmc: SamplerModule<typeof options> = {
  options,
  precision: (o) => ({ dtype: o.dtype, chains: o.chains, maxBatch: 0 }),
  run: (posterior, o, key, progress) => runChains(makeHmc(posterior, o), posterior, { warmup: o.warmup, steps: o.draws, recordEvery: 1 }, key, progress),
};

export default hmc;

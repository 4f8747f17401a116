/**
 * The inference loop shared by the step-based samplers (BlackJAX style: a sampler is `init` and
 * `step`). It runs a burn-in whose draws are discarded, then the sampling steps, records the
 * full-data loss every `recordEvery` steps, counts work honestly and reports progress.
 */
import type { FloatArray } from '../mlp';
import { fillNormal, fold, Key } from '../rng';
import type { Posterior } from '../posterior';
import type { Progress, SamplerResult } from './types';

export type Phase = 'warmup' | 'sampling';

/** Per-chain values a step reports; recorded at kept draws under their key. */
export type StepInfo = Record<string, Float64Array>;

export interface StepSampler<S> {
  /** Builds the state from the chains' starting positions (chains × d). */
  init(positions: FloatArray, key: Key): S;
  /** Advances every chain one step, in place (allocation-free steps keep big models fast). */
  step(state: S, key: Key, phase: Phase, stepIndex: number): StepInfo | void;
  /**
   * Advances every chain keys.length steps, the same as `step` with each key in turn, for samplers
   * whose steps report nothing and which a kernel can run several at a time (SGLD on the GPU).
   */
  steps?(state: S, keys: Key[], phase: Phase, firstIndex: number): void;
  positions(state: S): FloatArray;
  /** L_n at the current positions when the step already computed it (saves a forward pass per draw). */
  losses?(state: S): Float64Array;
  /** Work done so far, per chain: gradients evaluated and their cost in full-gradient equivalents. */
  work(state: S): { grads: number; fge: number };
  /** Sampler-specific results at the end of the run (adapted step sizes, acceptance, …). */
  diagnostics?(state: S): Record<string, unknown>;
  /** Divergent transitions after warm-up so far, every chain counted, for samplers that detect them. */
  divergences?(state: S): number;
}

export interface LoopOptions {
  warmup: number;
  steps: number;
  recordEvery: number;
}

const INIT_JITTER = 0.01;
/** Most steps handed to `steps` at once: a bound on the memory of their minibatches, and the progress granularity. */
const STEPS_PER_CALL = 256;
/** The reporter throttles what is shown; this only keeps the callback off the hot path. */
const PROGRESS_EVERY_MS = 100;

/** Key tags under a run's key. */
export const RUN_KEY = { init: 0, steps: 1, sampler: 2 } as const;

/** w* + 0.01·N(0, I), one draw per chain, in the kernel's precision. */
export function jitteredStart(posterior: Posterior, key: Key): FloatArray {
  const { d, chains, center } = posterior;
  const noise = new Float64Array(chains * d);
  fillNormal(key, noise);
  const out = posterior.array(chains * d);
  for (let c = 0; c < chains; c++) for (let j = 0; j < d; j++) out[c * d + j] = center[j] + INIT_JITTER * noise[c * d + j];
  return out;
}

export function runChains<S>(sampler: StepSampler<S>, posterior: Posterior, opts: LoopOptions, key: Key, progress?: Progress): SamplerResult {
  const chains = posterior.chains;
  const draws = Math.floor(opts.steps / opts.recordEvery);
  const Ln = new Float64Array(chains * draws);
  const fge = new Float64Array(draws);
  const seconds = new Float64Array(draws);
  const traces: Record<string, Float64Array> = {};
  const loss = new Float64Array(chains);
  const start = performance.now();
  let lastReport = start;

  const state = sampler.init(jitteredStart(posterior, fold(key, RUN_KEY.init)), fold(key, RUN_KEY.sampler));
  const stepKey = fold(key, RUN_KEY.steps);
  const report = (phase: 'warmup' | 'sampling', done: number, total: number, llc?: number) => {
    const now = performance.now();
    // Each phase's first and last report always pass: they time the phase.
    if (progress && (now - lastReport >= PROGRESS_EVERY_MS || done === 0 || done === total)) {
      lastReport = now;
      progress({ phase, done, total, llc });
    }
  };

  /** Steps [from, to) of a phase whose first step has key index `keyOffset`; the last step's info. */
  const advance = (phase: Phase, keyOffset: number, from: number, to: number): StepInfo | void => {
    if (sampler.steps) {
      for (let t = from; t < to; t += STEPS_PER_CALL) {
        const count = Math.min(STEPS_PER_CALL, to - t);
        sampler.steps(state, Array.from({ length: count }, (_, i) => fold(stepKey, keyOffset + t + i)), phase, t);
      }
      return;
    }
    let info: StepInfo | void = undefined;
    for (let t = from; t < to; t++) info = sampler.step(state, fold(stepKey, keyOffset + t), phase, t);
    return info;
  };

  report('warmup', 0, opts.warmup);
  const warmupChunk = sampler.steps ? STEPS_PER_CALL : 1;
  for (let t = 0; t < opts.warmup; t += warmupChunk) {
    advance('warmup', 0, t, Math.min(opts.warmup, t + warmupChunk));
    report('warmup', Math.min(opts.warmup, t + warmupChunk), opts.warmup);
  }
  const warmupEnd = performance.now();
  const warmupWork = sampler.work(state);
  let fullLossEvals = 0;

  let llcSum = 0;
  report('sampling', 0, draws);
  for (let k = 0; k < draws; k++) {
    const info = advance('sampling', opts.warmup, k * opts.recordEvery, (k + 1) * opts.recordEvery);
    const known = sampler.losses?.(state);
    if (!known) {
      posterior.loss(sampler.positions(state), loss);
      fullLossEvals += chains;
    }
    for (let c = 0; c < chains; c++) {
      Ln[c * draws + k] = (known ?? loss)[c];
      llcSum += posterior.llc(Ln[c * draws + k]);
    }
    fge[k] = sampler.work(state).fge;
    seconds[k] = (performance.now() - start) / 1000;
    if (info) {
      for (const [name, values] of Object.entries(info)) {
        const trace = (traces[name] ??= new Float64Array(chains * draws));
        for (let c = 0; c < chains; c++) trace[c * draws + k] = values[c];
      }
    }
    report('sampling', k + 1, draws, llcSum / ((k + 1) * chains));
  }
  const end = performance.now();
  const totalWork = sampler.work(state);

  return {
    chains,
    draws,
    Ln,
    fge,
    seconds,
    traces,
    work: {
      fge_warmup: warmupWork.fge,
      fge_sampling: totalWork.fge - warmupWork.fge,
      grad_evals: chains * totalWork.grads,
      full_loss_evals: fullLossEvals,
    },
    timing: { warmup_s: (warmupEnd - start) / 1000, sampling_s: (end - warmupEnd) / 1000 },
    diagnostics: sampler.diagnostics?.(state) ?? {},
    ...(sampler.divergences && { divergences: { count: sampler.divergences(state), transitions: chains * draws * opts.recordEvery } }),
  };
}

/**
 * Stochastic-gradient Langevin dynamics with optional RMSprop/Adam preconditioning (docs/mathematics.md;
 * Hitchcock & Hoogland, Algorithms 1–3). Per chain and step:
 *   g = ∇ mean loss over B rows drawn with replacement
 *   w ← w − ½·εP⊙(γ(w − w*) + nβ·drift) + √(εP)⊙ξ,   ξ ~ N(0, I)
 * with P = 1 and drift = g (`none`), or P = 1/(√v̂ + eps) from an RMSprop second moment started at
 * v = 1, drift = g (`rmsprop`) or the bias-corrected first moment m̂ (`adam`). The first `warmup`
 * steps are burn-in and are discarded. Every `mala_every` sampling steps, the MALA acceptance
 * probability of the step's proposal is measured (samplers/mala.ts) without moving any chain.
 */
import { BATCH_SIZE } from '../limits';
import { z } from 'zod';
import type { FloatArray } from '../mlp';
import { fillBelow, fold, Key } from '../rng';
import { runChains, StepSampler } from './loop';
import { MalaCheck } from './mala';
import type { SamplerModule } from './types';

const options = z
  .strictObject({
    steps: z.int().min(1),
    warmup: z.int().min(0),
    batch_size: BATCH_SIZE,
    step_size: z.number().positive(),
    precond: z.enum(['none', 'rmsprop', 'adam']),
    beta1: z.number().min(0).lt(1),
    beta2: z.number().min(0).lt(1),
    eps: z.number().positive(),
    bias_correction: z.boolean(),
    eval_every: z.int().min(1),
    mala_every: z.int().min(0),
    chains: z.int().min(1).max(1024),
    dtype: z.enum(['float32', 'float64']),
  })
  .superRefine((o, ctx) => {
    if (o.eval_every > o.steps)
      ctx.addIssue({ code: 'custom', path: ['eval_every'], message: `is ${o.eval_every}, more than steps (${o.steps}): no draw would be recorded` });
  });

const PRECOND = { none: 0, rmsprop: 1, adam: 2 } as const;

interface State {
  w: FloatArray;
  m: FloatArray;
  v: FloatArray;
  grad: FloatArray;
  /** Minibatch rows of the steps in flight, chains × B per step. */
  rows: Int32Array;
  loss: Float64Array;
  t: number;
}

export const sgld: SamplerModule<typeof options> = {
  options,

  precision: (o) => ({ dtype: o.dtype, chains: o.chains, maxBatch: o.batch_size }),

  run(posterior, o, key, progress) {
    const { d, n, chains } = posterior;
    const B = o.batch_size;
    const mala = o.mala_every > 0 ? new MalaCheck(posterior, o.mala_every, o.step_size) : null;
    /** The preconditioner P of the next step (RMSprop's v as the fused step will read it), for the MALA check. */
    const precondOf = (s: State): ((i: number) => number) | null => {
      if (o.precond === 'none') return null;
      const bias2 = o.bias_correction ? 1 - Math.pow(o.beta2, s.t + 1) : 1;
      return (i) => 1 / (Math.sqrt(s.v[i] / bias2) + o.eps);
    };

    const updates = (s: State, keys: Key[]) =>
      keys.map((stepKey) => {
        s.t++;
        return {
          stepSize: o.step_size,
          precond: PRECOND[o.precond],
          beta1: o.beta1,
          beta2: o.beta2,
          eps: o.eps,
          bias1: o.bias_correction ? 1 - Math.pow(o.beta1, s.t) : 1,
          bias2: o.bias_correction ? 1 - Math.pow(o.beta2, s.t) : 1,
          noiseKey: fold(stepKey, 1),
        };
      });

    const sampler: StepSampler<State> = {
      // MALA checks are work too: two minibatch gradients each.
      work: (s) => ({ grads: s.t + 2 * (mala?.checks ?? 0), fge: ((s.t + 2 * (mala?.checks ?? 0)) * B) / n }),
      init: (positions) => ({
        w: positions,
        m: posterior.array(chains * d),
        v: posterior.array(chains * d).fill(1),
        grad: posterior.array(chains * d),
        rows: new Int32Array(0),
        loss: new Float64Array(chains),
        t: 0,
      }),
      positions: (s) => s.w,
      step: (s, key, phase, t) => sampler.steps!(s, [key], phase, t),
      steps: (s, keys, phase, first) => {
        const perStep = chains * B;
        if (s.rows.length < keys.length * perStep) s.rows = new Int32Array(keys.length * perStep);
        keys.forEach((stepKey, i) => fillBelow(fold(stepKey, 0), n, s.rows.subarray(i * perStep, (i + 1) * perStep)));
        const run = (from: number, to: number) => {
          if (to > from) posterior.sgldSteps(s, s.rows.subarray(from * perStep, to * perStep), B, s.loss, updates(s, keys.slice(from, to)));
        };
        let from = 0;
        if (mala && phase === 'sampling') {
          // Checked steps: sampling steps 0, every, 2·every, … measured from the position before them.
          for (let i = (mala.every - (first % mala.every)) % mala.every; i < keys.length; i += mala.every) {
            run(from, i);
            mala.check(s.w, s.rows.subarray(i * perStep, (i + 1) * perStep), B, precondOf(s), fold(keys[i], 2));
            from = i;
          }
        }
        run(from, keys.length);
      },
    };
    const result = runChains(sampler, posterior, { warmup: o.warmup, steps: o.steps, recordEvery: o.eval_every }, key, progress);
    const summary = mala?.summary();
    return summary ? { ...result, mala: summary } : result;
  },
};

export default sgld;

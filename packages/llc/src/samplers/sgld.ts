/**
 * Stochastic-gradient Langevin dynamics with optional RMSprop/Adam preconditioning (docs/mathematics.md;
 * Hitchcock & Hoogland, Algorithms 1–3). Per chain and step:
 *   g = ∇ mean loss over B rows drawn with replacement
 *   w ← w − ½·εP⊙(γ(w − w*) + nβ·drift) + √(εP)⊙ξ,   ξ ~ N(0, I)
 * with P = 1 and drift = g (`none`), or P = 1/(√v̂ + eps) from an RMSprop second moment started at
 * v = 1, drift = g (`rmsprop`) or the bias-corrected first moment m̂ (`adam`). The first `warmup`
 * steps are burn-in and are discarded.
 */
import { z } from 'zod';
import type { FloatArray } from '../mlp';
import { fillBelow, fold, Key } from '../rng';
import { runChains, StepSampler } from './loop';
import type { SamplerModule } from './types';

const options = z
  .strictObject({
    steps: z.int().min(1),
    warmup: z.int().min(0),
    batch_size: z.int().min(1),
    step_size: z.number().positive(),
    precond: z.enum(['none', 'rmsprop', 'adam']),
    beta1: z.number().min(0).lt(1),
    beta2: z.number().min(0).lt(1),
    eps: z.number().positive(),
    bias_correction: z.boolean(),
    eval_every: z.int().min(1),
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
      work: (s) => ({ grads: s.t, fge: (s.t * B) / n }),
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
      steps: (s, keys) => {
        const perStep = chains * B;
        if (s.rows.length < keys.length * perStep) s.rows = new Int32Array(keys.length * perStep);
        keys.forEach((stepKey, i) => fillBelow(fold(stepKey, 0), n, s.rows.subarray(i * perStep, (i + 1) * perStep)));
        posterior.sgldSteps(s, s.rows, B, s.loss, updates(s, keys));
      },
    };
    return runChains(sampler, posterior, { warmup: o.warmup, steps: o.steps, recordEvery: o.eval_every }, key, progress);
  },
};

export default sgld;

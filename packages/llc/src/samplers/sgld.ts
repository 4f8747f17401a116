/**
 * Stochastic-gradient Langevin dynamics with optional RMSprop/Adam preconditioning (SPEC §4;
 * Hitchcock & Hoogland, Algorithms 1–3). Per chain and step:
 *   g = ∇ mean loss over B rows drawn with replacement
 *   w ← w − ½·εP⊙(γ(w − w*) + nβ·drift) + √(εP)⊙ξ,   ξ ~ N(0, I)
 * with P = 1 and drift = g (`none`), or P = 1/(√v̂ + eps) from an RMSprop second moment started at
 * v = 1, drift = g (`rmsprop`) or the bias-corrected first moment m̂ (`adam`). The first `warmup`
 * steps are burn-in and are discarded.
 */
import { z } from 'zod';
import { arrayFor, FloatArray } from '../mlp';
import { fillBelow, fillNormal, fold } from '../rng';
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

interface State {
  w: FloatArray;
  m: FloatArray;
  v: FloatArray;
  grad: FloatArray;
  noise: Float64Array;
  rows: Int32Array;
  loss: Float64Array;
  t: number;
}

export const sgld: SamplerModule<typeof options> = {
  options,

  precision: (o) => ({ dtype: o.dtype, chains: o.chains, maxBatch: o.batch_size }),

  run(problem, o, key, progress) {
    const { kernel, center, temperature } = problem;
    const { d, n, chains } = kernel;
    const B = o.batch_size;
    const { nBeta, gamma } = temperature;
    const eps = o.step_size;

    const sampler: StepSampler<State> = {
      work: (s) => ({ grads: s.t, fge: (s.t * B) / n }),
      init: (positions) => ({
        w: positions,
        m: arrayFor(kernel.dtype, chains * d),
        v: arrayFor(kernel.dtype, chains * d).fill(1),
        grad: arrayFor(kernel.dtype, chains * d),
        noise: new Float64Array(chains * d),
        rows: new Int32Array(chains * B),
        loss: new Float64Array(chains),
        t: 0,
      }),
      positions: (s) => s.w,
      step: (s, stepKey) => {
        fillBelow(fold(stepKey, 0), n, s.rows);
        fillNormal(fold(stepKey, 1), s.noise);
        kernel.lossGrad(s.w, s.rows, B, s.grad, s.loss);
        s.t++;
        const c1 = o.bias_correction ? 1 - Math.pow(o.beta1, s.t) : 1;
        const c2 = o.bias_correction ? 1 - Math.pow(o.beta2, s.t) : 1;
        const { w, m, v, grad, noise } = s;
        for (let c = 0; c < chains; c++) {
          const base = c * d;
          for (let j = 0; j < d; j++) {
            const i = base + j;
            const g = grad[i];
            let p = 1;
            let drift = g;
            if (o.precond !== 'none') {
              v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
              p = 1 / (Math.sqrt(v[i] / c2) + o.eps);
              if (o.precond === 'adam') {
                m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
                drift = m[i] / c1;
              }
            }
            const ep = eps * p;
            w[i] = w[i] - 0.5 * ep * (gamma * (w[i] - center[j]) + nBeta * drift) + Math.sqrt(ep) * noise[i];
          }
        }
      },
    };
    return runChains(sampler, problem, { warmup: o.warmup, steps: o.steps, recordEvery: o.eval_every }, key, progress);
  },
};

export default sgld;

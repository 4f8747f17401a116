/** The VI sampler's options (config/sampler/vi.yaml documents each). */
import { BATCH_SIZE } from '../../limits';
import { z } from 'zod';

export const options = z
  .strictObject({
    M: z.int().min(1).max(64),
    r: z.int().min(1).max(64),
    steps: z.int().min(1),
    batch_size: BATCH_SIZE,
    lr: z.number().positive(),
    eval_samples: z.int().min(2),
    dtype: z.enum(['float32', 'float64']),
    whitening_mode: z.enum(['none', 'rmsprop', 'adam']),
    whitening_decay: z.number().min(0).lt(1),
    clip_global_norm: z.number().positive().nullable(),
    alpha_temperature: z.number().positive(),
    r_per_component: z.array(z.int().min(0)).nullable(),
    alpha_dirichlet_prior: z.number().positive().nullable(),
    lr_schedule: z.enum(['cosine', 'linear_decay']).nullable(),
    lr_warmup_frac: z.number().min(0).lt(1),
    entropy_bonus: z.number().min(0),
    control_variate: z.boolean(),
    exact_trace_max_d: z.int().min(0),
    trace_probes: z.int().min(1),
    chains: z.int().min(1).max(1024),
  })
  .superRefine((o, ctx) => {
    const ranks = o.r_per_component;
    if (ranks === null) return;
    if (ranks.length !== o.M)
      ctx.addIssue({ code: 'custom', path: ['r_per_component'], message: `has ${ranks.length} entries but M is ${o.M}: give one rank per component` });
    ranks.forEach((rank, m) => {
      if (rank > o.r) ctx.addIssue({ code: 'custom', path: ['r_per_component', m], message: `is ${rank}, more than r (${o.r})` });
    });
  });
export type ViOptions = z.infer<typeof options>;

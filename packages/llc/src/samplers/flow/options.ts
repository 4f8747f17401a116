/** The flow sampler's options (config/sampler/flow.yaml documents each). */
import { BATCH_SIZE } from '../../limits';
import { z } from 'zod';

export const options = z.strictObject({
  K: z.int().min(0).max(64),
  hidden: z.int().min(1).max(1024),
  s_max: z.number().positive(),
  masks: z.enum(['random', 'alternating', 'ordered']),
  gradient: z.enum(['path', 'total']),
  steps: z.int().min(1),
  batch_size: BATCH_SIZE,
  draws_per_step: z.int().min(1).max(64),
  lr: z.number().positive(),
  lr_schedule: z.enum(['cosine', 'linear_decay']).nullable(),
  lr_warmup_frac: z.number().min(0).lt(1),
  anneal_frac: z.number().min(0).lt(1),
  clip_global_norm: z.number().positive().nullable(),
  init_scale_max: z.number().positive(),
  exact_diag_max_d: z.int().min(0),
  diag_probes: z.int().min(1),
  eval_samples: z.int().min(2),
  dtype: z.enum(['float32', 'float64']),
  chains: z.int().min(1).max(1024),
});
export type FlowOptions = z.infer<typeof options>;

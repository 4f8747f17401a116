/**
 * Search spaces for hyperparameter tuning (README, "Tuning"), as users write them in YAML: one distribution
 * per parameter, validated by strict zod schemas (unknown keys are errors). The three kinds follow
 * Optuna's distributions:
 *   - float:       uniform on [low, high], or log-uniform when `log` (then low > 0);
 *   - int:         uniform on the grid low, low + step, …, high (high − low must be a multiple of
 *                  step: a grid that does not reach `high` is rejected, not silently shortened);
 *   - categorical: uniform over `choices` (numbers, strings or booleans, unique).
 * Also the uniform draw each distribution defines (the random sampler, TPE's start-up trials) and
 * a membership test (so a sampler can ignore history entries that no longer fit an edited space).
 */
import { z } from 'zod';
import type { Stream } from '../rng';

export type ParamValue = number | string | boolean;
export type Params = Record<string, ParamValue>;

export const FloatDistribution = z
  .strictObject({
    type: z.literal('float'),
    low: z.number(),
    high: z.number(),
    log: z.boolean().default(false),
  })
  .superRefine((d, ctx) => {
    if (!(d.low < d.high)) ctx.addIssue({ code: 'custom', path: ['high'], message: `must be greater than low (${d.low}), got ${d.high}` });
    if (d.log && !(d.low > 0)) ctx.addIssue({ code: 'custom', path: ['low'], message: `must be positive on a log scale, got ${d.low}` });
  });
export type FloatDistribution = z.infer<typeof FloatDistribution>;

export const IntDistribution = z
  .strictObject({
    type: z.literal('int'),
    low: z.int(),
    high: z.int(),
    step: z.int().min(1).default(1),
  })
  .superRefine((d, ctx) => {
    if (!(d.low <= d.high)) ctx.addIssue({ code: 'custom', path: ['high'], message: `must be at least low (${d.low}), got ${d.high}` });
    else if ((d.high - d.low) % d.step !== 0) {
      const reachable = d.low + Math.floor((d.high - d.low) / d.step) * d.step;
      ctx.addIssue({ code: 'custom', path: ['high'], message: `high − low must be a multiple of step ${d.step}; the grid from ${d.low} ends at ${reachable}` });
    }
  });
export type IntDistribution = z.infer<typeof IntDistribution>;

export const CategoricalDistribution = z
  .strictObject({
    type: z.literal('categorical'),
    choices: z.array(z.union([z.number(), z.string(), z.boolean()])).min(1),
  })
  .superRefine((d, ctx) => {
    if (new Set(d.choices).size !== d.choices.length) ctx.addIssue({ code: 'custom', path: ['choices'], message: 'must be unique' });
  });
export type CategoricalDistribution = z.infer<typeof CategoricalDistribution>;

export const Distribution = z.discriminatedUnion('type', [FloatDistribution, IntDistribution, CategoricalDistribution]);
export type Distribution = z.infer<typeof Distribution>;

export const SearchSpace = z.record(z.string(), Distribution);
export type SearchSpace = z.infer<typeof SearchSpace>;

/** One uniform draw: on [low, high] (in log for log floats), on the int grid, or over the choices. */
export function sampleUniform(d: Distribution, stream: Stream): ParamValue {
  switch (d.type) {
    case 'float': {
      // Clamped because exp(log(high)) and low + u·(high − low) can round just past the bounds.
      const value = d.log ? Math.exp(Math.log(d.low) + stream.uniform() * (Math.log(d.high) - Math.log(d.low))) : d.low + stream.uniform() * (d.high - d.low);
      return Math.min(d.high, Math.max(d.low, value));
    }
    case 'int':
      return d.low + d.step * stream.below((d.high - d.low) / d.step + 1);
    case 'categorical':
      return d.choices[stream.below(d.choices.length)];
  }
}

/** Whether a value is one the distribution can produce (type, bounds, grid, or one of the choices). */
export function isInDistribution(d: Distribution, value: unknown): value is ParamValue {
  switch (d.type) {
    case 'float':
      return typeof value === 'number' && value >= d.low && value <= d.high;
    case 'int':
      return typeof value === 'number' && Number.isInteger(value) && value >= d.low && value <= d.high && (value - d.low) % d.step === 0;
    case 'categorical':
      return d.choices.includes(value as ParamValue);
  }
}

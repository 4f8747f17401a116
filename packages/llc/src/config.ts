/**
 * The configuration concepts of Stage A and the posterior, as users write them in presets and
 * overrides (zod schemas, strict: unknown keys are errors), and their resolution into the exact
 * specs the numerics consume. Resolution drops keys that cannot change the result (a mixture
 * setting when inputs are Gaussian, say), so that ids and cache keys move only when results can.
 */
import { z } from 'zod';
import type { DataSpec, TeacherSpec } from './data';
import { inferWidths, LossFn, MlpArch } from './mlp';
import type { TrainingSpec } from './train';
import { formatCount, MAX_ROWS, MAX_VALUES, MAX_WIDTH } from './limits';

const posInt = z.int().min(1);
const nonNegInt = z.int().min(0);
const nonNeg = z.number().min(0);
const positive = z.number().positive();
/** A layer width or input/output dimension, bounded (limits.ts). */
const width = posInt.max(MAX_WIDTH, `must be at most ${formatCount(MAX_WIDTH)} (the largest layer width)`);
/** A number of data rows: a typed array's length at most (limits.ts). */
const rows = (min: number) => z.int().min(min).max(MAX_ROWS, `must be at most ${formatCount(MAX_ROWS)} (the longest float64 array this engine can allocate)`);

export const activation = z.enum(['relu', 'tanh', 'gelu', 'identity']);

export const ModelConfig = z
  .strictObject({
    in_dim: width,
    out_dim: width,
    depth: nonNegInt.max(64),
    widths: z.array(width).nullable(),
    activation,
    bias: z.boolean(),
    layernorm: z.boolean(),
    skip_connections: z.boolean(),
    residual_period: posInt,
    target_params: posInt.nullable(),
    hidden: posInt,
  })
  .superRefine((m, ctx) => {
    if (m.widths && m.widths.length !== m.depth)
      ctx.addIssue({ code: 'custom', path: ['widths'], message: `has ${m.widths.length} entries but depth is ${m.depth}` });
    const layers = [m.in_dim, ...(m.widths ?? []), m.out_dim];
    for (let i = 1; i < layers.length; i++)
      if (layers[i - 1] * layers[i] > MAX_VALUES)
        ctx.addIssue({ code: 'custom', path: ['widths'], message: `a ${layers[i - 1]} × ${layers[i]} weight matrix has ${formatCount(layers[i - 1] * layers[i])} values: expected at most ${formatCount(MAX_VALUES)} per layer (the longest float64 array)` });
  });
export type ModelConfig = z.infer<typeof ModelConfig>;

export const TeacherConfig = z
  .strictObject({
    depth: nonNegInt.max(64).optional(),
    widths: z.array(width).nullable().optional(),
    activation: activation.optional(),
    bias: z.boolean().optional(),
    dropout_rate: z.number().min(0).lt(1).optional(),
    target_params: posInt.nullable().optional(),
    hidden: posInt.nullable().optional(),
  })
  .superRefine((t, ctx) => {
    if (t.target_params != null && t.hidden != null)
      ctx.addIssue({ code: 'custom', path: ['hidden'], message: 'set either target_params or hidden, not both' });
    if (t.widths && t.depth !== undefined && t.widths.length !== t.depth)
      ctx.addIssue({ code: 'custom', path: ['widths'], message: `has ${t.widths.length} entries but depth is ${t.depth}` });
  });
export type TeacherConfig = z.infer<typeof TeacherConfig>;

export const DataConfig = z.strictObject({
  n_data: rows(1),
  n_test: rows(0),
  x_dist: z.enum(['gauss_iso', 'gauss_aniso', 'mixture', 'lowdim_manifold', 'heavy_tail']),
  cov_decay: z.number().gt(0).max(1),
  mixture_k: posInt,
  mixture_spread: nonNeg,
  x_dim_latent: posInt,
  noise_model: z.enum(['gauss', 'hetero', 'student_t', 'outliers']),
  noise_scale: nonNeg,
  hetero_scale: nonNeg,
  student_df: positive,
  outlier_frac: z.number().min(0).max(1),
  outlier_scale: nonNeg,
});
export type DataConfig = z.infer<typeof DataConfig>;

export const TrainingConfig = z.strictObject({
  optimizer: z.enum(['adam', 'adamw', 'sgd']),
  learning_rate: positive,
  steps: posInt,
  early_stop_tol: nonNeg,
  loss: z.enum(['mse', 't_regression']),
  weight_decay: nonNeg,
});
export type TrainingConfig = z.infer<typeof TrainingConfig>;

/** Everything that determines a trained target. */
export interface BuildSpec {
  seed: number;
  model: MlpArch;
  teacher: TeacherSpec;
  data: DataSpec;
  training: TrainingSpec & { loss: TrainingConfig['loss'] };
}

export function resolveModel(m: ModelConfig): MlpArch {
  const arch: MlpArch = {
    in_dim: m.in_dim,
    out_dim: m.out_dim,
    widths: m.widths ?? inferWidths(m.in_dim, m.out_dim, m.depth, m.target_params, m.hidden),
    activation: m.activation,
    bias: m.bias,
    layernorm: m.layernorm,
    skip_connections: m.skip_connections,
    residual_period: m.residual_period,
  };
  return arch;
}

/**
 * The teacher's architecture. An empty teacher config (preset `_null`) copies the student's
 * resolved architecture with its own weights; otherwise unset fields fall back to the student's.
 */
export function resolveTeacher(t: TeacherConfig, m: ModelConfig, student: MlpArch): TeacherSpec {
  const ownShape = t.depth !== undefined || t.target_params != null || t.hidden != null;
  const depth = t.depth ?? m.depth;
  const widths = t.widths ?? (ownShape ? inferWidths(m.in_dim, m.out_dim, depth, t.target_params ?? m.target_params, t.hidden ?? m.hidden) : student.widths);
  return {
    in_dim: m.in_dim,
    out_dim: m.out_dim,
    widths,
    activation: t.activation ?? m.activation,
    bias: t.bias ?? m.bias,
    layernorm: false,
    skip_connections: false,
    residual_period: 1,
    dropout_rate: t.dropout_rate ?? 0,
  };
}

/** Keeps the keys that the chosen input distribution, noise model and loss read. */
export function resolveData(c: DataConfig, loss: TrainingConfig['loss']): DataSpec {
  const spec: DataSpec = { n_data: c.n_data, n_test: c.n_test, x_dist: c.x_dist, noise_model: c.noise_model, noise_scale: c.noise_scale };
  if (c.x_dist === 'gauss_aniso') spec.cov_decay = c.cov_decay;
  if (c.x_dist === 'mixture') Object.assign(spec, { mixture_k: c.mixture_k, mixture_spread: c.mixture_spread });
  if (c.x_dist === 'lowdim_manifold') spec.x_dim_latent = c.x_dim_latent;
  if (c.x_dist === 'heavy_tail' || c.noise_model === 'student_t' || loss === 't_regression') spec.student_df = c.student_df;
  if (c.noise_model === 'hetero') spec.hetero_scale = c.hetero_scale;
  if (c.noise_model === 'outliers') Object.assign(spec, { outlier_frac: c.outlier_frac, outlier_scale: c.outlier_scale });
  return spec;
}

export function resolveTraining(c: TrainingConfig): BuildSpec['training'] {
  const spec: BuildSpec['training'] = {
    optimizer: c.optimizer,
    learning_rate: c.learning_rate,
    steps: c.steps,
    early_stop_tol: c.early_stop_tol,
    loss: c.loss,
  };
  if (c.optimizer === 'adamw') spec.weight_decay = c.weight_decay;
  return spec;
}

/** The loss a target was trained with, which its posterior also uses. */
export function lossFnFor(build: BuildSpec): LossFn {
  return { kind: build.training.loss, df: build.data.student_df ?? 0, scale: build.data.noise_scale };
}

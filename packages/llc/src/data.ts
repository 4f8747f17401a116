/**
 * Teacher–student regression data (docs/mathematics.md, "Stage A"): inputs from one of five distributions, outputs from a
 * randomly initialised teacher MLP, plus one of four noise models. Every array is a pure function
 * of the key, so the same seed gives the same bytes.
 */
import { fillNormal, fillUniform, fold, Key, Stream } from './rng';
import { initParams, layout, MlpArch, MlpEvaluator } from './mlp';

export type InputDistribution = 'gauss_iso' | 'gauss_aniso' | 'mixture' | 'lowdim_manifold' | 'heavy_tail';
export type NoiseModel = 'gauss' | 'hetero' | 'student_t' | 'outliers';

/** Only the keys that the chosen distribution and noise model read are present. */
export interface DataSpec {
  n_data: number;
  n_test: number;
  x_dist: InputDistribution;
  noise_model: NoiseModel;
  noise_scale: number;
  cov_decay?: number;
  mixture_k?: number;
  mixture_spread?: number;
  x_dim_latent?: number;
  student_df?: number;
  hetero_scale?: number;
  outlier_frac?: number;
  outlier_scale?: number;
}

export interface TeacherSpec extends MlpArch {
  dropout_rate: number;
}

export interface Dataset {
  X: Float64Array; // n × in_dim
  Y: Float64Array; // n × out_dim
  /** teacher(X) before dropout and noise: the function the student should learn. */
  teacherY: Float64Array;
}

function required<T>(v: T | undefined, name: string): T {
  if (v === undefined) throw new Error(`data spec is missing ${name}`);
  return v;
}

/** n rows of inputs in R^inDim. */
export function sampleInputs(spec: DataSpec, n: number, inDim: number, key: Key): Float64Array {
  const X = new Float64Array(n * inDim);
  switch (spec.x_dist) {
    case 'gauss_iso':
      fillNormal(key, X);
      return X;
    case 'gauss_aniso': {
      fillNormal(key, X);
      const decay = required(spec.cov_decay, 'cov_decay');
      for (let j = 0; j < inDim; j++) {
        const s = Math.sqrt(Math.pow(decay, j));
        for (let i = 0; i < n; i++) X[i * inDim + j] *= s;
      }
      return X;
    }
    case 'mixture': {
      const k = required(spec.mixture_k, 'mixture_k');
      const spread = required(spec.mixture_spread, 'mixture_spread');
      const centres = new Float64Array(k * inDim);
      fillNormal(fold(key, 0), centres);
      for (let c = 0; c < k; c++) {
        let norm = 0;
        for (let j = 0; j < inDim; j++) norm += centres[c * inDim + j] ** 2;
        const scale = spread / (1e-6 + Math.sqrt(norm));
        for (let j = 0; j < inDim; j++) centres[c * inDim + j] *= scale;
      }
      const which = new Stream(fold(key, 1));
      fillNormal(fold(key, 2), X);
      for (let i = 0; i < n; i++) {
        const c = which.below(k);
        for (let j = 0; j < inDim; j++) X[i * inDim + j] += centres[c * inDim + j];
      }
      return X;
    }
    case 'lowdim_manifold': {
      const k = required(spec.x_dim_latent, 'x_dim_latent');
      const Z = new Float64Array(n * k);
      const A = new Float64Array(k * inDim);
      fillNormal(fold(key, 0), Z);
      fillNormal(fold(key, 1), A);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < inDim; j++) {
          let s = 0;
          for (let l = 0; l < k; l++) s += Z[i * k + l] * A[l * inDim + j];
          X[i * inDim + j] = Math.tanh(s);
        }
      return X;
    }
    case 'heavy_tail': {
      // Multivariate Student t: a shared Gamma(ν/2)/(ν/2) scale per row.
      const df = required(spec.student_df, 'student_df');
      fillNormal(fold(key, 1), X);
      const scales = fold(key, 0);
      for (let i = 0; i < n; i++) {
        const g = new Stream(fold(scales, i)).gamma(df / 2) / (df / 2);
        const s = 1 / Math.sqrt(g);
        for (let j = 0; j < inDim; j++) X[i * inDim + j] *= s;
      }
      return X;
    }
  }
}

/** Y = yClean + noise, per the noise model. */
export function addNoise(spec: DataSpec, yClean: Float64Array, X: Float64Array, inDim: number, outDim: number, key: Key): Float64Array {
  const n = yClean.length / outDim;
  const sigma = spec.noise_scale;
  const Y = new Float64Array(yClean.length);
  const z = new Float64Array(yClean.length);
  switch (spec.noise_model) {
    case 'gauss':
      fillNormal(key, z);
      for (let i = 0; i < Y.length; i++) Y[i] = yClean[i] + sigma * z[i];
      return Y;
    case 'hetero': {
      const h = required(spec.hetero_scale, 'hetero_scale');
      fillNormal(key, z);
      for (let i = 0; i < n; i++) {
        let norm = 0;
        for (let j = 0; j < inDim; j++) norm += X[i * inDim + j] ** 2;
        const s = sigma * (1 + h * Math.sqrt(norm));
        for (let o = 0; o < outDim; o++) Y[i * outDim + o] = yClean[i * outDim + o] + s * z[i * outDim + o];
      }
      return Y;
    }
    case 'student_t': {
      const df = required(spec.student_df, 'student_df');
      fillNormal(fold(key, 1), z);
      const scales = fold(key, 0);
      for (let i = 0; i < Y.length; i++) {
        const g = new Stream(fold(scales, i)).gamma(df / 2) / (df / 2);
        Y[i] = yClean[i] + (sigma * z[i]) / Math.sqrt(g);
      }
      return Y;
    }
    case 'outliers': {
      const frac = required(spec.outlier_frac, 'outlier_frac');
      const scale = required(spec.outlier_scale, 'outlier_scale');
      const u = new Float64Array(Y.length);
      const big = new Float64Array(Y.length);
      fillNormal(fold(key, 0), z);
      fillUniform(fold(key, 1), u);
      fillNormal(fold(key, 2), big);
      for (let i = 0; i < Y.length; i++) Y[i] = yClean[i] + (u[i] < frac ? scale * big[i] : sigma * z[i]);
      return Y;
    }
  }
}

/** Applies a teacher to n rows. */
export function teacherOutputs(teacher: MlpArch, params: Float64Array, X: Float64Array, n: number): Float64Array {
  const ev = new MlpEvaluator(teacher, n);
  return Float64Array.from(ev.forward(params, 0, X, null, n));
}

/** Stream tags under a dataset key. Fixed forever: changing one changes every artifact. */
const TAG = { inputs: 1, noise: 2, dropout: 3 } as const;

/**
 * One sample of the generative process: inputs, teacher outputs with output dropout (whole outputs
 * zeroed with probability dropout_rate, not rescaled, as in the reference), then noise.
 */
export function sampleDataset(spec: DataSpec, teacher: TeacherSpec, teacherParams: Float64Array, n: number, key: Key): Dataset {
  const X = sampleInputs(spec, n, teacher.in_dim, fold(key, TAG.inputs));
  const teacherY = teacherOutputs(teacher, teacherParams, X, n);
  const yClean = Float64Array.from(teacherY);
  if (teacher.dropout_rate > 0) {
    const u = new Float64Array(yClean.length);
    fillUniform(fold(key, TAG.dropout), u);
    for (let i = 0; i < yClean.length; i++) if (!(u[i] > teacher.dropout_rate)) yClean[i] = 0;
  }
  const Y = addNoise(spec, yClean, X, teacher.in_dim, teacher.out_dim, fold(key, TAG.noise));
  return { X, Y, teacherY };
}

export function initTeacher(teacher: TeacherSpec, key: Key): Float64Array {
  return initParams(teacher, key, new Float64Array(layout(teacher).d)) as Float64Array;
}

/**
 * The artifact layout, and the target artifact's reader and writer (run artifacts: run-artifact.ts).
 * Every directory is content-addressed by id and written atomically (built under a temporary name,
 * then renamed into place):
 *
 *   artifacts/targets/<tgt_…>/      params.npy X.npy Y.npy X_test.npy Y_test.npy
 *                                   teacher_params.npy train_loss.npy meta.json
 *   artifacts/runs/<sampler_…>/     analysis.json traces.arrow [optimization.arrow]
 *   artifacts/experiments/<name>/   llc_runs.parquet llc_runs.arrow llc_runs.csv report.html
 *                                   report/<tgt_…>.html
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeDirAtomic, writeFileAtomic } from './atomic';
import { sha256Hex } from './canonical';
import type { BuildSpec } from './config';
import { encodeNpy, readNpy } from './npy';
import type { ParamEntry } from './mlp';
import type { NumericIdentity } from './kernels/types';
import type { BuiltTarget } from './target';

export const ARTIFACTS_DIR = 'artifacts';

export const artifactPath = {
  target: (id: string) => join(ARTIFACTS_DIR, 'targets', id),
  run: (id: string) => join(ARTIFACTS_DIR, 'runs', id),
  experiment: (name: string) => join(ARTIFACTS_DIR, 'experiments', name),
  tune: (name: string) => join(ARTIFACTS_DIR, 'tune', name),
};

export interface TargetMeta {
  target_id: string;
  build: BuildSpec;
  /** Order of the flat parameter vector in params.npy. */
  layout: ParamEntry[];
  dims: { n: number; n_test: number; in_dim: number; out_dim: number; d: number };
  /** L_n(w*) in float64. */
  L0: number;
  /** The kernel that computed the training gradients (training is bit-reproducible per kernel identity). */
  kernel: string;
  kernel_identity: NumericIdentity;
  metrics: BuiltTarget['metrics'];
  training: { steps_run: number; stopped_early: boolean; initial_loss: number; final_loss: number };
  hashes: { params: string };
  versions: Record<string, string>;
  wall_time_s: number;
}

/** Strict JSON: JSON.stringify already writes non-finite numbers as null; typed arrays become lists. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_, v) => (ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as Float64Array) : v), 2) + '\n';
}

/** The files of a target's folder, meta.json last: the build rule declares them as its outputs. */
export const TARGET_FILES = ['params.npy', 'X.npy', 'Y.npy', 'X_test.npy', 'Y_test.npy', 'teacher_params.npy', 'train_loss.npy', 'meta.json'] as const;

export async function writeTargetArtifact(dir: string, built: BuiltTarget, meta: Omit<TargetMeta, 'hashes'>): Promise<void> {
  const { in_dim, out_dim, n, n_test, d } = meta.dims;
  const params = encodeNpy(built.params, [d]);
  const contents: Record<(typeof TARGET_FILES)[number], Uint8Array | string> = {
    'params.npy': params,
    'X.npy': encodeNpy(built.X, [n, in_dim]),
    'Y.npy': encodeNpy(built.Y, [n, out_dim]),
    'X_test.npy': encodeNpy(built.Xtest, [n_test, in_dim]),
    'Y_test.npy': encodeNpy(built.Ytest, [n_test, out_dim]),
    'teacher_params.npy': encodeNpy(built.teacherParams, [built.teacherParams.length]),
    'train_loss.npy': encodeNpy(built.losses, [built.losses.length]),
    'meta.json': toJson({ ...meta, hashes: { params: `sha256:${sha256Hex(params)}` } }),
  };
  await writeDirAtomic(dir, (tmp) => {
    for (const name of TARGET_FILES) writeFileAtomic(join(tmp, name), contents[name]);
  });
}

export interface TargetArtifact {
  meta: TargetMeta;
  params: Float64Array;
  X: Float64Array;
  Y: Float64Array;
  Xtest: Float64Array;
  Ytest: Float64Array;
  teacherParams: Float64Array;
  /** The training loss at every optimiser step. */
  trainLoss: Float64Array;
}

export function readTargetArtifact(dir: string): TargetArtifact {
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as TargetMeta;
  const f64 = (name: string) => {
    const { data } = readNpy(join(dir, name));
    if (!(data instanceof Float64Array)) throw new Error(`${join(dir, name)}: expected float64 data`);
    return data;
  };
  return {
    meta,
    params: f64('params.npy'),
    X: f64('X.npy'),
    Y: f64('Y.npy'),
    Xtest: f64('X_test.npy'),
    Ytest: f64('Y_test.npy'),
    teacherParams: f64('teacher_params.npy'),
    trainLoss: f64('train_loss.npy'),
  };
}

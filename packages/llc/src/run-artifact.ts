/**
 * A run's artifact: analysis.json (strict JSON) and Arrow IPC tables (traces.arrow: one row per
 * chain and draw; optimization.arrow: one row per chain and step, for VI). Everything but the
 * `timing` entry of analysis.json is a function of the config, the code and the kernel's numeric
 * identity: the same seed and kernel give the same bytes, whatever the machine's load or the number
 * of threads. A run keeps no plots: the report draws them from its tables. Two or three files per
 * run, because a sweep's cached rerun costs Nx a copy or a hash per file (docs/caching.md).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toJson } from './artifacts';
import { writeDirAtomic, writeFileAtomic } from './atomic';
import type { BuildSpec } from './config';
import type { NumericIdentity } from './kernels/types';
import type { LlcSummary } from './llc';
import type { PosteriorSpec } from './posterior';
import type { MalaSummary } from './samplers/mala';
import type { Work } from './samplers/types';
import type { RunStatus } from './status';
import { Columns, writeArrowFile } from './tables';

/**
 * analysis.json. Statistics typed `number` may be null in the file when they are undefined for the
 * run (an ESS from too few draws, say): JSON has no NaN.
 */
export interface RunAnalysis {
  run_id: string;
  target_id: string;
  /** The target's resolved build config, so a run's row names what it measured. */
  target: BuildSpec;
  sampler: string;
  seed: number;
  /** The sampler's resolved options. */
  options: Record<string, unknown>;
  posterior: PosteriorSpec;
  temperature: { n: number; beta: number; n_beta: number; gamma: number };
  d: number;
  dtype: 'float32' | 'float64';
  kernel: string;
  /** What decides the kernel's rounding: equal identities, seeds and configs give equal bytes. */
  kernel_identity: NumericIdentity;
  /** L_n(w*) from the sampling kernel, in its precision: the L0 that λ̂ subtracts. */
  L0: number;
  L0_float64: number;
  llc: LlcSummary;
  /**
   * Whether the sampler estimated λ̂ per chain (VI: from draws of its fitted q, after an
   * optimisation that did all the work) rather than as the average over MCMC draws.
   */
  estimated_per_chain: boolean;
  work: Work;
  /** Sampler-specific results: HMC's acceptance_rate and divergences, MCLMC's tuned L, VI's estimators, … */
  diagnostics: Record<string, unknown>;
  /** Divergent transitions after warm-up, for samplers that detect them (HMC); null for the others. */
  divergences: { count: number; transitions: number } | null;
  /** The MALA acceptance probability of the proposals on a subsample of steps (SGLD); null for the others. */
  mala_acceptance: MalaSummary | null;
  status: RunStatus;
  versions: Record<string, string>;
  /** Wall-clock facts: the one entry that differs between runs of the same config, seed and kernel. */
  timing: RunTiming;
}

/** Wall-clock facts about a run: where the time went, on how many threads. */
export interface RunTiming {
  warmup_s: number;
  sampling_s: number;
  total_s: number;
  threads: number;
  /** Seconds since the start of the run at each draw. */
  seconds: number[];
}

export async function writeRunArtifact(dir: string, analysis: RunAnalysis, tables: Record<string, Columns>): Promise<void> {
  await writeDirAtomic(dir, (tmp) => {
    for (const [name, columns] of Object.entries(tables)) writeArrowFile(join(tmp, name), columns);
    writeFileAtomic(join(tmp, 'analysis.json'), toJson(analysis));
  });
}

export function readAnalysis(dir: string): RunAnalysis {
  return JSON.parse(readFileSync(join(dir, 'analysis.json'), 'utf8'));
}

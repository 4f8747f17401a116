/**
 * What a tune leaves for people (README, "Tuning"): the trials table (trials.parquet and trials.arrow, one
 * row per trial of the current study) and best.yaml, the best parameters per (problem, method) as
 * sampler entries ready to paste under `samplers:` in an experiment file. Rewritten atomically as
 * trials finish, so an interrupted tune still shows what it found.
 */
import { join } from 'node:path';
import { stringify } from 'yaml';
import { artifactPath } from '../../packages/llc/src/artifacts';
import { writeFileAtomic } from '../../packages/llc/src/atomic';
import { canonicalJson } from '../../packages/llc/src/canonical';
import { Columns, writeArrowFile, writeParquetFile } from '../../packages/llc/src/tables';
import type { TuneConfig } from './config';
import { isFinished, StudyFile, StudyTrial } from './study';

/** The HMC reference of one problem, as the tuner read it. */
export interface Reference {
  run_id: string;
  llc: number;
  mcse: number;
  status: string;
}

export const TUNE_OUTPUTS = ['trials.parquet', 'trials.arrow', 'best.yaml'] as const;

/** One row per trial; parameters both as canonical JSON and one `param.<name>` column per parameter of any method. */
export function trialsColumns(config: TuneConfig, study: StudyFile, references: Map<string, Reference>): Columns {
  const trials = [...study.trials].sort((a, b) => a.problem.localeCompare(b.problem) || a.method.localeCompare(b.method) || a.number - b.number);
  const ref = (t: StudyTrial) => references.get(t.problem);
  const paramNames = [...new Set(config.methods.flatMap((m) => Object.keys(m.space)))].sort();
  const columns: Columns = {
    tune: trials.map(() => config.name),
    study: trials.map(() => config.study),
    problem: trials.map((t) => t.problem),
    method: trials.map((t) => t.method),
    number: Int32Array.from(trials, (t) => t.number),
    state: trials.map((t) => t.state),
    params: trials.map((t) => canonicalJson(t.params)),
  };
  for (const name of paramNames) {
    const values = trials.map((t) => t.params[name] ?? null);
    const numeric = values.every((v) => v === null || typeof v === 'number');
    columns[`param.${name}`] = numeric ? (values as (number | null)[]) : values.map((v) => (v === null ? null : String(v)));
  }
  Object.assign(columns, {
    llc: trials.map((t) => t.llc),
    llc_ref: trials.map((t) => ref(t)?.llc ?? null),
    llc_ref_mcse: trials.map((t) => ref(t)?.mcse ?? null),
    error: trials.map((t) => (t.llc !== null && ref(t) ? t.llc - ref(t)!.llc : null)),
    objective: trials.map((t) => t.objective),
    pruned_at: trials.map((t) => t.pruned_at),
    wall_time_s: trials.map((t) => t.wall_time_s),
    reference_run: trials.map((t) => ref(t)?.run_id ?? null),
    reason: trials.map((t) => t.reason),
  });
  return columns;
}

/** The complete trial with the lowest objective, or undefined when none has completed. */
export function bestTrial(trials: readonly StudyTrial[]): StudyTrial | undefined {
  let best: StudyTrial | undefined;
  for (const t of trials) if (t.state === 'complete' && t.objective !== null && (!best || t.objective < best.objective!)) best = t;
  return best;
}

export function bestYaml(config: TuneConfig, study: StudyFile, references: Map<string, Reference>): string {
  const lines = [
    `# Best parameters found by tune "${config.name}" (${config.file}), study ${config.study}.`,
    '# Each entry is a sampler entry: paste it under `samplers:` in an experiment file. With the same',
    '# target, seed and posterior it reproduces the trial (trials share their method\'s seed).',
    'samplers:',
  ];
  for (const problem of config.problems) {
    for (const m of config.methods) {
      const trials = study.trials.filter((t) => t.problem === problem.id && t.method === m.sampler);
      const finished = trials.filter(isFinished).length;
      const best = bestTrial(trials);
      const ref = references.get(problem.id);
      if (!best) {
        lines.push(`  # ${m.sampler} on ${problem.id}: no complete trial yet (${finished} finished)`);
        continue;
      }
      lines.push(
        `  # ${m.sampler} on ${problem.id}: trial ${best.number}, the best of ${finished} finished; objective ${best.objective!.toPrecision(4)},`,
        `  # λ̂ = ${best.llc!.toPrecision(5)} vs λ_ref = ${ref ? `${ref.llc.toPrecision(5)} ± ${ref.mcse.toPrecision(2)} (${ref.run_id})` : 'unknown'}`,
      );
      const entry = {
        name: m.sampler,
        seed: m.seed,
        ...(config.posterior_overrides && { posterior: config.posterior_overrides }),
        overrides: { ...m.overrides, ...best.params },
      };
      lines.push(...stringify([entry], { flowCollectionPadding: true }).trimEnd().split('\n').map((l) => `  ${l}`));
    }
  }
  return lines.join('\n') + '\n';
}

export function writeTuneOutputs(root: string, config: TuneConfig, study: StudyFile, references: Map<string, Reference>): void {
  const dir = join(root, artifactPath.tune(config.name));
  const columns = trialsColumns(config, study, references);
  writeParquetFile(join(dir, 'trials.parquet'), columns);
  writeArrowFile(join(dir, 'trials.arrow'), columns);
  writeFileAtomic(join(dir, 'best.yaml'), bestYaml(config, study, references));
}

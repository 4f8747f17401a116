/**
 * Collects one experiment's runs into the `llc_runs` table (README, "The results table", columns in llc-runs.ts):
 * exactly the runs of the experiment file as it is now, one row each, as Parquet, Arrow IPC and CSV.
 */
import { join } from 'node:path';
import { artifactPath } from '../packages/llc/src/artifacts';
import { disagreements, RunEstimate, withDisagreement } from '../packages/llc/src/agreement';
import { readAnalysis, readTiming, RunAnalysis } from '../packages/llc/src/run-artifact';
import { Columns, writeTableInBatches } from '../packages/llc/src/tables';
import type { Experiment } from './experiment';
import { LLC_RUNS_COLUMNS, llcRunsColumns, RunRecord } from './llc-runs';
import { checkFiles, Rule, RuleContext } from './rule';

export interface ExperimentRuns {
  experiment: string;
  /** `label` and `target_label` are the entries' labels: a renamed entry rewrites the table, never a run. */
  runs: { id: string; target: string; sampler: string; label: string; target_label: string }[];
}

/** The runs of an experiment as the aggregate and report rules take them. */
export function experimentRuns(exp: Experiment): ExperimentRuns {
  return { experiment: exp.name, runs: exp.runs.map((r) => ({ id: r.id, target: r.target, sampler: r.sampler, label: exp.labels[r.id], target_label: exp.labels[r.target] })) };
}

export const LLC_RUNS_FILES = ['llc_runs.parquet', 'llc_runs.arrow', 'llc_runs.csv'];

/**
 * Rows read and written at a time (and rows per Parquet row group): a sweep of 10,000 runs is never
 * held in memory at once, and a batch is still large enough to write efficiently.
 */
export const BATCH_ROWS = 1000;

/** A run's record, its status amended by `disagreement`; timing is kept apart from the analysis because it is not reproducible. */
export function readRunRecord(root: string, experiment: string, run: ExperimentRuns['runs'][number], disagreement?: string): RunRecord {
  const dir = join(root, artifactPath.run(run.id));
  const analysis = readAnalysis(dir);
  return { experiment, label: run.label, target_label: run.target_label, status: withDisagreement(analysis.status, disagreement), analysis, timing: readTiming(dir) };
}

/** What the agreement check needs of a run. */
export function runEstimate(a: RunAnalysis): RunEstimate {
  return { id: a.run_id, target: a.target_id, sampler: a.sampler, mean: a.llc.mean, mcse: a.llc.mcse, state: a.status.state };
}

/** Every disagreeing run of the experiment with its reason: one light pass over the analyses before the table is written. */
export function experimentDisagreements(root: string, spec: ExperimentRuns): Map<string, string> {
  return disagreements(spec.runs.map((r) => runEstimate(readAnalysis(join(root, artifactPath.run(r.id))))));
}

/** Writes the experiment's llc_runs files, `batchRows` runs at a time; returns how many rows they have. */
export async function writeLlcRuns(root: string, spec: ExperimentRuns, options: { batchRows?: number; log?: RuleContext['log']; progress?: RuleContext['progress'] } = {}): Promise<number> {
  const batchRows = options.batchRows ?? BATCH_ROWS;
  const dir = join(root, artifactPath.experiment(spec.experiment));
  const show = (x: number | null, digits: number) => (x === null ? 'n/a' : x.toPrecision(digits));
  const disagreeing = experimentDisagreements(root, spec);
  function* batches(): Generator<Columns> {
    for (let start = 0; start < spec.runs.length; start += batchRows) {
      const records = spec.runs.slice(start, start + batchRows).map((r) => readRunRecord(root, spec.experiment, r, disagreeing.get(r.id)));
      for (const { analysis: a, status } of records) {
        const verdict = status.state === 'ok' ? 'ok' : `${status.state}: ${status.reasons.join('; ')}`;
        options.log?.(`  ${a.run_id}  ${a.target_id}  λ̂ = ${show(a.llc.mean, 5)} ± ${show(a.llc.mcse, 2)} (MCSE)  R̂ ${show(a.llc.r_hat, 4)}  ${verdict}`);
      }
      yield llcRunsColumns(records);
      options.progress?.({ phase: 'tabulating', done: start + records.length, total: spec.runs.length, unit: 'runs' });
    }
  }
  const [parquet, arrow, csv] = LLC_RUNS_FILES.map((f) => join(dir, f));
  return writeTableInBatches({ parquet, arrow, csv }, LLC_RUNS_COLUMNS, batches(), batchRows);
}

export const aggregateRule: Rule<ExperimentRuns> = {
  name: 'aggregate',
  codeEntryPoints: () => [__filename],
  outputs: (spec) => LLC_RUNS_FILES.map((f) => join(artifactPath.experiment(spec.experiment), f)),
  verify: (spec, root) => checkFiles(root, artifactPath.experiment(spec.experiment), LLC_RUNS_FILES),

  async run(spec, ctx) {
    const rows = await writeLlcRuns(ctx.root, spec, { log: (line) => ctx.log(line), progress: (update) => ctx.progress?.(update) });
    ctx.log(`llc_runs: ${rows} runs of experiment ${spec.experiment}`);
  },
};

/**
 * Collects one experiment's runs into the `llc_runs` table (README, "The results table", columns in llc-runs.ts):
 * exactly the runs of the experiment file as it is now, one row each, as Parquet, Arrow IPC and CSV.
 */
import { join } from 'node:path';
import { artifactPath } from '../packages/llc/src/artifacts';
import { readAnalysis, readTiming } from '../packages/llc/src/run-artifact';
import { writeArrowFile, writeCsvFile, writeParquetFile } from '../packages/llc/src/tables';
import { llcRunsColumns, RunRecord } from './llc-runs';
import { checkFiles, Rule } from './rule';

export interface ExperimentRuns {
  experiment: string;
  runs: { id: string; target: string; sampler: string }[];
}

export const LLC_RUNS_FILES = ['llc_runs.parquet', 'llc_runs.arrow', 'llc_runs.csv'];

/** The records of an experiment's runs; timing is kept apart from the analysis because it is not reproducible. */
export function readRunRecords(root: string, spec: ExperimentRuns): RunRecord[] {
  return spec.runs.map((r) => {
    const dir = join(root, artifactPath.run(r.id));
    return { experiment: spec.experiment, analysis: readAnalysis(dir), timing: readTiming(dir) };
  });
}

export const aggregateRule: Rule<ExperimentRuns> = {
  name: 'aggregate',
  codeEntryPoints: () => [__filename],
  outputs: (spec) => LLC_RUNS_FILES.map((f) => join(artifactPath.experiment(spec.experiment), f)),
  verify: (spec, root) => checkFiles(root, artifactPath.experiment(spec.experiment), LLC_RUNS_FILES),

  async run(spec, ctx) {
    const records = readRunRecords(ctx.root, spec);
    const columns = llcRunsColumns(records);
    const dir = join(ctx.root, artifactPath.experiment(spec.experiment));
    writeParquetFile(join(dir, 'llc_runs.parquet'), columns);
    writeArrowFile(join(dir, 'llc_runs.arrow'), columns);
    writeCsvFile(join(dir, 'llc_runs.csv'), columns);
    ctx.log(`llc_runs: ${records.length} runs of experiment ${spec.experiment}`);
    const show = (x: number | null, digits: number) => (x === null ? 'n/a' : x.toPrecision(digits));
    for (const { analysis: a } of records) {
      const verdict = a.status.state === 'ok' ? 'ok' : `${a.status.state}: ${a.status.reasons.join('; ')}`;
      ctx.log(`  ${a.run_id}  ${a.target_id}  λ̂ = ${show(a.llc.mean, 5)} ± ${show(a.llc.mcse, 2)} (MCSE)  R̂ ${show(a.llc.r_hat, 4)}  ${verdict}`);
    }
  },
};

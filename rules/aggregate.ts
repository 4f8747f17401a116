/**
 * The aggregate rule: one experiment's results, written as one unit into
 * artifacts/experiments/<name>/ — the `llc_runs` table (llc-runs.ts; Parquet, Arrow IPC and CSV)
 * and the report (report/index.ts; report.html and a page per target). The folder is built under a
 * temporary name and renamed into place, so it is the previous results, or none, or all of the new
 * ones: never a table without its report, nor one table format without the others.
 */
import { join } from 'node:path';
import { artifactPath } from '../packages/llc/src/artifacts';
import { writeDirAtomic } from '../packages/llc/src/atomic';
import type { Experiment } from './experiment';
import { experimentRuns, LLC_RUNS_FILES, LLC_RUNS_MODULE, writeLlcRuns } from './llc-runs';
import { REPORT_MODULE, reportFiles, ReportSpec, writeReport } from './report';
import { checkFiles, Rule } from './rule';

/** What the aggregate of an experiment takes: its runs with their labels, its file and its description. */
export function aggregateSpec(exp: Experiment): ReportSpec {
  return { ...experimentRuns(exp), file: exp.file, ...(exp.description !== undefined && { description: exp.description }) };
}

export const aggregateRule: Rule<ReportSpec> = {
  name: 'aggregate',
  codeEntryPoints: () => [__filename, LLC_RUNS_MODULE, REPORT_MODULE],
  outputs: (spec) => [artifactPath.experiment(spec.experiment)],
  verify: (spec, root) => checkFiles(root, artifactPath.experiment(spec.experiment), [...LLC_RUNS_FILES, ...reportFiles(spec)]),

  async run(spec, ctx) {
    await writeDirAtomic(join(ctx.root, artifactPath.experiment(spec.experiment)), async (dir) => {
      const rows = await writeLlcRuns(ctx.root, spec, { dir, progress: (update) => ctx.progress?.(update) });
      ctx.log(`llc_runs: ${rows} runs of experiment ${spec.experiment}`);
      writeReport(ctx.root, spec, dir, ctx);
    });
  },
};

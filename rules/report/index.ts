/**
 * The report: one experiment's results as static, self-contained HTML pages (html.ts) — a summary,
 * report.html (summary.ts), and one page per target beside it in report/ (target.ts), so that a
 * sweep of thousands of runs still opens at once and no page holds more than one target's runs.
 * The aggregate rule writes it with llc_runs into the experiment's folder, as one unit.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closedFormLambda } from '../../packages/llc/src/aoyagi';
import { artifactPath, readTargetArtifact } from '../../packages/llc/src/artifacts';
import { ExperimentRuns, readRunRecord, runEstimate, teacherText } from '../llc-runs';
import { comparisons, withDisagreement } from '../../packages/llc/src/agreement';
import type { RuleContext } from '../rule';
import { runRow } from './runs-table';
import { summaryPage, TargetSummary } from './summary';
import { Entry, ReportRun, runAnchor, targetPage } from './target';

export interface ReportSpec extends ExperimentRuns {
  /** The experiment file, named in the report's heading. */
  file: string;
  /** The file's `description:`, shown under the heading. */
  description?: string;
}

export const REPORT_FILE = 'report.html';
/** The target pages' directory, beside report.html. */
export const REPORT_DIR = 'report';

const targetPageName = (id: string) => `${id}.html`;
/** Links from report.html: URL templates (html.ts) in which {target_id} and {run_id} stand for a row's. */
const LINKS = { target: `${REPORT_DIR}/${targetPageName('{target_id}')}`, run: `${REPORT_DIR}/${targetPageName('{target_id}')}#${runAnchor('{run_id}')}` };
/** Back to report.html, from a target's page. */
const SUMMARY_LINK = `../${REPORT_FILE}`;

/** The experiment's targets in file order, each with its runs in sampler-entry order. */
function runsByTarget(spec: ExperimentRuns): Map<string, ExperimentRuns['runs']> {
  const byTarget = new Map<string, ExperimentRuns['runs']>();
  for (const r of spec.runs) {
    const runs = byTarget.get(r.target);
    if (runs) runs.push(r);
    else byTarget.set(r.target, [r]);
  }
  return byTarget;
}

/** The report's files, relative to the experiment's folder: report.html and a page per target. */
export const reportFiles = (spec: ExperimentRuns): string[] => [REPORT_FILE, ...[...runsByTarget(spec).keys()].map((id) => join(REPORT_DIR, targetPageName(id)))];

/** The source file of the report: the aggregate's code includes its imports. */
export const REPORT_MODULE = __filename;

/** Writes the report of `spec` into `dir` (the experiment folder being built; it becomes the experiment's folder as a whole). */
export function writeReport(root: string, spec: ReportSpec, dir: string, ctx: Pick<RuleContext, 'log' | 'progress'>): void {
  const byTarget = runsByTarget(spec);
  const [first] = byTarget.values();
  const entries = entryLabels(first);
  const targets: TargetSummary[] = [];
  const pages = join(dir, REPORT_DIR);
  mkdirSync(pages, { recursive: true });
  // Target by target, so that only one target's runs are in memory; the summary keeps a row per run.
  for (const [id, specs] of byTarget) {
    const artifact = readTargetArtifact(join(root, artifactPath.target(id)));
    // A target's runs are all here: they are compared with its reference run among them, as the aggregate does.
    const records = specs.map((r) => readRunRecord(root, spec.experiment, r));
    const compared = comparisons(records.map((r) => runEstimate(r.analysis)));
    const runs = records.map((record, entry): ReportRun => {
      const runId = specs[entry].id;
      if (record.analysis.target_id !== id) throw new Error(`run ${runId} is of target ${record.analysis.target_id}, not ${id}`);
      const comparison = compared.get(runId);
      // Runs come target by target, sampler entries in file order within each: the k-th run of a target is entry k.
      return { ...record, comparison, status: withDisagreement(record.status, comparison?.disagreement), dir: join(root, artifactPath.run(runId)), entry };
    });
    writeFileSync(join(pages, targetPageName(id)), targetPage(spec.experiment, id, artifact, runs, entries, SUMMARY_LINK));
    const { build, dims, L0 } = artifact.meta;
    targets.push({
      id,
      facts: { label: specs[0].target_label, seed: build.seed, model: `${JSON.stringify(build.model.widths)} ${build.model.activation}`, teacher: teacherText(build.teacher), d: dims.d, n: dims.n, L0, llc_true: closedFormLambda(build)?.lambda ?? null },
      runs: runs.map((r) => ({ id: r.analysis.run_id, entry: r.entry, state: r.status.state, mean: r.analysis.llc.mean, mcse: r.analysis.llc.mcse, row: runRow(r) })),
    });
    ctx.progress?.({ phase: 'report', done: targets.length, total: byTarget.size, unit: 'targets' });
  }
  writeFileSync(join(dir, REPORT_FILE), summaryPage(spec.experiment, spec.file, spec.description, entries, targets, LINKS));
  ctx.log(`report: ${spec.runs.length} runs of experiment ${spec.experiment} in ${join(artifactPath.experiment(spec.experiment), REPORT_FILE)} and ${byTarget.size} target pages in ${REPORT_DIR}/`);
}

/** Each sampler entry: its sampler and its label (loadExperiment keeps labels apart: `sgld#2`). */
const entryLabels = (runs: ExperimentRuns['runs']): Entry[] => runs.map((r) => ({ sampler: r.sampler, label: r.label }));

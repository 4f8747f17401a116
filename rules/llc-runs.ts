/**
 * The `llc_runs` table (README, "The results table"): one row per run of an experiment, exactly the
 * runs of the experiment file as it is now. Its columns are defined once, here, with their meaning;
 * writeLlcRuns writes them as Parquet, Arrow IPC and CSV (for the aggregate rule), the report shows
 * them, and the README's schema table is checked against this list by a test.
 */
import { join } from 'node:path';
import { Comparison, comparisons, RunEstimate, withDisagreement } from '../packages/llc/src/agreement';
import { closedFormLambda } from '../packages/llc/src/aoyagi';
import { artifactPath } from '../packages/llc/src/artifacts';
import { canonicalJson } from '../packages/llc/src/canonical';
import { describeIdentity } from '../packages/llc/src/kernels/identity';
import { readAnalysis, RunAnalysis } from '../packages/llc/src/run-artifact';
import type { RunStatus } from '../packages/llc/src/status';
import { Columns, ColumnType, writeTableInBatches } from '../packages/llc/src/tables';
import type { TeacherSpec } from '../packages/llc/src/data';
import type { Experiment } from './experiment';
import type { ProgressUpdate } from './progress';

/** What one row is made from: a run's analysis.json, and the experiment and entry labels it belongs to. */
export interface RunRecord {
  experiment: string;
  label: string;
  target_label: string;
  /** The run's own status with any disagreement with its target's reference run added (agreement.ts). */
  status: RunStatus;
  /** The run against its target's reference run; absent when its λ̂ takes no part (diverged or not finite). */
  comparison?: Comparison;
  analysis: RunAnalysis;
}

/** A teacher network in a few words: hidden widths, activation and output dropout, e.g. `[5,5,5] relu dropout 0.1`. */
export const teacherText = (t: TeacherSpec): string => `${JSON.stringify(t.widths)} ${t.activation}${t.dropout_rate ? ` dropout ${t.dropout_rate}` : ''}`;

export interface Column {
  name: string;
  /**
   * `int` columns are never null; `float` columns are null where a statistic is undefined for a run
   * (an ESS from too few draws) or does not exist for its sampler (acceptance rate of SGLD).
   */
  type: ColumnType;
  description: string;
  read(r: RunRecord): string | number | null | undefined;
}

const col = (name: string, type: ColumnType, description: string, read: Column['read']): Column => ({ name, type, description, read });
const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
const perChain = (r: RunRecord) => r.analysis.llc.per_chain.map(num).filter((x): x is number => x !== null);

function sampleStd(xs: number[]): number | null {
  if (xs.length < 2) return null;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1));
}

export const LLC_RUNS_COLUMNS: Column[] = [
  col('experiment', 'string', 'experiment name (the `experiment:` key of its file)', (r) => r.experiment),
  col('run_id', 'string', 'content id of the run (`<sampler>_` + 12 hex digits)', (r) => r.analysis.run_id),
  col('target_id', 'string', 'content id of the target (`tgt_` + 12 hex digits)', (r) => r.analysis.target_id),
  col('sampler', 'string', 'sampler name: sgld, hmc, mclmc or vi', (r) => r.analysis.sampler),
  col('label', 'string', "the sampler entry's label: its `label:`, else the sampler's name, followed by the swept values of a swept entry; `#1`, `#2`, … where entries would share one", (r) => r.label),
  col('target_label', 'string', "the target entry's label: its `label:`, else `<model>/<data>`, followed by the swept values of a swept entry; `#1`, `#2`, … where entries would share one", (r) => r.target_label),
  col('status', 'string', '`ok`, `check` (a diagnostic failed or λ̂ disagrees with the target\'s reference run, see status_reason) or `diverged` (non-finite losses)', (r) => r.status.state),
  col('status_reason', 'string', 'why the status is not ok, reasons separated by `; `, a disagreement with the reference run first (empty when ok)', (r) => r.status.reasons.join('; ')),
  col('reference_run', 'string', "the target's reference run λ̂ is compared with (HMC first, then MCLMC, SGLD, flow, VI; the smallest MCSE among runs of that sampler), the run itself for the reference; empty when λ̂ takes no part (diverged or not finite)", (r) => r.comparison?.reference.id ?? ''),
  col('llc_vs_reference', 'float', 'λ̂ minus the reference run\'s λ̂ (0 for the reference itself)', (r) => r.comparison?.delta ?? null),
  col('llc_vs_reference_pct', 'float', 'llc_vs_reference as a percentage of the reference run\'s |λ̂|', (r) => (r.comparison?.relative == null ? null : 100 * r.comparison.relative)),
  col('target_seed', 'int', "the target's seed (teacher, data and student initialisation)", (r) => r.analysis.target.seed),
  col('model_widths', 'string', "the student's hidden widths as JSON, e.g. `[4,4]`", (r) => JSON.stringify(r.analysis.target.model.widths)),
  col('activation', 'string', "the student's activation", (r) => r.analysis.target.model.activation),
  col('teacher', 'string', "the teacher network that made the data: its hidden widths, activation and output dropout, e.g. `[5,5,5] relu dropout 0.1`", (r) => teacherText(r.analysis.target.teacher)),
  col('d', 'int', 'number of parameters of the student', (r) => r.analysis.d),
  col('n', 'int', 'training set size n', (r) => r.analysis.temperature.n),
  col('target_config', 'string', "the target's resolved build config (model, data, teacher, training, seed) as canonical JSON", (r) => canonicalJson(r.analysis.target)),
  col('seed', 'int', "the run's sampler seed", (r) => r.analysis.seed),
  col('sampler_options', 'string', "the sampler's resolved options as canonical JSON", (r) => canonicalJson(r.analysis.options)),
  col('chains', 'int', 'number of chains', (r) => r.analysis.llc.chains),
  col('draws', 'int', 'kept draws per chain (after burn-in and thinning; for VI, Monte Carlo draws from q)', (r) => r.analysis.llc.draws),
  col('dtype', 'string', 'sampling precision: float32 or float64', (r) => r.analysis.dtype),
  col('beta', 'float', 'inverse temperature β', (r) => r.analysis.temperature.beta),
  col('n_beta', 'float', 'nβ, the factor between a loss difference and λ̂', (r) => r.analysis.temperature.n_beta),
  col('gamma', 'float', 'localisation strength γ', (r) => r.analysis.temperature.gamma),
  col('L0', 'float', 'L_n(w*) computed by the sampling kernel in its precision', (r) => r.analysis.L0),
  col('llc_true', 'float', "the target's learning coefficient λ where theory gives it (a linear regression: d/2; a deep linear network of a linear teacher: Aoyagi's formula); null elsewhere", (r) => closedFormLambda(r.analysis.target)?.lambda ?? null),
  col('llc_true_source', 'string', 'what gives llc_true: `d/2 (regular model)` or `Aoyagi, rank <r>` (empty where it is null)', (r) => closedFormLambda(r.analysis.target)?.source ?? ''),
  col('llc_mean', 'float', 'λ̂: mean over every chain and draw (VI: mean of the per-chain estimates)', (r) => r.analysis.llc.mean),
  col('llc_std', 'float', 'standard deviation of λ̂ over every chain and draw', (r) => r.analysis.llc.std),
  col('llc_mcse', 'float', 'Monte Carlo standard error of llc_mean (VI: from the spread over chains)', (r) => r.analysis.llc.mcse),
  col('llc_min', 'float', 'smallest λ̂ draw', (r) => r.analysis.llc.min),
  col('llc_max', 'float', 'largest λ̂ draw', (r) => r.analysis.llc.max),
  col('llc_chain_min', 'float', 'smallest per-chain λ̂', (r) => Math.min(...perChain(r))),
  col('llc_chain_max', 'float', 'largest per-chain λ̂', (r) => Math.max(...perChain(r))),
  col('llc_chain_std', 'float', 'standard deviation of the per-chain λ̂ (null for one chain)', (r) => sampleStd(perChain(r))),
  col('ess_bulk', 'float', 'bulk effective sample size of the λ̂ draws, all chains (Vehtari et al. 2021)', (r) => r.analysis.llc.ess_bulk),
  col('ess_tail', 'float', 'tail effective sample size of the λ̂ draws, all chains', (r) => r.analysis.llc.ess_tail),
  col('r_hat', 'float', 'rank-normalised split R̂ of the λ̂ draws', (r) => r.analysis.llc.r_hat),
  col('acceptance_rate', 'float', 'mean Metropolis acceptance probability after warm-up (HMC; null otherwise)', (r) => num(r.analysis.diagnostics.acceptance_rate)),
  col('mala_acceptance', 'float', "mean MALA acceptance probability of SGLD's proposals on every mala_every-th sampling step (SGLD; null otherwise)", (r) => r.analysis.mala_acceptance?.mean ?? null),
  col('divergences', 'float', 'divergent transitions after warm-up, every chain counted (HMC; null otherwise)', (r) => r.analysis.divergences?.count ?? null),
  col('fge_per_chain', 'float', 'data-gradient work per chain in full-gradient equivalents, warm-up included', (r) => r.analysis.work.fge_warmup + r.analysis.work.fge_sampling),
  col('fge_warmup', 'float', 'the part of fge_per_chain spent in warm-up, adaptation or optimisation', (r) => r.analysis.work.fge_warmup),
  col('grad_evals', 'float', 'gradient evaluations, every chain counted (a minibatch gradient counts as one)', (r) => r.analysis.work.grad_evals),
  col('wall_time_s', 'float', 'wall-clock seconds of the whole task (not reproducible)', (r) => r.analysis.timing.total_s),
  col('warmup_s', 'float', 'seconds spent before the first kept draw (not reproducible)', (r) => r.analysis.timing.warmup_s),
  col('sampling_s', 'float', 'seconds spent drawing (not reproducible)', (r) => r.analysis.timing.sampling_s),
  col('threads', 'int', 'worker threads of the kernel', (r) => r.analysis.timing.threads),
  col('kernel', 'string', 'kernel that computed losses and gradients, e.g. `native-f32` or `wasm-relaxed-simd-f32`', (r) => r.analysis.kernel),
  col('kernel_identity', 'string', "what decides the kernel's rounding: its build (the BLAS and its CPU kernels), precision and fused multiply-add", (r) =>
    describeIdentity(r.analysis.kernel_identity),
  ),
];

/** The columns that depend on the machine (its load, the thread count) rather than on the config, code and kernel. */
export const MACHINE_DEPENDENT_COLUMNS = ['wall_time_s', 'warmup_s', 'sampling_s', 'threads'];

/** The table of these runs, in the order given, as columns ready for the writers in tables.ts. */
export function llcRunsColumns(records: RunRecord[]): Columns {
  const columns: Columns = {};
  for (const c of LLC_RUNS_COLUMNS) {
    const values = records.map(c.read);
    columns[c.name] =
      c.type === 'string' ? values.map((v) => String(v ?? '')) : c.type === 'int' ? Int32Array.from(values as number[]) : values.map((v) => (typeof v === 'number' && Number.isFinite(v) ? v : null));
  }
  return columns;
}

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

/** This file: the aggregate's code includes its imports. */
export const LLC_RUNS_MODULE = __filename;

/**
 * Rows read and written at a time (and rows per Parquet row group): a sweep of 10,000 runs is never
 * held in memory at once, and a batch is still large enough to write efficiently.
 */
export const BATCH_ROWS = 1000;

/** A run's record, with its comparison to its target's reference run and its status amended by any disagreement. */
export function readRunRecord(root: string, experiment: string, run: ExperimentRuns['runs'][number], comparison?: Comparison): RunRecord {
  const analysis = readAnalysis(join(root, artifactPath.run(run.id)));
  return { experiment, label: run.label, target_label: run.target_label, status: withDisagreement(analysis.status, comparison?.disagreement), comparison, analysis };
}

/** What the agreement check needs of a run. */
export function runEstimate(a: RunAnalysis): RunEstimate {
  return { id: a.run_id, target: a.target_id, sampler: a.sampler, mean: a.llc.mean, mcse: a.llc.mcse, state: a.status.state };
}

/** Every run of the experiment against its target's reference run: one light pass over the analyses before the table is written. */
export function experimentComparisons(root: string, spec: ExperimentRuns): Map<string, Comparison> {
  return comparisons(spec.runs.map((r) => runEstimate(readAnalysis(join(root, artifactPath.run(r.id))))));
}

/** Every disagreeing run of the experiment with its reason. */
export function experimentDisagreements(root: string, spec: ExperimentRuns): Map<string, string> {
  return new Map([...experimentComparisons(root, spec)].flatMap(([id, c]) => (c.disagreement ? [[id, c.disagreement] as const] : [])));
}

/** Writes the experiment's llc_runs files, `batchRows` runs at a time; returns how many rows they have. */
export async function writeLlcRuns(
  root: string,
  spec: ExperimentRuns,
  options: { batchRows?: number; progress?: (update: ProgressUpdate) => void; dir?: string } = {},
): Promise<number> {
  const batchRows = options.batchRows ?? BATCH_ROWS;
  // By default in place; the aggregate writes into the experiment folder it is building.
  const dir = options.dir ?? join(root, artifactPath.experiment(spec.experiment));
  const compared = experimentComparisons(root, spec);
  // No line per run here: the experiment's `sample` target prints the table of runs (summary.ts).
  function* batches(): Generator<Columns> {
    for (let start = 0; start < spec.runs.length; start += batchRows) {
      const records = spec.runs.slice(start, start + batchRows).map((r) => readRunRecord(root, spec.experiment, r, compared.get(r.id)));
      yield llcRunsColumns(records);
      options.progress?.({ phase: 'tabulating', done: start + records.length, total: spec.runs.length, unit: 'runs' });
    }
  }
  const [parquet, arrow, csv] = LLC_RUNS_FILES.map((f) => join(dir, f));
  return writeTableInBatches({ parquet, arrow, csv }, LLC_RUNS_COLUMNS, batches(), batchRows);
}

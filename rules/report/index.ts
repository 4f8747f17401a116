/**
 * The `report` rule: one experiment's results as a self-contained static HTML page (html.ts) —
 * the sortable llc_runs table, λ̂ per target and sampler with 95% intervals, convergence overlays
 * against work and time, each target's fit to its teacher and its losses, and every run's
 * trace, rank and energy or optimisation plots.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { artifactPath, readTargetArtifact, TargetArtifact } from '../../packages/llc/src/artifacts';
import { writeFileAtomic } from '../../packages/llc/src/atomic';
import { barPlot, comparisonPlot, overlayPlot, scatterPlot } from '../../packages/llc/src/plots';
import { label } from '../../packages/llc/src/plots/svg';
import { studentVersusTeacher } from '../../packages/llc/src/target';
import { ExperimentRuns, readRunRecords } from '../aggregate';
import { LLC_RUNS_COLUMNS, RunRecord } from '../llc-runs';
import { checkFiles, Rule } from '../rule';
import { escapeHtml, factList, plotImage, reportPage, sortableTable, TableCell } from './html';

export interface ReportSpec extends ExperimentRuns {
  /** The experiment file, named in the report's heading. */
  file: string;
}

export const REPORT_FILE = 'report.html';

/** The run plots a report shows, in order, when the run has them. */
const RUN_PLOTS = ['trace.svg', 'rank.svg', 'energy.svg', 'optimization.svg'];
/** More points draw no differently at this size and only grow the file. */
const MAX_SCATTER_POINTS = 1000;
const Z_95 = 1.96;

interface Run extends RunRecord {
  dir: string;
  /** Which sampler entry of the experiment file (same across targets): its label and colour. */
  entry: number;
  llc: Float64Array;
  /** Cumulative FGE per chain at each draw. */
  fge: Float64Array;
}

export const reportRule: Rule<ReportSpec> = {
  name: 'report',
  codeEntryPoints: () => [__filename],
  outputs: (spec) => [join(artifactPath.experiment(spec.experiment), REPORT_FILE)],
  verify: (spec, root) => checkFiles(root, artifactPath.experiment(spec.experiment), [REPORT_FILE]),

  async run(spec, ctx) {
    const targetIds = [...new Set(spec.runs.map((r) => r.target))];
    const runs = readRuns(ctx.root, spec, targetIds);
    const entries = entryLabels(runs.filter((r) => r.analysis.target_id === targetIds[0]).map((r) => r.analysis.sampler));
    const targets = targetIds.map((id) => ({ id, artifact: readTargetArtifact(join(ctx.root, artifactPath.target(id))) }));

    const counts = ['ok', 'check', 'diverged'].map((s) => `${runs.filter((r) => r.analysis.status.state === s).length} ${s}`).join(', ');
    const body = [
      `<h1>λ̂ report: ${escapeHtml(spec.experiment)}</h1>`,
      `<p class="lead"><code>${escapeHtml(spec.file)}</code>: ${targets.length} target${targets.length === 1 ? '' : 's'} × ${entries.length} sampler${entries.length === 1 ? '' : 's'} = ${runs.length} runs (${counts}).</p>`,
      '<nav><a href="#summary">Summary</a><a href="#comparison">λ̂ by target</a><a href="#convergence">Convergence</a><a href="#targets">Targets</a><a href="#runs">Runs</a></nav>',
      section('summary', 'Summary', `<div class="table-wrap">${summaryTable(runs)}</div><p>Click a column to sort. Status: ${escapeHtml(STATUS_HELP)}</p>`),
      section('comparison', 'λ̂ by target and sampler', comparisonSection(runs, targetIds, entries)),
      section('convergence', 'Convergence', targetIds.map((id) => convergenceSection(id, runs, entries)).join('\n')),
      section('targets', 'Targets', targets.map((t) => targetSection(t.id, t.artifact)).join('\n')),
      section('runs', 'Runs', runs.map((r) => runSection(r, entries)).join('\n')),
    ].join('\n');
    const path = join(ctx.root, artifactPath.experiment(spec.experiment), REPORT_FILE);
    writeFileAtomic(path, reportPage(`λ̂ report: ${spec.experiment}`, body));
    ctx.log(`report: ${runs.length} runs of experiment ${spec.experiment} in ${join(artifactPath.experiment(spec.experiment), REPORT_FILE)}`);
  },
};

const STATUS_HELP = 'ok; check when R̂ > 1.01, an ESS is below 100 per chain, HMC diverged after warm-up or λ̂ < 0 (hover for the reason); diverged when losses became non-finite.';

function readRuns(root: string, spec: ExperimentRuns, targetIds: string[]): Run[] {
  const records = readRunRecords(root, spec);
  const position = new Map<string, number>();
  return records.map((record) => {
    const dir = join(root, artifactPath.run(record.analysis.run_id));
    const table = tableFromIPC(readFileSync(join(dir, 'traces.arrow')));
    const draws = record.analysis.llc.draws;
    const fge = Float64Array.from((table.getChild('fge')!.toArray() as Float64Array).subarray(0, draws));
    // Runs come target by target, sampler entries in file order within each: the k-th run of a target is entry k.
    const target = record.analysis.target_id;
    const entry = position.get(target) ?? 0;
    position.set(target, entry + 1);
    if (!targetIds.includes(target)) throw new Error(`run ${record.analysis.run_id} belongs to no target of the experiment`);
    return { ...record, dir, entry, llc: Float64Array.from(table.getChild('llc')!.toArray() as Float64Array), fge };
  });
}

/** A sampler's name, numbered when the file has several entries of the same sampler. */
function entryLabels(samplers: string[]): string[] {
  return samplers.map((s, i) => (samplers.filter((t) => t === s).length > 1 ? `${s} #${samplers.slice(0, i + 1).filter((t) => t === s).length}` : s));
}

function section(id: string, title: string, content: string): string {
  return `<section id="${id}"><h2>${escapeHtml(title)}</h2>\n${content}\n</section>`;
}

/** The llc_runs columns the table shows, by name, with how they read. */
const TABLE_COLUMNS: { column: string; label: string; digits?: number }[] = [
  { column: 'run_id', label: 'run' },
  { column: 'target_id', label: 'target' },
  { column: 'sampler', label: 'sampler' },
  { column: 'status', label: 'status' },
  { column: 'llc_mean', label: 'λ̂', digits: 4 },
  { column: 'llc_mcse', label: 'MCSE', digits: 2 },
  { column: 'llc_std', label: 'std', digits: 3 },
  { column: 'llc_chain_std', label: 'chain std', digits: 2 },
  { column: 'ess_bulk', label: 'ESS bulk', digits: 4 },
  { column: 'ess_tail', label: 'ESS tail', digits: 4 },
  { column: 'r_hat', label: 'R̂', digits: 4 },
  { column: 'acceptance_rate', label: 'accept', digits: 3 },
  { column: 'divergences', label: 'divergent', digits: 4 },
  { column: 'fge_per_chain', label: 'FGE / chain', digits: 3 },
  { column: 'wall_time_s', label: 'time (s)', digits: 3 },
  { column: 'chains', label: 'chains' },
  { column: 'draws', label: 'draws' },
  { column: 'dtype', label: 'dtype' },
  { column: 'kernel', label: 'kernel' },
];

function summaryTable(runs: Run[]): string {
  const columns = TABLE_COLUMNS.map((t) => {
    const c = LLC_RUNS_COLUMNS.find((c) => c.name === t.column);
    if (!c) throw new Error(`report table: no llc_runs column ${t.column}`);
    return { ...t, read: c.read, description: c.description, numeric: c.type !== 'string' };
  });
  const rows = runs.map((r) =>
    columns.map((c): TableCell => {
      const value = c.read(r);
      if (c.column === 'run_id') return { html: `<a href="#run-${escapeHtml(String(value))}">${escapeHtml(String(value))}</a>`, sort: String(value) };
      if (c.column === 'status') {
        const { state, reasons } = r.analysis.status;
        return { html: escapeHtml(state), sort: state, title: reasons.join('; ') || 'every diagnostic passed', className: `status-${state}` };
      }
      if (typeof value === 'number' && Number.isFinite(value)) return { html: c.digits ? label(value, c.digits) : String(value), sort: value };
      if (c.numeric) return { html: '—', sort: null };
      return { html: escapeHtml(String(value ?? '')), sort: String(value ?? '') };
    }),
  );
  return sortableTable(
    'runs-table',
    columns.map((c) => ({ label: c.label, title: c.description, numeric: c.numeric })),
    rows,
  );
}

function comparisonSection(runs: Run[], targetIds: string[], entries: string[]): string {
  const svg = comparisonPlot({
    groups: targetIds.map((id) => ({
      label: id,
      points: runs
        .filter((r) => r.analysis.target_id === id)
        .map((r) => ({ series: entries[r.entry], mean: r.analysis.llc.mean ?? NaN, halfWidth: Z_95 * (r.analysis.llc.mcse ?? NaN), tooltip: r.analysis.run_id })),
    })),
    series: entries,
    yLabel: 'λ̂ ± 1.96·MCSE',
    title: 'λ̂ per target and sampler',
  });
  return `<div class="plots">${plotImage(svg, 'λ̂ per target and sampler with 95% intervals')}</div>`;
}

function convergenceSection(targetId: string, runs: Run[], entries: string[]): string {
  const mine = runs.filter((r) => r.analysis.target_id === targetId);
  const series = (x: (r: Run) => Float64Array) =>
    mine.map((r) => ({
      label: entries[r.entry],
      llc: r.llc,
      chains: r.analysis.llc.chains,
      draws: r.analysis.llc.draws,
      x: x(r),
      colourIndex: r.entry,
      estimate: { mean: r.analysis.llc.mean ?? NaN, halfWidth: Z_95 * (r.analysis.llc.mcse ?? NaN) },
      final: r.analysis.estimated_per_chain,
    }));
  const byWork = overlayPlot({ series: series((r) => r.fge), xLabel: 'gradient work per chain (FGE)', logX: true, title: `Running λ̂ vs work: ${targetId}` });
  const byTime = overlayPlot({ series: series((r) => Float64Array.from(r.timing.seconds)), xLabel: 'wall time (s)', logX: true, title: `Running λ̂ vs time: ${targetId}` });
  return (
    `<h3>${escapeHtml(targetId)}</h3><div class="plots">` +
    plotImage(byWork, `running λ̂ against work for every sampler on ${targetId}`) +
    plotImage(byTime, `running λ̂ against wall time for every sampler on ${targetId}`) +
    '</div>'
  );
}

function evenlySpaced(length: number, count: number): number[] {
  if (length <= count) return Array.from({ length }, (_, i) => i);
  return Array.from({ length: count }, (_, i) => Math.floor((i * length) / count));
}

function targetSection(id: string, t: TargetArtifact): string {
  const { build, dims, metrics, training } = t.meta;
  const fit = studentVersusTeacher(build, t.params, t.teacherParams, t.X, t.Xtest);
  const set = (name: string, f: { student: Float64Array; teacher: Float64Array }) => {
    const keep = evenlySpaced(f.student.length, MAX_SCATTER_POINTS);
    return { label: name, x: keep.map((i) => f.teacher[i]), y: keep.map((i) => f.student[i]) };
  };
  const sets = [set('train', fit.train), ...(fit.test.student.length ? [set('test', fit.test)] : [])];
  const scatter = scatterPlot({ sets, xLabel: 'teacher output', yLabel: 'student output', title: `Student vs teacher: ${id}` });
  const losses = barPlot({
    bars: [
      { label: 'train vs labels', value: metrics.train_mse_noise },
      { label: 'test vs labels', value: metrics.test_mse_noise },
      { label: 'train vs teacher', value: metrics.train_mse_teacher },
      { label: 'test vs teacher', value: metrics.test_mse_teacher },
    ],
    yLabel: 'mean squared error',
    title: `Losses of the trained student: ${id}`,
  });
  const m = build.model;
  const facts = factList([
    ['model', `${m.in_dim} → ${JSON.stringify(m.widths)} → ${m.out_dim}, ${m.activation}${m.layernorm ? ', LayerNorm' : ''}${m.skip_connections ? ', skips' : ''}`],
    ['parameters d', String(dims.d)],
    ['data', `n = ${dims.n}, n_test = ${dims.n_test}, ${build.data.x_dist}, ${build.data.noise_model} noise ${build.data.noise_scale}`],
    ['seed', String(build.seed)],
    ['training', `${training.steps_run} of ${build.training.steps} steps${training.stopped_early ? ' (early stop)' : ''}, ${build.training.optimizer} lr ${build.training.learning_rate}`],
    ['L_n(w*)', label(t.meta.L0, 6)],
  ]);
  return `<h3 id="target-${escapeHtml(id)}">${escapeHtml(id)}</h3>${facts}<div class="plots">${plotImage(scatter, `student against teacher outputs for ${id}`)}${plotImage(losses, `losses of ${id}`)}</div>`;
}

function runSection(r: Run, entries: string[]): string {
  const a = r.analysis;
  const { state, reasons } = a.status;
  const facts = factList([
    ['status', reasons.length ? `${state}: ${reasons.join('; ')}` : state],
    ['λ̂', `${label(a.llc.mean ?? NaN, 5)} ± ${label(a.llc.mcse ?? NaN, 2)} (MCSE), per chain ${a.llc.per_chain.map((v) => label(v ?? NaN, 4)).join(', ')}`],
    ['draws', `${a.llc.chains} chains × ${a.llc.draws} draws, ${a.dtype}, kernel ${a.kernel}`],
    ['work', `${label(a.work.fge_warmup + a.work.fge_sampling, 4)} FGE per chain (${label(a.work.fge_warmup, 4)} in warm-up), ${label(r.timing.total_s, 3)} s`],
    ['options', JSON.stringify(a.options)],
    ['posterior', `nβ = ${label(a.temperature.n_beta, 5)}, γ = ${label(a.temperature.gamma, 4)}, seed ${a.seed}`],
  ]);
  const plots = RUN_PLOTS.filter((f) => existsSync(join(r.dir, f)))
    .map((f) => plotImage(readFileSync(join(r.dir, f), 'utf8'), `${f.replace('.svg', '')} plot of ${a.run_id}`))
    .join('');
  return `<section class="run" id="run-${escapeHtml(a.run_id)}"><h3>${escapeHtml(entries[r.entry])} on ${escapeHtml(a.target_id)}: <code>${escapeHtml(a.run_id)}</code></h3>${facts}<div class="plots">${plots}</div></section>`;
}

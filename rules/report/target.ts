/**
 * A target's page of the report (report/<target_id>.html): the target's fit to its teacher and its
 * losses, the running λ̂ of its runs against work and time, its runs' table, and every run's trace,
 * rank and energy or optimisation plots, drawn here from the run's tables (runs keep no plots of
 * their own). Only this target's runs: a page's size follows the runs of one target, never the
 * whole experiment.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { closedFormLambda } from '../../packages/llc/src/aoyagi';
import type { TargetArtifact } from '../../packages/llc/src/artifacts';
import { barPlot, energyPlot, overlayPlot, rankPlot, scatterPlot, tracePlot } from '../../packages/llc/src/plots';
import { DISTINCT_COLOURS, label } from '../../packages/llc/src/plots/svg';
import { studentVersusTeacher } from '../../packages/llc/src/target';
import type { RunRecord } from '../llc-runs';
import { dataTable, escapeHtml, factList, plotImage, reportPage, section } from './html';
import { runColumns, runRow, statusGuide, statusCounts } from './runs-table';

/** A sampler entry of the experiment file (the same across targets): its label in plots and headings, and its sampler. */
export interface Entry {
  label: string;
  sampler: string;
}

/** A run as the report reads it. */
export interface ReportRun extends RunRecord {
  dir: string;
  /** Which sampler entry of the experiment file: its label and colour. */
  entry: number;
}

/** More points draw no differently at this size and only grow the file. */
const MAX_SCATTER_POINTS = 1000;
export const Z_95 = 1.96;

/** The id of a run's section on its target's page. */
export const runAnchor = (runId: string) => `run-${runId}`;

/** `summary` is the summary page's URL, relative to this page. */
export function targetPage(experiment: string, id: string, artifact: TargetArtifact, runs: ReportRun[], entries: Entry[], summary: string): string {
  const body = [
    `<p><a href="${escapeHtml(summary)}">← λ̂ report: ${escapeHtml(experiment)}</a></p>`,
    `<h1>Target <code>${escapeHtml(id)}</code></h1>`,
    `<p class="lead">${runs.length} run${runs.length === 1 ? '' : 's'} of experiment ${escapeHtml(experiment)} (${statusCounts(runs.map((r) => r.status.state))}).</p>`,
    '<nav><a href="#target">Target</a><a href="#convergence">Convergence</a><a href="#runs">Runs</a></nav>',
    section('target', 'Target', targetSection(id, artifact)),
    section('convergence', 'Convergence', convergenceSection(id, runs, entries)),
    section(
      'runs',
      'Runs',
      dataTable('runs-table', runColumns({ run: `#${runAnchor('{run_id}')}` }), runs.map(runRow)) +
        `<p>Click a column to sort; type in the box to filter. A run’s id leads to its plots below. Hover over a status for its reason.</p>` +
        statusGuide() +
        runs.map((r) => runSection(r, entries)).join('\n'),
    ),
  ].join('\n');
  return reportPage(`λ̂ report: ${experiment}, target ${id}`, body);
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
  const truth = closedFormLambda(build);
  const facts = factList([
    ['model', `${m.in_dim} → ${JSON.stringify(m.widths)} → ${m.out_dim}, ${m.activation}${m.layernorm ? ', LayerNorm' : ''}${m.skip_connections ? ', skips' : ''}`],
    ['parameters d', String(dims.d)],
    ['data', `n = ${dims.n}, n_test = ${dims.n_test}, ${build.data.x_dist}, ${build.data.noise_model} noise ${build.data.noise_scale}`],
    ['seed', String(build.seed)],
    ['training', `${training.steps_run} of ${build.training.steps} steps${training.stopped_early ? ' (early stop)' : ''}, ${build.training.optimizer} lr ${build.training.learning_rate}`],
    ['L_n(w*)', label(t.meta.L0, 6)],
    ...(truth ? [['true λ', `${truth.lambda} (${truth.source})`] as [string, string]] : []),
  ]);
  return `${facts}<div class="plots">${plotImage(scatter, `student against teacher outputs for ${id}`)}${plotImage(losses, `losses of ${id}`)}</div>`;
}

/**
 * The runs an overlay draws: all of them when each can have a colour of its own; otherwise as many
 * as there are colours, taken in turn from each sampler so that every sampler is represented.
 */
function overlayRuns(runs: ReportRun[]): ReportRun[] {
  if (runs.length <= DISTINCT_COLOURS) return runs;
  const bySampler = [...new Set(runs.map((r) => r.analysis.sampler))].map((s) => runs.filter((r) => r.analysis.sampler === s));
  const chosen: ReportRun[] = [];
  for (let i = 0; chosen.length < DISTINCT_COLOURS; i++) for (const group of bySampler) if (group[i] && chosen.length < DISTINCT_COLOURS) chosen.push(group[i]);
  return chosen.sort((a, b) => a.entry - b.entry);
}

function convergenceSection(targetId: string, runs: ReportRun[], entries: Entry[]): string {
  const shown = overlayRuns(runs);
  // A sampler entry keeps its colour across targets when every entry has a colour of its own.
  const colourOf = (r: ReportRun, i: number) => (entries.length <= DISTINCT_COLOURS ? r.entry : i);
  const traced = shown.map((r, i) => {
    const { llc, fge } = readColumns(r, TRACES_FILE, ['llc', 'fge']);
    return { run: r, colourIndex: colourOf(r, i), llc, fge };
  });
  const series = (x: (t: (typeof traced)[number]) => Float64Array) =>
    traced.map((t) => ({
      label: entries[t.run.entry].label,
      llc: t.llc,
      chains: t.run.analysis.llc.chains,
      draws: t.run.analysis.llc.draws,
      x: x(t),
      colourIndex: t.colourIndex,
      estimate: { mean: t.run.analysis.llc.mean ?? NaN, halfWidth: Z_95 * (t.run.analysis.llc.mcse ?? NaN) },
      final: t.run.analysis.estimated_per_chain,
    }));
  const byWork = overlayPlot({ series: series((t) => t.fge), xLabel: 'gradient work per chain (FGE)', logX: true, title: `Running λ̂ vs work: ${targetId}` });
  const byTime = overlayPlot({ series: series((t) => Float64Array.from(t.run.analysis.timing.seconds)), xLabel: 'wall time (s)', logX: true, title: `Running λ̂ vs time: ${targetId}` });
  const note =
    shown.length < runs.length
      ? `<p class="note">${shown.length} of the target’s ${runs.length} runs, as many as the plots can colour apart, taken in turn from each sampler; every run’s trace is under Runs.</p>`
      : '';
  return (
    note +
    '<div class="plots">' +
    plotImage(byWork, `running λ̂ against work for the runs on ${targetId}`) +
    plotImage(byTime, `running λ̂ against wall time for the runs on ${targetId}`) +
    '</div>'
  );
}

/** A run's table of draws (one row per chain and draw), and for VI and flow its table of optimisation steps. */
const TRACES_FILE = 'traces.arrow';
const OPTIMIZATION_FILE = 'optimization.arrow';

/**
 * Columns of one of a run's tables, as float64; `fge` (cumulative FGE per chain, the same for every
 * chain) only for the first chain's draws. A column the run does not have (energy, for samplers
 * other than HMC) is absent.
 */
function readColumns(r: ReportRun, file: string, names: string[]): Record<string, Float64Array> {
  const table = tableFromIPC(readFileSync(join(r.dir, file)));
  const columns: Record<string, Float64Array> = {};
  for (const name of names) {
    const column = table.getChild(name);
    if (column) columns[name] = Float64Array.from(column.toArray() as Float64Array);
  }
  if (columns.fge) columns.fge = columns.fge.subarray(0, r.analysis.llc.draws);
  return columns;
}

/** A run's plots: λ̂ per draw, its rank plot, and HMC's energy or VI's and flow's ELBO per optimisation step when the run has them. */
function runPlots(r: ReportRun): string[] {
  const a = r.analysis;
  const shape = { chains: a.llc.chains, draws: a.llc.draws };
  const { llc, energy } = readColumns(r, TRACES_FILE, ['llc', 'energy']);
  const name = `${a.sampler} ${a.run_id}`;
  const plots = [
    plotImage(tracePlot({ llc, ...shape, title: `λ̂ per draw: ${name}` }), `trace plot of ${a.run_id}`),
    plotImage(rankPlot({ llc, ...shape, title: `Rank plot of λ̂: ${name}` }), `rank plot of ${a.run_id}`),
  ];
  if (energy) plots.push(plotImage(energyPlot({ energy, ...shape, title: `Energy: ${name}` }), `energy plot of ${a.run_id}`));
  if (existsSync(join(r.dir, OPTIMIZATION_FILE))) {
    const { elbo } = readColumns(r, OPTIMIZATION_FILE, ['elbo']);
    if (elbo) {
      const steps = elbo.length / a.llc.chains;
      plots.push(plotImage(tracePlot({ llc: elbo, chains: a.llc.chains, draws: steps, title: `ELBO estimate per optimisation step: ${name}`, yLabel: 'ELBO estimate', xLabel: 'optimisation step' }), `optimization plot of ${a.run_id}`));
    }
  }
  return plots;
}

function runSection(r: ReportRun, entries: Entry[]): string {
  const a = r.analysis;
  const { state, reasons } = r.status;
  const facts = factList([
    ['status', reasons.length ? `${state}: ${reasons.join('; ')}` : state],
    ['λ̂', `${label(a.llc.mean ?? NaN, 5)} ± ${label(a.llc.mcse ?? NaN, 2)} (MCSE), per chain ${a.llc.per_chain.map((v) => label(v ?? NaN, 4)).join(', ')}`],
    ['draws', `${a.llc.chains} chains × ${a.llc.draws} draws, ${a.dtype}, kernel ${a.kernel}`],
    ['work', `${label(a.work.fge_warmup + a.work.fge_sampling, 4)} FGE per chain (${label(a.work.fge_warmup, 4)} in warm-up), ${label(a.timing.total_s, 3)} s`],
    ['options', JSON.stringify(a.options)],
    ['posterior', `nβ = ${label(a.temperature.n_beta, 5)}, γ = ${label(a.temperature.gamma, 4)}, seed ${a.seed}`],
  ]);
  return `<section class="run" id="${escapeHtml(runAnchor(a.run_id))}"><h3>${escapeHtml(entries[r.entry].label)}: <code>${escapeHtml(a.run_id)}</code></h3>${facts}<div class="plots">${runPlots(r).join('')}</div></section>`;
}

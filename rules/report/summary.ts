/**
 * The report's summary page (report.html): the counts, λ̂ by target and sampler, the runs' table and
 * the targets' table, each target linking to its own page. Nothing here grows with a run's draws:
 * its size follows the number of runs (one table row each) and of targets.
 */
import { comparisons } from '../../packages/llc/src/agreement';
import { comparisonPlot, ComparisonPoint, FAR, farPoints } from '../../packages/llc/src/plots';
import type { RunStatus } from '../../packages/llc/src/status';
import { DISTINCT_COLOURS, label } from '../../packages/llc/src/plots/svg';
import { DataColumn, dataTable, escapeHtml, plotImage, reportPage, section } from './html';
import { runColumns, statusGuide, statusCounts } from './runs-table';
import { Entry, Z_95 } from './target';

/** What the summary keeps of one run once its target's page is written. */
export interface RunSummary {
  id: string;
  entry: number;
  state: string;
  mean: number | null;
  mcse: number | null;
  /** Its row of the runs' table. */
  row: string[];
}

export interface TargetSummary {
  id: string;
  facts: { label: string; seed: number; model: string; teacher: string; d: number; n: number; L0: number; llc_true: number | null };
  runs: RunSummary[];
}

/** What λ̂ is and how to read it, for a reader who has not seen the README (docs/mathematics.md has the rest). */
export const ABOUT_LLC =
  'λ̂ estimates the local learning coefficient of a trained network: how many effective parameters it uses near its trained weights w*. ' +
  'For a regular model λ = d/2; singular models, such as ReLU networks and deep linear networks, have a smaller λ. ' +
  'Each run samples a posterior localised at w* and reports λ̂ = nβ·(E[L_n(w)] − L_n(w*)) with its Monte Carlo standard error (MCSE). ' +
  'Runs of one target estimate the same λ, so they should agree within their MCSEs: the Δ ref column is each run’s difference from the target’s reference run (HMC when there is one). ' +
  'A status of ok means every diagnostic passed; check and diverged are explained in the table below the runs, with what to do.';

/** Targets side by side in one comparison plot: more, and the plot is too wide to read on a screen. */
const TARGETS_PER_PLOT = 10;
/** Targets the comparison plots show; the tables and the target pages have the rest. */
const MAX_COMPARED_TARGETS = 120;

/**
 * `links` are where a run's id and a target's id lead: URL templates, relative to report.html, in
 * which {run_id} and {target_id} stand for the row's.
 */
export function summaryPage(experiment: string, file: string, description: string | undefined, entries: Entry[], targets: TargetSummary[], links: { run: string; target: string }): string {
  const runs = targets.flatMap((t) => t.runs);
  const body = [
    `<h1>λ̂ report: ${escapeHtml(experiment)}</h1>`,
    ...(description ? [`<p class="lead description">${escapeHtml(description)}</p>`] : []),
    `<p class="lead"><code>${escapeHtml(file)}</code>: ${targets.length} target${targets.length === 1 ? '' : 's'} × ${entries.length} sampler${entries.length === 1 ? '' : 's'} = ${runs.length} runs (${statusCounts(runs.map((r) => r.state))}).</p>`,
    `<p class="about">${escapeHtml(ABOUT_LLC)}</p>`,
    '<nav><a href="#comparison">λ̂ by target</a><a href="#runs">Runs</a><a href="#targets">Targets</a></nav>',
    section('comparison', 'λ̂ by target and sampler', comparisonSection(targets, entries)),
    section(
      'runs',
      'Runs',
      dataTable('runs-table', runColumns(links), runs.map((r) => r.row)) +
        `<p>Click a column to sort; type in the box to filter. A run’s id leads to its plots, a target’s to its page; llc_runs has every column. Hover over a status for its reason.</p>` + statusGuide(),
    ),
    section('targets', 'Targets', targetsTable(targets, links.target) + '<p>Each target’s page has its fit to the teacher and its losses, the running λ̂ of its runs, and every run’s trace and rank plots.</p>'),
  ].join('\n');
  return reportPage(`λ̂ report: ${experiment}`, body);
}

function comparisonSection(targets: TargetSummary[], entries: Entry[]): string {
  // More entries than colours would repeat colours: then one point per sampler, over its entries' runs.
  const perEntry = entries.length <= DISTINCT_COLOURS;
  const samplers = [...new Set(entries.map((e) => e.sampler))];
  const points = (t: TargetSummary): ComparisonPoint[] => {
    // The target's reference run, as the Δ ref column has it: it decides a tie between two halves (farPoints).
    const reference = referenceRun(t, entries);
    return perEntry
      ? t.runs.map((r) => ({ series: entries[r.entry].label, mean: r.mean ?? NaN, halfWidth: Z_95 * (r.mcse ?? NaN), tooltip: r.id, reference: r === reference }))
      : samplers.map((s) => ({ ...samplerPoint(s, t.runs.filter((r) => entries[r.entry].sampler === s)), reference: reference !== undefined && entries[reference.entry].sampler === s }));
  };
  const shown = targets.slice(0, MAX_COMPARED_TARGETS);
  const split = shown.some((t) => farPoints(points(t)).size > 0);
  const chunks = Array.from({ length: Math.ceil(shown.length / TARGETS_PER_PLOT) }, (_, i) => shown.slice(i * TARGETS_PER_PLOT, (i + 1) * TARGETS_PER_PLOT));
  const plots = chunks.map((chunk, i) => {
    const range = chunks.length > 1 ? ` (targets ${i * TARGETS_PER_PLOT + 1}–${i * TARGETS_PER_PLOT + chunk.length} of ${targets.length})` : '';
    const svg = comparisonPlot({
      groups: chunk.map((t) => ({ label: t.id, points: points(t), ...(t.facts.llc_true !== null && { truth: t.facts.llc_true }) })),
      series: perEntry ? entries.map((e) => e.label) : samplers,
      yLabel: perEntry ? 'λ̂ ± 1.96·MCSE' : 'mean λ̂ over runs ± 1.96·SE',
      title: `λ̂ per target and sampler${range}`,
    });
    return plotImage(svg, `λ̂ per target and sampler with 95% intervals${range}`, 'plot wide');
  });
  const notes = [
    perEntry
      ? 'Each point is one run’s λ̂ with its 95% interval (±1.96·MCSE).'
      : `The experiment has ${entries.length} sampler entries, more than the plot can colour apart, so each point is one sampler’s mean λ̂ over its runs on the target, with a 95% interval for that mean (±1.96 × the standard deviation over runs / √runs); hover for the number of runs. Each target’s page has every run.`,
    ...(split
      ? [
          `A point far from the others on its target — more than ${FAR.factor} times their spread away from them (the spread of their intervals, taken as at least ${FAR.minRelativeSpan * 100}% of their λ̂) — is drawn in the panel on the right, on a scale of its own, so that the others keep a readable scale; an arrow in its place in the main panel points its way.`,
        ]
      : []),
    ...(shown.some((t) => t.facts.llc_true !== null)
      ? ['A dashed line marks a target’s true λ where theory gives it (a linear regression’s d/2, Aoyagi’s formula for a deep linear network): a correct λ̂ lies within a few percent of it at a finite n.']
      : []),
    ...(targets.length > shown.length ? [`The plots show the first ${shown.length} of the ${targets.length} targets; the tables and the target pages have them all.`] : []),
  ];
  return notes.map((n) => `<p class="note">${escapeHtml(n)}</p>`).join('') + `<div class="plots">${plots.join('')}</div>`;
}

/** The target's reference run (agreement.ts): the most trusted sampler's with a usable λ̂, or none. */
function referenceRun(t: TargetSummary, entries: Entry[]): RunSummary | undefined {
  const compared = comparisons(t.runs.map((r) => ({ id: r.id, target: t.id, sampler: entries[r.entry].sampler, mean: r.mean, mcse: r.mcse, state: r.state as RunStatus['state'] })));
  const id = compared.values().next().value?.reference.id;
  return t.runs.find((r) => r.id === id);
}

/** One sampler's runs on one target as a single point: their mean λ̂, with a 95% interval for that mean. */
function samplerPoint(sampler: string, runs: RunSummary[]): ComparisonPoint {
  const means = runs.map((r) => r.mean).filter((m): m is number => m !== null && Number.isFinite(m));
  const k = means.length;
  const mean = k ? means.reduce((a, b) => a + b, 0) / k : NaN;
  const sd = k > 1 ? Math.sqrt(means.reduce((s, m) => s + (m - mean) ** 2, 0) / (k - 1)) : NaN;
  const counted = k === runs.length ? `${k} runs` : `${k} of ${runs.length} runs with a λ̂`;
  return { series: sampler, mean, halfWidth: (Z_95 * sd) / Math.sqrt(k), tooltip: `${sampler}, ${counted}` };
}

const targetColumns = (link: string): DataColumn[] => [
  { key: 'target_id', label: 'target', title: 'content id of the target; leads to its page', numeric: false, href: link },
  { key: 'label', label: 'label', title: "the target entry's label", numeric: false },
  { key: 'model', label: 'model', title: "the student's hidden widths and activation", numeric: false },
  { key: 'teacher', label: 'teacher', title: 'the teacher network that made the data: hidden widths, activation and output dropout', numeric: false },
  { key: 'seed', label: 'seed', title: "the target's seed", numeric: true },
  { key: 'd', label: 'd', title: 'number of parameters of the student', numeric: true },
  { key: 'n', label: 'n', title: 'training set size', numeric: true },
  { key: 'L0', label: 'L_n(w*)', title: 'training loss at the trained parameters', numeric: true },
  { key: 'llc_true', label: 'true λ', title: 'the learning coefficient where theory gives it: d/2 for a linear regression, Aoyagi’s formula for a deep linear network; — elsewhere', numeric: true },
  { key: 'runs', label: 'runs', title: "the target's runs", numeric: true },
  { key: 'ok', label: 'ok', title: 'runs whose diagnostics all passed', numeric: true },
  { key: 'check', label: 'check', title: 'runs with a failed diagnostic', numeric: true },
  { key: 'diverged', label: 'diverged', title: 'runs whose losses became non-finite', numeric: true },
];

function targetsTable(targets: TargetSummary[], link: string): string {
  const count = (t: TargetSummary, state: string) => String(t.runs.filter((r) => r.state === state).length);
  const rows = targets.map((t) => [
    t.id,
    t.facts.label,
    t.facts.model,
    t.facts.teacher,
    String(t.facts.seed),
    String(t.facts.d),
    String(t.facts.n),
    label(t.facts.L0, 6),
    t.facts.llc_true === null ? '—' : String(t.facts.llc_true),
    String(t.runs.length),
    count(t, 'ok'),
    count(t, 'check'),
    count(t, 'diverged'),
  ]);
  return dataTable('targets-table', targetColumns(link), rows);
}

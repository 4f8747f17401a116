/**
 * The table every `run-many` ends with: one line per run of an experiment (label, target, sampler,
 * λ̂ ± MCSE, the true λ where theory gives it, R̂, bulk ESS, status) and where the results are, read back from llc_runs.arrow so that it
 * shows exactly what the table on disk holds. A large sweep's table would bury the paths, so beyond
 * SHOWN_RUNS runs it shows the runs that need a look first (diverged, then check) and counts the rest.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { artifactPath } from '../packages/llc/src/artifacts';

/** The llc_runs columns the table shows. */
const COLUMNS = ['label', 'target_label', 'sampler', 'llc_mean', 'llc_mcse', 'llc_true', 'r_hat', 'ess_bulk', 'status', 'status_reason'];

/** The most runs the table lists. */
export const SHOWN_RUNS = 40;

const fixed = (x: unknown, digits: number) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '–');
/** The first reason, cut to a line's room; llc_runs and the report have them all. */
const brief = (reasons: string) => {
  const [first, ...more] = reasons.split('; ');
  const cut = first.length > 70 ? `${first.slice(0, 69)}…` : first;
  return more.length ? `${cut} (+${more.length} more)` : cut;
};
const whole = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? String(Math.round(x)) : '–');

/** The summary of experiment `name` as lines, or why there is none yet. */
export function summaryLines(root: string, name: string): string[] {
  const dir = resolve(root, artifactPath.experiment(name));
  const file = join(dir, 'llc_runs.arrow');
  if (!existsSync(file)) return [`${name}: no results yet (${file} is missing)`];
  // Column by column: a sweep's ten thousand rows are never made into objects, only the rows shown.
  const table = tableFromIPC(readFileSync(file));
  const columns = Object.fromEntries(COLUMNS.map((name) => [name, table.getChild(name)!]));
  const statuses = Array.from(columns.status.toArray() as ArrayLike<unknown>, String);
  const urgency = (i: number) => ['diverged', 'check', 'ok'].indexOf(statuses[i]);
  const order = statuses.map((_, i) => i);
  // Stable: runs keep the file's order within each status.
  const shown = (order.length <= SHOWN_RUNS ? order : order.sort((a, b) => urgency(a) - urgency(b)).slice(0, SHOWN_RUNS)).map((i) =>
    // get() gives null where a value is null (an undefined ESS); toArray() would give a number.
    Object.fromEntries(COLUMNS.map((name) => [name, columns[name].get(i)])),
  );
  const rows = statuses.map((status) => ({ status }));
  // The true λ has a column only where some target has one (a linear regression, a deep linear network).
  const withTruth = shown.some((r) => typeof r.llc_true === 'number');
  const cells = shown.map((r) => [
    String(r.label),
    String(r.target_label),
    String(r.sampler),
    `${fixed(r.llc_mean, 3)} ± ${fixed(r.llc_mcse, 3)}`,
    ...(withTruth ? [typeof r.llc_true === 'number' ? String(r.llc_true) : '–'] : []),
    fixed(r.r_hat, 3),
    whole(r.ess_bulk),
    `${r.status}${r.status === 'ok' ? '' : `: ${brief(String(r.status_reason))}`}`,
  ]);
  const head = ['label', 'target', 'sampler', 'λ̂ ± MCSE', ...(withTruth ? ['true λ'] : []), 'R̂', 'ESS', 'status'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  // The status is last and not padded: a long reason runs on instead of widening every line.
  const line = (c: string[]) => c.map((x, i) => (i < c.length - 1 ? x.padEnd(widths[i]) : x)).join('  ');
  const tally = ['ok', 'check', 'diverged'].map((s) => [s, rows.filter((r) => r.status === s).length] as const).filter(([, n]) => n > 0);
  return [
    `${name}: ${rows.length} runs, ${tally.map(([s, n]) => `${n} ${s}`).join(', ')}`,
    line(head),
    ...cells.map(line),
    ...(shown.length < rows.length ? [`… and ${rows.length - shown.length} more runs (${tally.map(([st, n]) => `${n - shown.filter((r) => r.status === st).length} ${st}`).filter((x) => !x.startsWith('0 ')).join(', ')}): llc_runs and the report have every run`] : []),
    `report    ${join(dir, 'report.html')}`,
    `llc_runs  ${join(dir, 'llc_runs.parquet')} (also .arrow, .csv)`,
  ];
}

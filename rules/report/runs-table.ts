/**
 * The report's table of runs: llc_runs columns (llc-runs.ts, one definition for the files and the
 * page) as the summary and each target's page show them.
 */
import { label } from '../../packages/llc/src/plots/svg';
import { LLC_RUNS_COLUMNS, RunRecord } from '../llc-runs';
import { DataColumn, escapeHtml } from './html';

/** The llc_runs columns the table shows, by name, with how they read. */
const TABLE_COLUMNS: { column: string; label: string; digits?: number }[] = [
  { column: 'run_id', label: 'run' },
  { column: 'target_id', label: 'target' },
  { column: 'sampler', label: 'sampler' },
  { column: 'status', label: 'status' },
  { column: 'llc_mean', label: 'λ̂', digits: 4 },
  { column: 'llc_mcse', label: 'MCSE', digits: 2 },
  { column: 'llc_vs_reference_pct', label: 'Δ ref (%)', digits: 3 },
  { column: 'llc_std', label: 'std', digits: 3 },
  { column: 'llc_chain_std', label: 'chain std', digits: 2 },
  { column: 'ess_bulk', label: 'ESS bulk', digits: 4 },
  { column: 'ess_tail', label: 'ESS tail', digits: 4 },
  { column: 'r_hat', label: 'R̂', digits: 4 },
  { column: 'acceptance_rate', label: 'accept', digits: 3 },
  { column: 'mala_acceptance', label: 'MALA accept', digits: 3 },
  { column: 'divergences', label: 'divergent', digits: 4 },
  { column: 'fge_per_chain', label: 'FGE / chain', digits: 3 },
  { column: 'wall_time_s', label: 'time (s)', digits: 3 },
  { column: 'chains', label: 'chains' },
  { column: 'draws', label: 'draws' },
  { column: 'dtype', label: 'dtype' },
  { column: 'kernel', label: 'kernel' },
  // Not shown: the status cell's hover text.
  { column: 'status_reason', label: 'reason' },
];

const COLUMNS = TABLE_COLUMNS.map((t) => {
  const c = LLC_RUNS_COLUMNS.find((c) => c.name === t.column);
  if (!c) throw new Error(`report table: no llc_runs column ${t.column}`);
  return { ...t, read: c.read, description: c.description, numeric: c.type !== 'string' };
});

/**
 * The table's columns. `links.run` is where a run's id leads, `links.target` (if any) where its
 * target's does: URL templates in which {run_id} and {target_id} stand for the row's.
 */
export function runColumns(links: { run: string; target?: string }): DataColumn[] {
  return COLUMNS.map(
    (c): DataColumn => ({
      key: c.column,
      label: c.label,
      title: c.description,
      numeric: c.numeric,
      ...(c.column === 'run_id' && { href: links.run }),
      ...(c.column === 'target_id' && links.target && { href: links.target }),
      ...(c.column === 'status' && { className: 'status-{status}', hover: '{status_reason}' }),
      ...(c.column === 'status_reason' && { hidden: true }),
    }),
  );
}

/** A run's row, as the page shows it; undefined numbers read "—". */
export function runRow(record: RunRecord): string[] {
  return COLUMNS.map((c) => {
    const value = c.read(record);
    if (typeof value === 'number' && Number.isFinite(value)) return c.digits ? label(value, c.digits) : String(value);
    return c.numeric ? '—' : String(value ?? '');
  });
}

/** How many runs have each status, e.g. "6 ok, 2 check, 0 diverged". */
export function statusCounts(states: string[]): string {
  return ['ok', 'check', 'diverged'].map((s) => `${states.filter((t) => t === s).length} ${s}`).join(', ');
}

/**
 * What each status means and what to do about it: one list for the report's pages (the README's
 * "What a status means" table says the same).
 */
export const STATUS_GUIDE: { status: string; when: string; todo: string }[] = [
  { status: 'ok', when: 'every diagnostic passed and λ̂ agrees with the target’s reference run', todo: 'nothing' },
  { status: 'check', when: 'R̂ > 1.01 (the chains disagree)', todo: 'more draws and a longer warm-up (VI: more steps)' },
  { status: 'check', when: 'bulk or tail ESS below 100 per chain', todo: 'more draws; for SGLD also a larger step_size if its MALA acceptance is high' },
  { status: 'check', when: 'HMC transitions diverged after warm-up', todo: 'raise target_acceptance (0.95–0.99) with more num_integration_steps' },
  { status: 'check', when: 'SGLD’s MALA acceptance outside [0.8, 0.995]', todo: 'use the step_size the reason suggests' },
  { status: 'check', when: 'VI: the loss is far from quadratic over q (a singular model)', todo: 'use HMC or MCLMC for this target (docs/vi.md)' },
  { status: 'check', when: 'λ̂ < 0 (lower loss than at w*)', todo: 'train the target longer: w* is not a minimum' },
  {
    status: 'check',
    when: 'λ̂ disagrees with the target’s reference run (HMC first) beyond 3 combined MCSEs and 10%',
    todo: 'trust the reference if its own status is ok; VI is known to overestimate λ̂ on singular models (ReLU networks)',
  },
  { status: 'diverged', when: 'losses became non-finite', todo: 'lower the step size' },
];

/** STATUS_GUIDE as a small table. */
export function statusGuide(): string {
  const rows = STATUS_GUIDE.map((g) => `<tr><td class="status-${g.status}">${g.status}</td><td>${escapeHtml(g.when)}</td><td>${escapeHtml(g.todo)}</td></tr>`).join('');
  return `<table class="status-guide"><thead><tr><th>status</th><th>when</th><th>what to do</th></tr></thead><tbody>${rows}</tbody></table>`;
}

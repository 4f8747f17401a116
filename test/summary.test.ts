/**
 * The run table every run-many ends with (rules/summary.ts), from an llc_runs.arrow made here: a
 * statistic that is null shows as –, a reason after a status other than ok, a true λ where a target
 * has one, and beyond SHOWN_RUNS
 * runs the ones that need a look come first, in file order within each status, and the rest are
 * counted.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { artifactPath } from '../packages/llc/src/artifacts';
import { writeArrowFile } from '../packages/llc/src/tables';
import { SHOWN_RUNS, summaryLines } from '../rules/summary';

const root = mkdtempSync(join(tmpdir(), 'lh-summary-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function experiment(name: string, statuses: string[], truth: (i: number) => number | null = () => null): void {
  const dir = join(root, artifactPath.experiment(name));
  mkdirSync(dir, { recursive: true });
  const n = statuses.length;
  writeArrowFile(join(dir, 'llc_runs.arrow'), {
    label: statuses.map((_, i) => `run${i}`),
    target_label: statuses.map(() => 't'),
    sampler: statuses.map(() => 'sgld'),
    llc_mean: Float64Array.from({ length: n }, (_, i) => 1 + i / 1000),
    llc_mcse: Float64Array.from({ length: n }, () => 0.01),
    llc_true: statuses.map((_, i) => truth(i)),
    // The first run's R̂ and ESS are undefined (too few draws): null in the table.
    r_hat: statuses.map((_, i) => (i === 0 ? null : 1.001)),
    ess_bulk: statuses.map((_, i) => (i === 0 ? null : 500)),
    status: statuses,
    status_reason: statuses.map((s, i) => (s === 'ok' ? '' : `reason ${i}; another`)),
  });
}

describe('the run table', () => {
  it('shows nulls as –, and a status other than ok with its first reason', () => {
    experiment('small', ['check', 'ok']);
    const lines = summaryLines(root, 'small');
    expect(lines[0]).toBe('small: 2 runs, 1 ok, 1 check');
    const first = lines.find((l) => l.startsWith('run0'))!;
    expect(first.split(/ {2,}/)).toEqual(['run0', 't', 'sgld', '1.000 ± 0.010', '–', '–', 'check: reason 0 (+1 more)']);
    expect(lines.find((l) => l.startsWith('run1'))!.split(/ {2,}/)).toEqual(['run1', 't', 'sgld', '1.001 ± 0.010', '1.001', '500', 'ok']);
    expect(lines.at(-2)).toMatch(/^report {4}\S+report\.html$/);
  });

  it('has a true λ column only where some target has one, – for the others', () => {
    experiment('truth', ['ok', 'ok'], (i) => (i === 1 ? 9 : null));
    const lines = summaryLines(root, 'truth');
    expect(lines[1].split(/ {2,}/)).toEqual(['label', 'target', 'sampler', 'λ̂ ± MCSE', 'true λ', 'R̂', 'ESS', 'status']);
    expect(lines.find((l) => l.startsWith('run0'))!.split(/ {2,}/)).toEqual(['run0', 't', 'sgld', '1.000 ± 0.010', '–', '–', '–', 'ok']);
    expect(lines.find((l) => l.startsWith('run1'))!.split(/ {2,}/)).toEqual(['run1', 't', 'sgld', '1.001 ± 0.010', '9', '1.001', '500', 'ok']);
  });

  it('beyond SHOWN_RUNS lists diverged, then check, then ok runs, each in file order, and counts the rest', () => {
    const statuses = Array.from({ length: SHOWN_RUNS + 20 }, (_, i) => (i % 10 === 3 ? 'check' : i === 55 ? 'diverged' : 'ok'));
    experiment('large', statuses);
    const lines = summaryLines(root, 'large');
    const shown = lines.filter((l) => l.startsWith('run')).map((l) => Number(l.split(' ')[0].slice(3)));
    const checks = statuses.flatMap((s, i) => (s === 'check' ? [i] : []));
    const oks = statuses.flatMap((s, i) => (s === 'ok' ? [i] : []));
    expect(shown).toEqual([55, ...checks, ...oks].slice(0, SHOWN_RUNS));
    const okShown = SHOWN_RUNS - 1 - checks.length;
    expect(lines).toContain(`… and 20 more runs (${oks.length - okShown} ok): llc_runs and the report have every run`);
  });
});

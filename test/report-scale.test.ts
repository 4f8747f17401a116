/**
 * The report and llc_runs of a sweep of 2,000 runs (20 targets × 100 SGLD seeds): report.html holds
 * what a summary needs and no run's plots, so its size follows the number of runs at a few hundred
 * bytes each; each target's page holds its own runs and no other's; the summary opens in headless
 * Chromium a page of rows at a time; and llc_runs comes out whole from several batches. One target
 * and one run are computed; the others are copies of their artifacts under new ids, as a sweep's
 * would be on disk, less the files that neither the report nor llc_runs reads.
 */
import { cpSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BATCH_ROWS, writeLlcRuns } from '../rules/llc-runs';
import { buildTargetRule } from '../rules/build-target';
import { DEFAULT_PRESETS, loadExperiment } from '../rules/experiment';
import { ReportSpec, writeReport } from '../rules/report';
import { PAGE_ROWS } from '../rules/report/html';
import { sampleRule } from '../rules/sample';
import { hasChromium, launchChromium } from './support/chromium';
import { REPO } from './support/workspace';

const TARGETS = 20;
const SEEDS = 100;
const RUNS = TARGETS * SEEDS;
/** What the summary may spend: the page and its few plots, and a table row per run. */
const FIXED_BYTES = 150_000;
const BYTES_PER_RUN = 400;

const root = mkdtempSync(join(tmpdir(), 'lh-report-scale-'));
const artifacts = (...parts: string[]) => join(root, 'artifacts', ...parts);
const hex = (i: number) => i.toString(16).padStart(12, '0');
/** What the report and llc_runs read of a run besides analysis.json; hard links, as tens of thousands of copies are slow to make and remove. */
const RUN_FILES = ['traces.arrow'];
let spec: ReportSpec;

beforeAll(async () => {
  symlinkSync(join(REPO, 'config'), join(root, 'config'));
  writeFileSync(
    join(root, 'exp.yaml'),
    'experiment: scale\ntargets:\n  - { model: small, data: small, seed: 1, overrides: { training: { steps: 50 } } }\nsamplers:\n  - { name: sgld, overrides: { steps: 200, warmup: 20, eval_every: 10, chains: 2 } }\n',
  );
  const exp = await loadExperiment({ root, presets: DEFAULT_PRESETS }, join(root, 'exp.yaml'));
  const ctx = { root, log: () => {} };
  await buildTargetRule.run(exp.targets[0], ctx);
  await sampleRule.run(exp.runs[0], ctx);

  const original = JSON.parse(readFileSync(artifacts('runs', exp.runs[0].id, 'analysis.json'), 'utf8'));
  const runs: ReportSpec['runs'] = [];
  for (let t = 0; t < TARGETS; t++) {
    const target = `tgt_${hex(0xa00000 + t)}`;
    cpSync(artifacts('targets', exp.targets[0].id), artifacts('targets', target), { recursive: true });
    const meta = JSON.parse(readFileSync(artifacts('targets', target, 'meta.json'), 'utf8'));
    writeFileSync(artifacts('targets', target, 'meta.json'), JSON.stringify({ ...meta, target_id: target }));
    for (let s = 0; s < SEEDS; s++) {
      const id = `sgld_${hex(0xb00000 + t * SEEDS + s)}`;
      const dir = artifacts('runs', id);
      mkdirSync(dir);
      for (const f of RUN_FILES) linkSync(artifacts('runs', exp.runs[0].id, f), join(dir, f));
      // A target's runs within 10% of each other: they agree (disagreement.test.ts covers the opposite).
      const analysis = { ...original, run_id: id, target_id: target, seed: s, llc: { ...original.llc, mean: 10 * (t + 1) + s / SEEDS } };
      writeFileSync(join(dir, 'analysis.json'), JSON.stringify(analysis));
      runs.push({ id, target, sampler: 'sgld', label: `sgld seed=${s}`, target_label: `small/small seed=${t}` });
    }
  }
  spec = { experiment: 'scale', file: 'exp.yaml', runs };
  writeReport(root, spec, artifacts('experiments', 'scale'), ctx);
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const page = (...parts: string[]) => readFileSync(artifacts('experiments', 'scale', ...parts), 'utf8');
const runIdsIn = (html: string) => html.match(/sgld_[0-9a-f]{12}/g) ?? [];

describe('a report of 2,000 runs', () => {
  it('report.html holds a table row per run and the comparison, not the runs’ plots', () => {
    const html = page('report.html');
    expect(Buffer.byteLength(html)).toBeLessThan(FIXED_BYTES + BYTES_PER_RUN * RUNS);
    expect(html).not.toMatch(/(trace|rank) plot of/);
    // Two comparison plots of ten targets each, one point per sampler and target over its 100 seeds.
    expect(html.match(/<img /g)).toHaveLength(2);
    expect(html).toContain('more than the plot can colour apart');
    const ids = runIdsIn(html);
    expect(ids.length).toBe(RUNS);
    expect(new Set(ids)).toEqual(new Set(spec.runs.map((r) => r.id)));
  });

  it('each target’s page holds its own runs, every one with its plots, and no other', () => {
    const dir = artifacts('experiments', 'scale', 'report');
    const targets = [...new Set(spec.runs.map((r) => r.target))];
    expect(readdirSync(dir).sort()).toEqual(targets.map((t) => `${t}.html`).sort());
    for (const target of targets) {
      const html = page('report', `${target}.html`);
      const mine = spec.runs.filter((r) => r.target === target).map((r) => r.id);
      expect(new Set(runIdsIn(html)), target).toEqual(new Set(mine));
      expect(html.match(/trace plot of/g), target).toHaveLength(mine.length);
      for (const other of targets) if (other !== target) expect(html, target).not.toContain(other);
    }
    // A target's page, not the summary, carries the plots' weight.
    expect(statSync(join(dir, `${targets[0]}.html`)).size).toBeGreaterThan(statSync(artifacts('experiments', 'scale', 'report.html')).size / TARGETS);
  });

  it('llc_runs comes out whole from several batches', async () => {
    expect(await writeLlcRuns(root, spec)).toBe(RUNS);
    const file = new Uint8Array(readFileSync(artifacts('experiments', 'scale', 'llc_runs.parquet'))).buffer;
    expect(parquetMetadata(file).row_groups).toHaveLength(Math.ceil(RUNS / BATCH_ROWS));
    const rows = (await parquetReadObjects({ file, columns: ['run_id', 'target_id', 'llc_mean'] })) as Record<string, unknown>[];
    expect(rows.map((r) => r.run_id)).toEqual(spec.runs.map((r) => r.id));
    expect(rows[RUNS - 1]).toEqual({ run_id: spec.runs[RUNS - 1].id, target_id: spec.runs[RUNS - 1].target, llc_mean: 10 * TARGETS + (SEEDS - 1) / SEEDS });
  });

  it.skipIf(!hasChromium)('report.html opens in Chromium a page of rows at a time, filters and pages, with no errors or requests', async () => {
    const browser = await launchChromium();
    try {
      const tab = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const errors: string[] = [];
      const requests: string[] = [];
      tab.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      tab.on('pageerror', (e) => errors.push(String(e)));
      tab.on('request', (r) => requests.push(r.url()));
      const url = `file://${artifacts('experiments', 'scale', 'report.html')}`;
      await tab.goto(url, { waitUntil: 'load' });

      const table = tab.locator('.data-table', { has: tab.locator('#runs-table') });
      const firstColumn = () => tab.locator('#runs-table tbody tr td:first-child').allTextContents();
      expect(await firstColumn()).toEqual(spec.runs.slice(0, PAGE_ROWS).map((r) => r.id));
      expect(await table.locator('.table-page').textContent()).toBe(`page 1 of ${RUNS / PAGE_ROWS}`);
      await table.getByRole('button', { name: /Next/ }).click();
      expect(await firstColumn()).toEqual(spec.runs.slice(PAGE_ROWS, 2 * PAGE_ROWS).map((r) => r.id));

      // A filter that keeps one target's runs, sorted by λ̂ from the top: the last of its seeds first.
      const target = spec.runs[SEEDS * 7].target;
      await table.locator('input[type=search]').fill(target);
      expect(await table.locator('.table-count').textContent()).toBe(`rows 1–${PAGE_ROWS} of ${SEEDS} (filtered from ${RUNS})`);
      const lambda = tab.locator('#runs-table th', { hasText: /^λ̂$/ });
      await lambda.click();
      await lambda.click();
      expect(await firstColumn()).toEqual(spec.runs.filter((r) => r.target === target).reverse().slice(0, PAGE_ROWS).map((r) => r.id));

      const plots = await tab.$$eval('img.plot', (imgs) => imgs.map((i) => i.complete && i.naturalWidth > 0));
      expect(plots).toEqual([true, true]);
      expect(errors).toEqual([]);
      expect(requests.filter((u) => u !== url && !u.startsWith('data:'))).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);
});

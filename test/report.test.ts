/**
 * The experiment report, opened in headless Chromium: the summary and a target's page each with no
 * console errors and no requests beyond the file itself, a table row per run, every plot decoded,
 * sorting that works, and links between the pages that lead to files and anchors that exist; and
 * the llc_runs table read back by independent readers (hyparquet for Parquet, Python's csv module
 * for CSV) with the values of every run's analysis.json and timing.json, the same whether it was
 * written in one batch or several.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tableFromIPC } from 'apache-arrow';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDisagreement } from '../packages/llc/src/agreement';
import { aggregateRule, aggregateSpec } from '../rules/aggregate';
import { buildTargetRule } from '../rules/build-target';
import { DEFAULT_PRESETS, Experiment, loadExperiment } from '../rules/experiment';
import { experimentDisagreements, experimentRuns, LLC_RUNS_COLUMNS, LLC_RUNS_FILES, writeLlcRuns } from '../rules/llc-runs';
import { reportFiles } from '../rules/report';
import { sampleRule } from '../rules/sample';
import { hasChromium, launchChromium } from './support/chromium';
import { python, runPython } from './support/python';
import { REPO } from './support/workspace';

const EXPERIMENT = `experiment: reportcheck
description: Two small targets, every sampler, for the report test.
targets:
  - { model: small, data: small, seed: 1, overrides: { training: { steps: 400 } } }
  - { model: small, data: small, seed: 2, overrides: { training: { steps: 400 } } }
samplers:
  - { name: sgld, overrides: { steps: 4000, warmup: 400, eval_every: 20 } }
  - { name: hmc, overrides: { draws: 150, warmup: 100 } }
  - { name: mclmc, overrides: { draws: 150, num_steps: 200 } }
  - { name: vi, overrides: { steps: 300, eval_samples: 16 } }
`;

const root = mkdtempSync(join(tmpdir(), 'lh-report-'));
const SCREENSHOT = join(REPO, 'test-output', 'report.png');
let exp: Experiment;
const dir = () => join(root, 'artifacts', 'experiments', exp.name);
const analysisOf = (id: string) => JSON.parse(readFileSync(join(root, 'artifacts', 'runs', id, 'analysis.json'), 'utf8'));

beforeAll(async () => {
  symlinkSync(join(REPO, 'config'), join(root, 'config'));
  writeFileSync(join(root, 'exp.yaml'), EXPERIMENT);
  exp = await loadExperiment({ root, presets: DEFAULT_PRESETS }, join(root, 'exp.yaml'));
  const ctx = { root, log: () => {}, progress: () => {} };
  for (const t of exp.targets) await buildTargetRule.run(t, ctx);
  for (const r of exp.runs) await sampleRule.run(r, ctx);
  await aggregateRule.run(aggregateSpec(exp), ctx);
}, 240_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** What analysis.json says a row's column should hold; columns derived by formula are checked by name below. */
function expectedFromArtifacts(id: string): Record<string, unknown> {
  const a = analysisOf(id);
  const t = a.timing;
  // The run's own status, and a disagreement with its target's reference run where there is one.
  const status = withDisagreement(a.status, experimentDisagreements(root, experimentRuns(exp)).get(id));
  return {
    run_id: a.run_id,
    target_id: a.target_id,
    sampler: a.sampler,
    status: status.state,
    status_reason: status.reasons.join('; '),
    target_seed: a.target.seed,
    d: a.d,
    n: a.temperature.n,
    seed: a.seed,
    chains: a.llc.chains,
    draws: a.llc.draws,
    dtype: a.dtype,
    beta: a.temperature.beta,
    n_beta: a.temperature.n_beta,
    gamma: a.temperature.gamma,
    L0: a.L0,
    llc_mean: a.llc.mean,
    llc_std: a.llc.std,
    llc_mcse: a.llc.mcse,
    llc_min: a.llc.min,
    llc_max: a.llc.max,
    llc_chain_min: Math.min(...a.llc.per_chain),
    llc_chain_max: Math.max(...a.llc.per_chain),
    ess_bulk: a.llc.ess_bulk,
    ess_tail: a.llc.ess_tail,
    r_hat: a.llc.r_hat,
    acceptance_rate: a.diagnostics.acceptance_rate ?? null,
    divergences: a.divergences?.count ?? null,
    fge_per_chain: a.work.fge_warmup + a.work.fge_sampling,
    fge_warmup: a.work.fge_warmup,
    grad_evals: a.work.grad_evals,
    wall_time_s: t.total_s,
    warmup_s: t.warmup_s,
    sampling_s: t.sampling_s,
    threads: t.threads,
    kernel: a.kernel,
  };
}

describe('llc_runs', () => {
  it('Parquet reads back (hyparquet) with the values of every run’s analysis.json', async () => {
    const rows = (await parquetReadObjects({ file: new Uint8Array(readFileSync(join(dir(), 'llc_runs.parquet'))).buffer })) as Record<string, unknown>[];
    expect(rows.map((r) => r.run_id)).toEqual(exp.runs.map((r) => r.id));
    expect(Object.keys(rows[0])).toEqual(LLC_RUNS_COLUMNS.map((c) => c.name));
    for (const row of rows) {
      const id = String(row.run_id);
      expect(row, id).toMatchObject(expectedFromArtifacts(id));
      const a = analysisOf(id);
      expect(JSON.parse(String(row.sampler_options))).toEqual(a.options);
      expect(JSON.parse(String(row.target_config))).toEqual(a.target);
      expect(JSON.parse(String(row.model_widths))).toEqual(a.target.model.widths);
    }
    // Every sampler gives its kind of row: HMC has acceptance and divergences, the others nulls there.
    const hmc = rows.find((r) => r.sampler === 'hmc')!;
    expect(typeof hmc.acceptance_rate).toBe('number');
    expect(typeof hmc.divergences).toBe('number');
    expect(rows.find((r) => r.sampler === 'sgld')!.acceptance_rate).toBeNull();
  });

  it('Arrow IPC holds the same table', async () => {
    const rows = (await parquetReadObjects({ file: new Uint8Array(readFileSync(join(dir(), 'llc_runs.parquet'))).buffer })) as Record<string, unknown>[];
    const arrow = tableFromIPC(readFileSync(join(dir(), 'llc_runs.arrow')));
    expect(arrow.schema.fields.map((f) => f.name)).toEqual(LLC_RUNS_COLUMNS.map((c) => c.name));
    expect(arrow.toArray().map((r) => r.toJSON())).toEqual(rows);
  });

  it.skipIf(!python)('CSV reads back (Python csv module) with the same values, floats bit for bit', () => {
    const out = runPython(`
import csv, json
with open(${JSON.stringify(join(dir(), 'llc_runs.csv'))}, newline='') as f:
    print(json.dumps(list(csv.DictReader(f))))`);
    const csvRows = JSON.parse(out) as Record<string, string>[];
    expect(csvRows.map((r) => r.run_id)).toEqual(exp.runs.map((r) => r.id));
    for (const row of csvRows) {
      const expected = expectedFromArtifacts(row.run_id);
      for (const [name, value] of Object.entries(expected)) {
        const cell = row[name];
        if (value === null) expect(cell, `${row.run_id}.${name}`).toBe('');
        else if (typeof value === 'number') expect(Number(cell), `${row.run_id}.${name}`).toBe(value);
        else expect(cell, `${row.run_id}.${name}`).toBe(String(value));
      }
      expect(JSON.parse(row.sampler_options)).toEqual(analysisOf(row.run_id).options);
    }
  });

  it('reads back the same, by every reader, when written in several batches', async () => {
    const files = ['llc_runs.parquet', 'llc_runs.arrow', 'llc_runs.csv'];
    const whole = Object.fromEntries(files.map((f) => [f, readFileSync(join(dir(), f))]));
    const { runs } = experimentRuns(exp);
    expect(await writeLlcRuns(root, { experiment: exp.name, runs }, { batchRows: 3 })).toBe(runs.length);
    const batched = Object.fromEntries(files.map((f) => [f, readFileSync(join(dir(), f))]));

    // The batches really are separate: a Parquet row group and an Arrow record batch each.
    const batches = Math.ceil(runs.length / 3);
    const parquet = (bytes: Buffer) => new Uint8Array(bytes).buffer;
    expect(parquetMetadata(parquet(batched['llc_runs.parquet'])).row_groups.map((g) => Number(g.num_rows))).toEqual([3, 3, 2]);
    expect(parquetMetadata(parquet(whole['llc_runs.parquet'])).row_groups).toHaveLength(1);
    expect(tableFromIPC(batched['llc_runs.arrow']).batches).toHaveLength(batches);

    expect(await parquetReadObjects({ file: parquet(batched['llc_runs.parquet']) })).toEqual(await parquetReadObjects({ file: parquet(whole['llc_runs.parquet']) }));
    expect(parquetSchema(parquetMetadata(parquet(batched['llc_runs.parquet']))).children.map((c) => c.element)).toEqual(
      parquetSchema(parquetMetadata(parquet(whole['llc_runs.parquet']))).children.map((c) => c.element),
    );
    const [a, b] = [tableFromIPC(whole['llc_runs.arrow']), tableFromIPC(batched['llc_runs.arrow'])];
    expect(b.schema.fields.map(String)).toEqual(a.schema.fields.map(String));
    expect(b.toArray().map((r) => r.toJSON())).toEqual(a.toArray().map((r) => r.toJSON()));
    expect(batched['llc_runs.csv'].toString()).toBe(whole['llc_runs.csv'].toString());
  });

  it('leaves the previous files, and no partial ones, when a run cannot be read', async () => {
    const before = readdirSync(dir()).sort();
    const table = readFileSync(join(dir(), 'llc_runs.parquet'));
    const runs = [...experimentRuns(exp).runs, { id: 'sgld_000000000000', target: exp.targets[0].id, sampler: 'sgld', label: 'sgld', target_label: 'small/small' }];
    // The missing run is in the third batch: two have been written by then.
    await expect(writeLlcRuns(root, { experiment: exp.name, runs }, { batchRows: 4 })).rejects.toThrow(/sgld_000000000000/);
    expect(readdirSync(dir()).sort()).toEqual(before);
    expect(readFileSync(join(dir(), 'llc_runs.parquet')).equals(table)).toBe(true);
  });

  it('is documented: the README lists every column with its type', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    for (const c of LLC_RUNS_COLUMNS) expect(readme, c.name).toMatch(new RegExp(`^\\| \`${c.name}\` \\| ${c.type} \\|`, 'm'));
  });
});

/** Opens a page of the report, collecting console errors and every request it makes. */
async function open(page: Page, path: string): Promise<{ errors: string[]; requests: string[]; url: string }> {
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => requests.push(r.url()));
  const url = `file://${path}`;
  await page.goto(url, { waitUntil: 'load' });
  return { errors, requests, url };
}

/** Every link of the page, as the file it leads to and the anchor in it (if any). */
async function links(page: Page): Promise<{ file: string; anchor: string }[]> {
  const hrefs = await page.$$eval('a[href]', (as) => as.map((a) => a.getAttribute('href')!));
  return hrefs.map((href) => {
    const url = new URL(href, page.url());
    expect(url.protocol, href).toBe('file:');
    return { file: fileURLToPath(url), anchor: decodeURIComponent(url.hash.slice(1)) };
  });
}

describe.skipIf(!hasChromium)('the report in headless Chromium', () => {
  it('report.html: no console errors, a row per run, its plots decoded, sorting, and links to target pages that exist', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const { errors, requests, url } = await open(page, join(dir(), 'report.html'));

      expect(await page.locator('#runs-table tbody tr').count()).toBe(exp.runs.length);
      const runIds = await page.locator('#runs-table tbody tr td:first-child').allTextContents();
      expect(runIds.sort()).toEqual(exp.runs.map((r) => r.id).sort());
      expect(await page.locator('#targets-table tbody tr').count()).toBe(exp.targets.length);

      // It reads without the README: the experiment's description, what λ̂ is, the statuses explained,
      // each target's teacher, and each run's difference from its target's reference (HMC) run.
      expect(await page.locator('p.description').textContent()).toBe('Two small targets, every sampler, for the report test.');
      expect(await page.locator('p.about').isVisible()).toBe(true);
      expect(await page.locator('p.about').textContent()).toContain('local learning coefficient');
      expect(await page.locator('table.status-guide tbody tr').count()).toBeGreaterThanOrEqual(3);
      const targetHeaders = await page.locator('#targets-table th').allTextContents();
      const teacherCells = await page.$$eval('#targets-table tbody tr', (rows, i) => rows.map((r) => r.children[i].textContent), targetHeaders.findIndex((h) => h.startsWith('teacher')));
      expect(teacherCells).toEqual(exp.targets.map(() => '[4,4] relu'));
      const runHeaders = await page.locator('#runs-table th').allTextContents();
      const delta = runHeaders.findIndex((h) => h.startsWith('Δ ref'));
      expect(delta).toBeGreaterThan(0);
      const deltas = (await page.$$eval('#runs-table tbody tr', (rows, i) => rows.map((r) => [r.children[2].textContent, r.children[i].textContent]), delta)) as [string, string][];
      for (const [sampler, d] of deltas) if (sampler === 'hmc') expect(Number(d), sampler).toBe(0);
      expect(deltas.filter(([sampler, d]) => sampler !== 'hmc' && Number.isFinite(Number(d)))).toHaveLength(exp.runs.length - exp.targets.length);

      // The comparison alone: no target's or run's plots on the summary.
      const plots = await page.$$eval('img.plot', (imgs) => imgs.map((i) => ({ alt: i.alt, ok: i.complete && i.naturalWidth > 0 })));
      expect(plots.map((p) => p.alt)).toEqual(['λ̂ per target and sampler with 95% intervals']);
      expect(plots.filter((p) => !p.ok)).toEqual([]);

      const lambdaHeader = page.locator('#runs-table th', { hasText: /^λ̂$/ });
      const column = async () => (await page.$$eval('#runs-table tbody tr', (rows, i) => rows.map((r) => Number(r.children[i].textContent)), 4)) as number[];
      await lambdaHeader.click();
      expect(await lambdaHeader.getAttribute('aria-sort')).toBe('ascending');
      const ascending = await column();
      expect(ascending).toEqual([...ascending].sort((a, b) => a - b));
      await lambdaHeader.click();
      expect(await column()).toEqual([...ascending].reverse());

      // Every link leads to a file that exists, and every anchor to an element of that file.
      const targets = await links(page);
      const pages = new Set(exp.targets.map((t) => join(dir(), 'report', `${t.id}.html`)));
      expect(new Set(targets.map((l) => l.file).filter((f) => f !== join(dir(), 'report.html')))).toEqual(pages);
      for (const { file, anchor } of targets) {
        expect(existsSync(file), file).toBe(true);
        if (anchor) expect(readFileSync(file, 'utf8'), `${file}#${anchor}`).toContain(`id="${anchor}"`);
      }
      // Each run's id leads to its section on its target's page.
      const runLinks = await page.$$eval('#runs-table tbody tr td:first-child a', (as) => as.map((a) => a.getAttribute('href')));
      expect(runLinks.sort()).toEqual(exp.runs.map((r) => `report/${r.target}.html#run-${r.id}`).sort());

      mkdirSync(join(REPO, 'test-output'), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(errors).toEqual([]);
      expect(requests.filter((u) => u !== url && !u.startsWith('data:'))).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);

  it('a target’s page: no console errors, its runs only, every plot decoded, and a link back', async () => {
    const target = exp.targets[1];
    const mine = exp.runs.filter((r) => r.target === target.id);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const { errors, requests, url } = await open(page, join(dir(), 'report', `${target.id}.html`));

      const runIds = await page.locator('#runs-table tbody tr td:first-child').allTextContents();
      expect(runIds.sort()).toEqual(mine.map((r) => r.id).sort());
      expect(await page.$$eval('section.run', (s) => s.map((e) => e.id))).toEqual(mine.map((r) => `run-${r.id}`));

      const plots = await page.$$eval('img.plot', (imgs) => imgs.map((i) => ({ alt: i.alt, ok: i.complete && i.naturalWidth > 0 })));
      // Two overlays, the fit scatter and the loss bars; per run trace and rank, plus energy (HMC) or the ELBO (VI).
      const perRun = mine.map((r) => 2 + (r.sampler === 'hmc' || r.sampler === 'vi' ? 1 : 0)).reduce((a, b) => a + b, 0);
      expect(plots.length).toBe(4 + perRun);
      expect(plots.filter((p) => !p.ok)).toEqual([]);

      for (const { file, anchor } of await links(page)) {
        expect([join(dir(), 'report.html'), join(dir(), 'report', `${target.id}.html`)]).toContain(file);
        if (anchor) expect(await page.locator(`[id="${anchor}"]`).count(), anchor).toBe(1);
      }
      expect(errors).toEqual([]);
      expect(requests.filter((u) => u !== url && !u.startsWith('data:'))).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);

  it('the aggregate writes the experiment folder as one unit: the tables, report.html and a page per target, and nothing else', () => {
    const spec = { ...experimentRuns(exp), file: 'exp.yaml' };
    expect(aggregateRule.outputs(spec)).toEqual([join('artifacts', 'experiments', exp.name)]);
    expect(aggregateRule.verify(spec, root)).toBeNull();
    expect(readdirSync(join(dir(), 'report')).sort()).toEqual(exp.targets.map((t) => `${t.id}.html`).sort());
    expect(readdirSync(dir()).sort()).toEqual([...LLC_RUNS_FILES, 'report', 'report.html'].sort());
    expect(reportFiles(spec)).toEqual(['report.html', ...exp.targets.map((t) => join('report', `${t.id}.html`))]);
  });
});

/**
 * The experiment report, opened in headless Chromium: no console errors and no requests beyond
 * the file itself, one table row per run, every plot decoded, sorting that works; and the llc_runs
 * table read back by independent readers (hyparquet for Parquet, Python's csv module for CSV) with
 * the values of every run's analysis.json and timing.json.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregateRule } from '../rules/aggregate';
import { buildTargetRule } from '../rules/build-target';
import { DEFAULT_PRESETS, Experiment, loadExperiment } from '../rules/experiment';
import { LLC_RUNS_COLUMNS } from '../rules/llc-runs';
import { reportRule } from '../rules/report';
import { sampleRule } from '../rules/sample';
import { hasChromium, launchChromium } from './support/chromium';
import { python, runPython } from './support/python';
import { REPO } from './support/workspace';

const EXPERIMENT = `experiment: reportcheck
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
const timingOf = (id: string) => JSON.parse(readFileSync(join(root, 'artifacts', 'runs', id, 'timing.json'), 'utf8'));

beforeAll(async () => {
  symlinkSync(join(REPO, 'config'), join(root, 'config'));
  writeFileSync(join(root, 'exp.yaml'), EXPERIMENT);
  exp = await loadExperiment({ root, presets: DEFAULT_PRESETS }, join(root, 'exp.yaml'));
  const ctx = { root, log: () => {}, progress: () => {} };
  for (const t of exp.targets) await buildTargetRule.run(t, ctx);
  for (const r of exp.runs) await sampleRule.run(r, ctx);
  const runs = exp.runs.map((r) => ({ id: r.id, target: r.target, sampler: r.sampler }));
  await aggregateRule.run({ experiment: exp.name, runs }, ctx);
  await reportRule.run({ experiment: exp.name, runs, file: 'exp.yaml' }, ctx);
}, 240_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** What analysis.json and timing.json say a row's column should hold; columns derived by formula are checked by name below. */
function expectedFromArtifacts(id: string): Record<string, unknown> {
  const a = analysisOf(id);
  const t = timingOf(id);
  return {
    run_id: a.run_id,
    target_id: a.target_id,
    sampler: a.sampler,
    status: a.status.state,
    status_reason: a.status.reasons.join('; '),
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
  it('Parquet reads back (hyparquet) with the values of every run’s analysis.json and timing.json', async () => {
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

  it('is documented: the README lists every column with its type', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    for (const c of LLC_RUNS_COLUMNS) expect(readme, c.name).toMatch(new RegExp(`^\\| \`${c.name}\` \\| ${c.type} \\|`, 'm'));
  });
});

describe.skipIf(!hasChromium)('report.html in headless Chromium', () => {
  it('renders with no console errors, a row per run, every plot decoded, and sorts', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('request', (r) => requests.push(r.url()));
      const url = `file://${join(dir(), 'report.html')}`;
      await page.goto(url, { waitUntil: 'load' });

      expect(await page.locator('#runs-table tbody tr').count()).toBe(exp.runs.length);
      const runIds = await page.locator('#runs-table tbody tr td:first-child').allTextContents();
      expect(runIds.sort()).toEqual(exp.runs.map((r) => r.id).sort());

      const plots = await page.$$eval('img.plot', (imgs) => imgs.map((i) => ({ alt: i.alt, ok: i.complete && i.naturalWidth > 0 })));
      // The comparison; per target two overlays, the fit scatter and the loss bars; per run trace and rank, plus energy (HMC) or the ELBO (VI).
      const perRun = exp.runs.map((r) => 2 + (r.sampler === 'hmc' || r.sampler === 'vi' ? 1 : 0)).reduce((a, b) => a + b, 0);
      expect(plots.length).toBe(1 + 4 * exp.targets.length + perRun);
      expect(plots.filter((p) => !p.ok)).toEqual([]);

      const lambdaHeader = page.locator('#runs-table th', { hasText: /^λ̂$/ });
      const column = async () => (await page.$$eval('#runs-table tbody tr', (rows, i) => rows.map((r) => Number(r.children[i].getAttribute('data-sort'))), 4)) as number[];
      await lambdaHeader.click();
      expect(await lambdaHeader.getAttribute('aria-sort')).toBe('ascending');
      const ascending = await column();
      expect(ascending).toEqual([...ascending].sort((a, b) => a - b));
      await lambdaHeader.click();
      expect(await column()).toEqual([...ascending].reverse());

      mkdirSync(join(REPO, 'test-output'), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(errors).toEqual([]);
      expect(requests.filter((u) => u !== url && !u.startsWith('data:'))).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);
});

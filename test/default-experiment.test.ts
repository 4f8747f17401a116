/**
 * The default experiment, config/experiments.yaml, run as the README's first command runs it: with
 * the fastest kernel this machine has, and on a machine without the native kernel, where every task
 * runs on WebAssembly and says why.
 */
import { parquetReadObjects } from 'hyparquet';
import { afterAll, describe, expect, it } from 'vitest';
import { native } from '../packages/llc/src/kernels/native';
import { DEFAULT_PRESETS, loadExperiment } from '../rules/experiment';
import { loadTuneConfig } from '../rules/tune/config';
import { ScratchWorkspace } from './support/workspace';

async function runDefaultExperiment(ws: ScratchWorkspace) {
  const exp = await loadExperiment({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/experiments.yaml'));
  expect(new Set(exp.runs.map((r) => r.sampler))).toEqual(new Set(['hmc', 'mclmc', 'sgld', 'vi']));
  const r = ws.nx('run-many', '-t', 'sample');
  expect(r.status, r.output).toBe(0);
  const file = ws.read(`artifacts/experiments/${exp.name}/llc_runs.parquet`);
  const rows = (await parquetReadObjects({ file: new Uint8Array(file).buffer })) as Record<string, number | string>[];
  expect(rows.map((row) => row.run_id).sort()).toEqual(exp.runs.map((run) => run.id).sort());
  expect(new Set(rows.map((row) => row.sampler))).toEqual(new Set(['hmc', 'mclmc', 'sgld', 'vi']));
  for (const row of rows) {
    expect(Number.isFinite(row.llc_mean), String(row.run_id)).toBe(true);
    expect(row.r_hat as number, String(row.run_id)).toBeLessThan(1.1);
    // The linear regression (d = 18) is a regular model: λ = d/2; the ReLU network has no λ in closed form.
    expect(row.llc_true, String(row.target_label)).toBe(row.target_label === 'linear-regression-s43' ? 9 : null);
  }
  // The report says so too: on the linear regression's page, and as a dashed line in the comparison plot (test/plots.test.ts).
  const linear = exp.targets.find((t) => exp.labels[t.id] === 'linear-regression-s43')!;
  expect(ws.read(`artifacts/experiments/${exp.name}/report/${linear.id}.html`).toString()).toContain('<dt>true λ</dt><dd>9 (d/2 (regular model))</dd>');
  expect(ws.read(`artifacts/experiments/${exp.name}/report.html`).toString()).toContain('A dashed line marks a target’s true λ');
  // A newcomer's first run: every run ok but VI on the ReLU network, which its status flags as
  // untrustworthy there (docs/vi.md); on the linear regression VI is exact and ok like the rest.
  const notOk = rows.filter((row) => row.status !== 'ok');
  expect(notOk.map((row) => `${row.target_label} ${row.label}`), notOk.map((row) => `${row.target_label} ${row.label}: ${row.status_reason}`).join('\n')).toEqual(['small-realizable-s42 vi']);
  // `run-many -t sample` also computes the default tuning file's HMC reference, an ordinary run.
  const tune = await loadTuneConfig({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/tune/dev.yaml'));
  const extra = tune.references.filter((ref) => !exp.runs.some((run) => run.id === ref.id)).length;
  return { output: r.output, rows, tasks: exp.targets.length + exp.runs.length + extra };
}

describe('the default experiment', () => {
  const workspaces: ScratchWorkspace[] = [];
  afterAll(() => workspaces.forEach((ws) => ws.dispose()));

  it('runs every sampler on every target and tabulates them all in llc_runs', async () => {
    const ws = new ScratchWorkspace();
    workspaces.push(ws);
    const { rows } = await runDefaultExperiment(ws);
    const expected = native.available({ named: true }).ok ? 'native-' : 'wasm-';
    for (const row of rows) expect(String(row.kernel).startsWith(expected), String(row.kernel)).toBe(true);
  });

  it('runs on the WebAssembly kernels where the native kernel is missing, and every task says why', async () => {
    const ws = new ScratchWorkspace();
    workspaces.push(ws);
    ws.remove('packages/llc/src/kernels/native/build');
    const { output, rows, tasks } = await runDefaultExperiment(ws);
    for (const row of rows) expect(String(row.kernel), String(row.run_id)).toMatch(/^wasm-/);
    // Every kernel line carries the reason. A batch prints a line once however many of its tasks
    // would repeat it word for word (plugins/lambda-hat/src/batch.ts), so there is one per batch
    // and kernel (the builds', the samples' in float32 and in float64), not one per task.
    const kernelLines = output.match(/^\[\S+\] kernel \S+ .*$/gm) ?? [];
    expect(kernelLines.length, output).toBeGreaterThanOrEqual(2);
    expect(kernelLines.length).toBeLessThan(tasks);
    for (const line of kernelLines) expect(line).toMatch(/^\[\S+\] kernel wasm-.*the faster native kernel was skipped: it is not built for the current sources\. To enable it: apt-get install build-essential libopenblas-dev && npm rebuild/);
  });
});

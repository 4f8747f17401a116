/** The default experiment, config/experiments.yaml, run as the README's first command runs it. */
import { parquetReadObjects } from 'hyparquet';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_PRESETS, loadExperiment } from '../rules/experiment';
import { ScratchWorkspace } from './support/workspace';

describe('the default experiment', () => {
  const ws = new ScratchWorkspace();
  afterAll(() => ws.dispose());

  it('runs every sampler on every target and tabulates them all in llc_runs', async () => {
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
    }
  });
});

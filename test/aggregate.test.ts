/** llc_runs when a run's statistics are undefined: nulls in the table, not NaN, and no crash. */
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, expect, it } from 'vitest';
import { aggregateRule } from '../rules/aggregate';
import { experimentRuns } from '../rules/llc-runs';
import { buildTargetRule } from '../rules/build-target';
import { DEFAULT_PRESETS, loadExperiment } from '../rules/experiment';
import { sampleRule } from '../rules/sample';
import { REPO } from './support/workspace';

const root = mkdtempSync(join(tmpdir(), 'lh-aggregate-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('tabulates a run too short for an ESS, with nulls where statistics are undefined', async () => {
  symlinkSync(join(REPO, 'config'), join(root, 'config'));
  writeFileSync(
    join(root, 'exp.yaml'),
    'experiment: short\ntargets:\n  - { model: small, data: small, seed: 1, overrides: { training: { steps: 50 } } }\nsamplers:\n  - { name: sgld, overrides: { steps: 3, warmup: 0, eval_every: 1 } }\n',
  );
  const exp = await loadExperiment({ root, presets: DEFAULT_PRESETS }, join(root, 'exp.yaml'));
  const log = () => {};
  await buildTargetRule.run(exp.targets[0], { root, log });
  await sampleRule.run(exp.runs[0], { root, log });
  const analysis = JSON.parse(readFileSync(join(root, 'artifacts', 'runs', exp.runs[0].id, 'analysis.json'), 'utf8'));
  expect(analysis.llc.ess_bulk).toBeNull();
  expect(analysis.llc.mcse).toBeNull();
  const spec = { ...experimentRuns(exp), file: 'exp.yaml' };
  await aggregateRule.run(spec, { root, log });
  const dir = join(root, 'artifacts', 'experiments', exp.name);
  const [row] = (await parquetReadObjects({ file: new Uint8Array(readFileSync(join(dir, 'llc_runs.parquet'))).buffer })) as Record<string, unknown>[];
  expect(row.llc_mcse).toBeNull();
  expect(row.ess_bulk).toBeNull();
  expect(row.llc_mean).toBe(analysis.llc.mean);
  const arrow = tableFromIPC(readFileSync(join(dir, 'llc_runs.arrow')));
  expect(arrow.getChild('llc_mcse')!.get(0)).toBeNull();
  expect(arrow.getChild('run_id')!.get(0)).toBe(exp.runs[0].id);
  expect(aggregateRule.verify(spec, root)).toBeNull();
});

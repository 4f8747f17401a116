/**
 * The cross-sampler agreement check (packages/llc/src/agreement.ts) on constructed runs: which run
 * is a target's reference, when a difference is beyond Monte Carlo error and beyond the relative
 * floor, what the reason says, and how it amends a status. Then through the aggregate: a pair of
 * real runs whose λ̂ disagree gets `check` and the reason in llc_runs.
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, describe, expect, it } from 'vitest';
import { AGREEMENT, disagreements, RunEstimate, withDisagreement } from '../packages/llc/src/agreement';
import { aggregateRule } from '../rules/aggregate';
import { experimentRuns } from '../rules/llc-runs';
import { buildTargetRule } from '../rules/build-target';
import { DEFAULT_PRESETS, loadExperiment } from '../rules/experiment';
import { sampleRule } from '../rules/sample';
import { REPO } from './support/workspace';

const run = (id: string, sampler: string, mean: number | null, mcse: number | null, target = 'tgt_a', state: RunEstimate['state'] = 'ok'): RunEstimate => ({ id, target, sampler, mean, mcse, state });

describe('disagreements', () => {
  it('takes HMC as the reference and flags a VI run far from it, and only that run', () => {
    const reasons = disagreements([run('vi_1', 'vi', 8.9, 0.05), run('hmc_1', 'hmc', 1.52, 0.03), run('sgld_1', 'sgld', 1.6, 0.06)]);
    expect([...reasons.keys()]).toEqual(['vi_1']);
    expect(reasons.get('vi_1')).toBe('λ̂ disagrees with hmc run hmc_1 (λ̂ 1.520) by +7.38 (+486%), beyond 3 combined MCSEs and 10%');
  });

  it('needs both: beyond 3 combined MCSEs and beyond 10% of the reference', () => {
    // 20% off, but the MCSEs are wide: 0.3 < 3·√(0.1² + 0.1²) ≈ 0.42.
    expect(disagreements([run('hmc_1', 'hmc', 1.5, 0.1), run('sgld_1', 'sgld', 1.8, 0.1)]).size).toBe(0);
    // Many MCSEs off, but within 10%: a bias practitioners accept.
    expect(disagreements([run('hmc_1', 'hmc', 1.5, 0.001), run('sgld_1', 'sgld', 1.6, 0.001)]).size).toBe(0);
    // Beyond both.
    expect([...disagreements([run('hmc_1', 'hmc', 1.5, 0.01), run('sgld_1', 'sgld', 1.7, 0.01)]).keys()]).toEqual(['sgld_1']);
    // A missing MCSE counts as zero: only the floor is left.
    expect([...disagreements([run('hmc_1', 'hmc', 1.5, null), run('vi_1', 'vi', 1.2, null)]).keys()]).toEqual(['vi_1']);
    expect(AGREEMENT).toEqual({ z: 3, relative: 0.1 });
  });

  it('without HMC the next trusted sampler is the reference; among equals, the smallest MCSE', () => {
    expect([...disagreements([run('vi_1', 'vi', 4, 0.01), run('mclmc_1', 'mclmc', 1.5, 0.05), run('sgld_1', 'sgld', 1.55, 0.05)]).keys()]).toEqual(['vi_1']);
    const r = disagreements([run('hmc_wide', 'hmc', 2.0, 0.1), run('hmc_tight', 'hmc', 1.5, 0.01)]);
    expect([...r.keys()]).toEqual(['hmc_wide']);
    expect(r.get('hmc_wide')).toContain('hmc run hmc_tight');
  });

  it('compares runs of the same target only, and leaves out diverged runs and runs without a λ̂', () => {
    const reasons = disagreements([
      run('hmc_a', 'hmc', 1.5, 0.01, 'tgt_a'),
      run('vi_b', 'vi', 9, 0.01, 'tgt_b'),
      run('hmc_c', 'hmc', 100, 0.01, 'tgt_c', 'diverged'),
      run('sgld_c', 'sgld', 1.5, 0.01, 'tgt_c'),
      run('vi_c', 'vi', null, null, 'tgt_c'),
    ]);
    expect(reasons.size).toBe(0);
  });

  it('turns ok into check with the reason; diverged stays diverged', () => {
    expect(withDisagreement({ state: 'ok', reasons: [] }, 'far')).toEqual({ state: 'check', reasons: ['far'] });
    // The disagreement leads: the run table shows the first reason only.
    expect(withDisagreement({ state: 'check', reasons: ['R̂'] }, 'far')).toEqual({ state: 'check', reasons: ['far', 'R̂'] });
    expect(withDisagreement({ state: 'diverged', reasons: ['nan'] }, 'far')).toEqual({ state: 'diverged', reasons: ['nan', 'far'] });
    expect(withDisagreement({ state: 'ok', reasons: [] }, undefined)).toEqual({ state: 'ok', reasons: [] });
  });
});

describe('the aggregate', () => {
  const root = mkdtempSync(join(tmpdir(), 'lh-disagree-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('marks a run whose λ̂ disagrees with the HMC run of its target as check in llc_runs', async () => {
    symlinkSync(join(REPO, 'config'), join(root, 'config'));
    writeFileSync(
      join(root, 'exp.yaml'),
      'experiment: pair\ntargets:\n  - { model: small, data: small, seed: 1, overrides: { training: { steps: 300 } } }\nsamplers:\n  - { name: hmc, overrides: { draws: 200, warmup: 100 } }\n  - { name: sgld, overrides: { steps: 400, warmup: 100, eval_every: 4, batch_size: 32 } }\n',
    );
    const exp = await loadExperiment({ root, presets: DEFAULT_PRESETS }, join(root, 'exp.yaml'));
    const ctx = { root, log: () => {} };
    await buildTargetRule.run(exp.targets[0], ctx);
    for (const r of exp.runs) await sampleRule.run(r, ctx);
    // Construct the disagreement: the SGLD run's λ̂ moved to twice the HMC run's, its own diagnostics untouched.
    const [hmc, sgld] = exp.runs;
    const file = join(root, 'artifacts', 'runs', sgld.id, 'analysis.json');
    const analysis = JSON.parse(readFileSync(file, 'utf8'));
    const hmcMean = JSON.parse(readFileSync(join(root, 'artifacts', 'runs', hmc.id, 'analysis.json'), 'utf8')).llc.mean;
    writeFileSync(file, JSON.stringify({ ...analysis, llc: { ...analysis.llc, mean: 2 * hmcMean } }));
    await aggregateRule.run({ ...experimentRuns(exp), file: 'pair.yaml' }, ctx);
    const rows = (await parquetReadObjects({ file: new Uint8Array(readFileSync(join(root, 'artifacts', 'experiments', 'pair', 'llc_runs.parquet'))).buffer })) as Record<string, unknown>[];
    const row = (id: string) => rows.find((r) => r.run_id === id)!;
    expect(row(sgld.id).status).toBe('check');
    expect(row(sgld.id).status_reason).toContain(`λ̂ disagrees with hmc run ${hmc.id}`);
    // The reference is judged by its own diagnostics only.
    expect(row(hmc.id).status_reason).not.toContain('disagrees');
  }, 120_000);
});

/** Bad input and failing tasks under the real `nx` CLI and the worker CLI. */
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_PRESETS, loadExperiment } from '../rules/experiment';
import { ScratchWorkspace } from './support/workspace';

const STACK_LINE = /^\s+at \S+ \(|^\s+at \//m;

describe('a broken experiment file', () => {
  const ws = new ScratchWorkspace(`experiment: broken
targets:
  - { model: small, data: small, seed: 1, overrides: { training: { stepz: 10 } } }
samplers:
  - { name: sgld }
`);
  afterAll(() => ws.dispose());

  it('fails run-many with the problem, no stack trace, and writes nothing', () => {
    const r = ws.nx('run-many', '-t', 'sample');
    expect(r.status).not.toBe(0);
    expect(r.output).toContain(
      'config/experiments.yaml:3:68: targets[0].overrides.training.stepz: unknown key "stepz" in a target config; did you mean "steps"?',
    );
    expect(r.output).not.toMatch(STACK_LINE);
    expect(r.ran).toEqual(['broken:sample']);
    expect(ws.exists('artifacts')).toBe(false);
  });

  it('still lets Nx list projects', () => {
    const r = ws.nx('show', 'projects');
    expect(r.status).toBe(0);
    expect(r.output.trim()).toBe('broken');
  });

  it('is rejected by `lambda-hat validate` with status 2 and no stack trace', () => {
    const p = spawnSync(process.execPath, ['bin/lambda-hat.js', 'validate', 'config/experiments.yaml'], { cwd: ws.root, encoding: 'utf8' });
    expect(p.status).toBe(2);
    expect(p.stderr).toContain('targets[0].overrides.training.stepz: unknown key "stepz"');
    expect(p.stderr).not.toMatch(STACK_LINE);
  });
});

describe('a failing task', () => {
  const ws = new ScratchWorkspace(`experiment: mixed
targets:
  - { model: small, data: small, seed: 1, overrides: { training: { steps: 300 } } }
  - { model: small, data: small, seed: 2, overrides: { training: { optimizer: sgd, learning_rate: 1000.0 } } }
samplers:
  - { name: sgld, overrides: { steps: 100, warmup: 10, eval_every: 10, batch_size: 16 } }
`);
  afterAll(() => ws.dispose());

  it('reports its stderr tail, fails the command, and the independent tasks still complete', async () => {
    const exp = await loadExperiment({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/experiments.yaml'));
    const [healthy, diverging] = exp.targets;
    const healthyRun = exp.runs.find((r) => r.target === healthy.id)!;
    const r = ws.nx('run-many', '-t', 'sample', '--parallel=1');
    expect(r.status).not.toBe(0);
    expect(r.output).toContain(`[${diverging.id}] FAILED on local (config/cards/local.yaml): the task failed with exit status 2 (a problem with its inputs or settings: not retried)`);
    expect(r.output).toMatch(/last lines of its stderr:\n(  .*\n)*  training diverged: the loss is \S+ after \d+ steps/);
    expect(r.output).toContain(`rerun by hand: node bin/lambda-hat.js run build-target`);
    expect(r.output).not.toMatch(STACK_LINE);
    expect(r.ran).toEqual(expect.arrayContaining([`${healthy.id}:build-target`, `${healthyRun.id}:sample`, `${diverging.id}:build-target`]));
    expect(ws.exists(`artifacts/runs/${healthyRun.id}/analysis.json`)).toBe(true);
    expect(ws.exists(`artifacts/targets/${diverging.id}`)).toBe(false);
    expect(ws.exists('artifacts/experiments/mixed')).toBe(false);
  });
});

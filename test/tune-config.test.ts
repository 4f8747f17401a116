/**
 * Tuning files: resolved like experiment files, validated as strictly, with every problem named by
 * file, line, YAML path and what is allowed; `--set` edits apply before validation and are named
 * in errors; the study id follows what trials mean and nothing else.
 */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadExperiment } from '../rules/experiment';
import { loadTuneConfig, TuneConfig } from '../rules/tune/config';

const repo = join(__dirname, '..');
const root = mkdtempSync(join(tmpdir(), 'lh-tune-config-'));
symlinkSync(join(repo, 'config'), join(root, 'config'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const ws = { root, presets: 'config' };

const VALID = `tune: t
problems:
  - { model: small, data: small, seed: 1 }
methods:
  - { name: sgld, overrides: { steps: 2000 } }
  - vi
search_space:
  sgld:
    step_size: { type: float, low: 1.0e-6, high: 1.0e-2, log: true }
    batch_size: { type: categorical, choices: [16, 32] }
  vi:
    lr: { type: float, low: 1.0e-4, high: 1.0e-1, log: true }
max_trials_per_method: 8
`;

async function load(yaml: string, sets: string[] = []): Promise<TuneConfig> {
  const file = join(root, 'tune.yaml');
  writeFileSync(file, yaml);
  return loadTuneConfig(ws, file, sets);
}

async function problems(yaml: string, sets: string[] = []): Promise<string[]> {
  try {
    await load(yaml, sets);
  } catch (e) {
    if (e instanceof ConfigError) return e.message.split('\n');
    throw e;
  }
  throw new Error('the tuning file was accepted');
}

describe('tuning files', () => {
  it('resolves problems, methods, spaces, the reference and defaults', async () => {
    const c = await load(VALID);
    expect(c.name).toBe('t');
    expect(c.problems).toHaveLength(1);
    expect(c.problems[0].id).toMatch(/^tgt_[0-9a-f]{12}$/);
    expect(c.methods.map((m) => m.sampler)).toEqual(['sgld', 'vi']);
    const sgld = c.methods[0];
    expect(sgld.overrides).toEqual({ steps: 2000 });
    expect(sgld.options).toMatchObject({ steps: 2000, step_size: 1e-6, precond: 'none' });
    expect(sgld.space.step_size).toEqual({ type: 'float', low: 1e-6, high: 1e-2, log: true });
    expect(sgld.seed).toBe(12345);
    expect(c.references).toHaveLength(1);
    expect(c.references[0]).toMatchObject({ target: c.problems[0].id, sampler: 'hmc' });
    expect(c.references[0].id).toMatch(/^hmc_/);
    expect(c).toMatchObject({ objective: { type: 'abs' }, batch_size: 4, sampler: { type: 'tpe' }, pruner: { type: 'median' }, budget: { hmc_sec: 7200, trial_sec: 600 } });
  });

  it('gives the reference the id an experiment run with the same HMC settings has', async () => {
    const c = await load(`${VALID}reference: { seed: 7, overrides: { draws: 500 } }\n`);
    const expFile = join(root, 'exp.yaml');
    writeFileSync(expFile, `experiment: e\ntargets:\n  - { model: small, data: small, seed: 1 }\nsamplers:\n  - { name: hmc, seed: 7, overrides: { draws: 500 } }\n`);
    const exp = await loadExperiment(ws, expFile);
    expect(c.references[0].id).toBe(exp.runs[0].id);
    expect(c.references[0].options).toEqual(exp.runs[0].options);
  });

  it('applies --set edits before validation', async () => {
    const c = await load(VALID, ['max_trials_per_method=3', 'search_space.sgld.step_size.high=0.001', 'budget.trial_sec=5', 'objective={type: huber, delta: 0.2}']);
    expect(c.max_trials_per_method).toBe(3);
    expect(c.methods[0].space.step_size).toMatchObject({ high: 0.001 });
    expect(c.budget.trial_sec).toBe(5);
    expect(c.objective).toEqual({ type: 'huber', delta: 0.2 });
  });

  it('keeps the study id when only the trial count, concurrency or reference budget change', async () => {
    const base = (await load(VALID)).study;
    expect((await load(VALID, ['max_trials_per_method=50', 'batch_size=9', 'budget.hmc_sec=10'])).study).toBe(base);
    expect((await load(`# a comment\n${VALID}`)).study).toBe(base);
    expect((await load(VALID, ['search_space.sgld.step_size.high=0.001'])).study).not.toBe(base);
    expect((await load(VALID, ['objective={type: huber}'])).study).not.toBe(base);
    expect((await load(VALID, ['budget.trial_sec=5'])).study).not.toBe(base);
    expect((await load(VALID, ['sampler={type: random, seed: 3}'])).study).not.toBe(base);
  });

  it('rejects an unknown option in a search space, with a suggestion', async () => {
    const p = await problems(VALID.replace('    batch_size: {', '    batchsize: {'));
    expect(p).toEqual([expect.stringMatching(/tune\.yaml:10:5: search_space\.sgld\.batchsize: unknown sgld option "batchsize"; did you mean "batch_size"\? \(options: .*step_size/)]);
  });

  it('rejects values the sampler cannot take at the ends of a range or among the choices', async () => {
    const p = await problems(VALID.replace('low: 1.0e-6, high: 1.0e-2, log: true', 'low: -1, high: 1.0e-2').replace('choices: [16, 32]', 'choices: [16, 0.5]'));
    expect(p).toHaveLength(2);
    expect(p[0]).toMatch(/tune\.yaml:9:\d+: search_space\.sgld\.step_size\.low: -1 is not a valid sgld step_size: /);
    expect(p[1]).toMatch(/tune\.yaml:10:\d+: search_space\.sgld\.batch_size\.choices\[1\]: 0\.5 is not a valid sgld batch_size: /);
  });

  it('rejects malformed distributions', async () => {
    const p = await problems(VALID.replace('low: 1.0e-6, high: 1.0e-2, log: true', 'low: 1.0e-2, high: 1.0e-6, log: true').replace('{ type: categorical, choices: [16, 32] }', '{ type: categoric, choices: [16, 32] }'));
    expect(p.join('\n')).toMatch(/search_space\.sgld\.step_size\.high: must be greater than low/);
    expect(p.join('\n')).toMatch(/search_space\.sgld\.batch_size\.type: expected one of float, int, categorical, got the string "categoric"; did you mean "categorical"\?/);
  });

  it('rejects a method without a search space, a space without a method, and duplicates', async () => {
    const p = await problems(VALID.replace('  - vi\n', '  - vi\n  - mclmc\n  - sgld\n').replace('  vi:\n', '  hmc:\n    step_size: { type: float, low: 0.001, high: 0.1 }\n  vi:\n'));
    const text = p.join('\n');
    expect(text).toMatch(/search_space: missing search space for method "mclmc" \(methods\[2\]\): add search_space\.mclmc/);
    expect(text).toMatch(/search_space\.hmc: search space for "hmc", which is not in methods/);
    expect(text).toMatch(/methods\[3\]: duplicate method: sgld is already methods\[0\]/);
  });

  it('rejects a parameter both fixed and searched, and a bad problem, together', async () => {
    const p = await problems(VALID.replace('overrides: { steps: 2000 }', 'overrides: { steps: 2000, step_size: 0.001 }').replace('{ model: small, data: small, seed: 1 }', '{ model: smal, data: small, seed: 1 }'));
    expect(p).toHaveLength(2);
    expect(p[0]).toMatch(/tune\.yaml:3:\d+: problems\[0\]\.model: unknown model preset "smal"; did you mean "small"\?/);
    expect(p[1]).toMatch(/tune\.yaml:9:\d+: search_space\.sgld\.step_size: step_size is also fixed in methods\[0\]\.overrides; remove it from one of them/);
  });

  it('rejects unknown top-level keys, a bad pruner, sampler and budget, each where it is written', async () => {
    const p = await problems(VALID + 'batchsize: 3\npruner: { type: median, n_warmup_steps: -1 }\nsampler: { type: tpe }\nbudget: { hmc_sec: 0 }\n');
    expect(p).toEqual([
      expect.stringMatching(/tune\.yaml:14:1: batchsize: unknown key "batchsize" in a tuning file; did you mean "batch_size"\?/),
      expect.stringMatching(/tune\.yaml:15:\d+: pruner\.n_warmup_steps: must be >= 0, got the integer -1/),
      expect.stringMatching(/tune\.yaml:16:\d+: sampler: missing required key "seed"/),
      expect.stringMatching(/tune\.yaml:17:\d+: budget\.hmc_sec: must be > 0, got the integer 0/),
    ]);
  });

  it('names a bad --set in its error', async () => {
    const p = await problems(VALID, ['max_trials_per_method=zero']);
    expect(p).toEqual(['--set max_trials_per_method=zero: max_trials_per_method: expected an integer, got the string "zero"']);
    await expect(load(VALID, ['max_trials_per_method'])).rejects.toThrow(/--set max_trials_per_method: expected key=value/);
  });
});

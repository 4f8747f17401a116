/**
 * `sweep:` and `label:` in experiment files: a swept entry stands for the product of its values,
 * each element the entry as if written by hand (same resolution, same content id), labelled with
 * its swept values; every mistake is named by file, line, column and YAML path, a bad swept value
 * at its place inside `sweep:`.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Experiment, loadExperiment } from '../rules/experiment';
import { loadTuneConfig } from '../rules/tune/config';
import { experimentFile, experimentProblems, SAMPLER, TARGET } from './support/experiment-files';

const repo = join(__dirname, '..');
const root = mkdtempSync(join(tmpdir(), 'lh-sweep-'));
symlinkSync(join(repo, 'config'), join(root, 'config'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const ws = { root, presets: 'config' };

let files = 0;
function load(yaml: string): Promise<Experiment> {
  const file = join(root, `exp${files++}.yaml`);
  writeFileSync(file, yaml);
  return loadExperiment(ws, file);
}

/** The problems reported for `yaml`, written as exp.yaml. */
const problems = (yaml: string) => experimentProblems(ws, yaml);
const file = experimentFile;

describe('expanding a sweep', () => {
  it('is the product of the swept values, the first key varying slowest', async () => {
    const exp = await load(file([TARGET], ['{ name: sgld, sweep: { seed: [1, 2, 3], overrides.step_size: [1.0e-5, 1.0e-4], posterior.gamma: [100, 1000] } }']));
    expect(exp.runs.map((r) => [r.seed, r.options.step_size, (r.posterior as { gamma: number }).gamma])).toEqual([
      [1, 1e-5, 100],
      [1, 1e-5, 1000],
      [1, 1e-4, 100],
      [1, 1e-4, 1000],
      [2, 1e-5, 100],
      [2, 1e-5, 1000],
      [2, 1e-4, 100],
      [2, 1e-4, 1000],
      [3, 1e-5, 100],
      [3, 1e-5, 1000],
      [3, 1e-4, 100],
      [3, 1e-4, 1000],
    ]);
  });

  it('sets each value at its path, merged with what the entry writes there', async () => {
    const exp = await load(
      file(
        ['{ model: small, data: small, overrides: { training: { steps: 300 } }, sweep: { seed: [5], overrides.model.widths: [[4, 4], [8, 8]] } }'],
        ['{ name: sgld, overrides: { steps: 100, precond: rmsprop }, sweep: { overrides.step_size: [0.001] } }'],
      ),
    );
    expect(exp.targets.map((t) => [t.build.seed, t.build.model.widths, t.build.training.steps])).toEqual([
      [5, [4, 4], 300],
      [5, [8, 8], 300],
    ]);
    expect(exp.runs).toHaveLength(2);
    for (const r of exp.runs) expect(r.options).toMatchObject({ steps: 100, precond: 'rmsprop', step_size: 0.001, batch_size: 256 });
  });

  it('gives every expanded entry the id of the same entry written by hand', async () => {
    const swept = await load(
      file(
        ['{ model: small, data: small, teacher: base, sweep: { seed: { from: 1, to: 2 }, overrides.data.noise_scale: [0.1, 0.2] } }'],
        ['{ name: sgld, overrides: { steps: 100 }, sweep: { seed: [7, 8], overrides.step_size: [1.0e-5, 1.0e-4] } }', '{ name: hmc }'],
      ),
    );
    const byHand = await load(
      file(
        [
          '{ model: small, data: small, teacher: base, seed: 1, overrides: { data: { noise_scale: 0.1 } } }',
          '{ model: small, data: small, teacher: base, seed: 1, overrides: { data: { noise_scale: 0.2 } } }',
          '{ model: small, data: small, teacher: base, seed: 2, overrides: { data: { noise_scale: 0.1 } } }',
          '{ model: small, data: small, teacher: base, seed: 2, overrides: { data: { noise_scale: 0.2 } } }',
        ],
        [
          '{ name: sgld, seed: 7, overrides: { steps: 100, step_size: 1.0e-5 } }',
          '{ name: sgld, seed: 7, overrides: { steps: 100, step_size: 1.0e-4 } }',
          '{ name: sgld, seed: 8, overrides: { steps: 100, step_size: 1.0e-5 } }',
          '{ name: sgld, seed: 8, overrides: { steps: 100, step_size: 1.0e-4 } }',
          '{ name: hmc }',
        ],
      ),
    );
    expect(swept.targets).toHaveLength(4);
    expect(swept.runs).toHaveLength(20);
    expect(swept.targets).toEqual(byHand.targets);
    expect(swept.runs).toEqual(byHand.runs);
  });

  it('labels every target and run by id, with its swept values', async () => {
    const exp = await load(
      file(
        ['{ model: small, data: small, seed: 1 }', '{ model: small, data: small, label: wide, sweep: { seed: [2], overrides.model: [{ widths: [8, 8], activation: tanh }] } }'],
        ['{ name: sgld, sweep: { seed: [3], overrides.step_size: [1.0e-4], overrides.precond: [adam] } }', '{ name: hmc, label: "the reference" }', '{ name: vi }'],
      ),
    );
    const [plain, wide] = exp.targets;
    const runLabels = ['sgld seed=3 overrides.step_size=0.0001 overrides.precond=adam', 'the reference', 'vi'];
    expect(exp.labels).toEqual({
      [plain.id]: 'small/small',
      [wide.id]: 'wide seed=2 overrides.model={widths:[8,8],activation:tanh}',
      ...Object.fromEntries(exp.runs.map((r, i) => [r.id, runLabels[i % 3]])),
    });
    expect(Object.keys(exp.labels)).toHaveLength(2 + 6);
  });

  it('writes a swept string bare when YAML reads it back as itself, quoted otherwise', async () => {
    // A data preset named "true": written bare, the name would read back as a boolean.
    cpSync(join(repo, 'config'), join(root, 'presets-true'), { recursive: true });
    writeFileSync(join(root, 'presets-true', 'data', 'true.yaml'), readFileSync(join(repo, 'config', 'data', 'small.yaml'), 'utf8').replace('n_data: 100', 'n_data: 50'));
    const yaml = join(root, 'quoted.yaml');
    writeFileSync(yaml, file(['{ model: small, seed: 1, label: t, sweep: { data: [small, "true"], teacher: [_null] } }'], ['{ name: sgld, sweep: { overrides.dtype: ["float64"] } }']));
    const exp = await loadExperiment({ root, presets: 'presets-true' }, yaml);
    expect(exp.targets.map((t) => [t.build.data.n_data, exp.labels[t.id]])).toEqual([
      [100, 't data=small teacher=_null'],
      [50, 't data="true" teacher=_null'],
    ]);
    expect(exp.labels[exp.runs[0].id]).toBe('sgld overrides.dtype=float64');
  });

  it('keeps labels out of the specs: a label changes no id', async () => {
    const a = await load(file([TARGET], [SAMPLER]));
    const b = await load(file(['{ model: small, data: small, seed: 1, label: first }'], ['{ name: sgld, label: mine }']));
    expect(b.targets).toEqual(a.targets);
    expect(b.runs).toEqual(a.runs);
    expect(Object.values(b.labels)).toEqual(['first', 'mine']);
    expect(JSON.stringify([b.targets, b.runs])).not.toMatch(/first|mine|label/);
  });

  it('takes integer ranges, inclusive, with a step', async () => {
    const seeds = async (range: string) => (await load(file([`{ model: small, data: small, sweep: { seed: ${range} } }`]))).targets.map((t) => t.build.seed);
    expect(await seeds('{ from: 1, to: 10, step: 4 }')).toEqual([1, 5, 9]);
    expect(await seeds('{ from: 3, to: 5 }')).toEqual([3, 4, 5]);
    expect(await seeds('{ from: 7, to: 7 }')).toEqual([7]);
    expect(await seeds('{ from: 0, to: 6, step: 3 }')).toEqual([0, 3, 6]);
  });

  it('lists every expanded run in `lambda-hat validate` beside its label', async () => {
    const { main } = await import('../rules/cli');
    const file = join(root, 'cli.yaml');
    writeFileSync(file, 'experiment: c\ntargets:\n  - { model: small, data: small, seed: 1 }\nsamplers:\n  - { name: sgld, sweep: { seed: [1, 2] } }\n');
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => void lines.push(line);
    try {
      expect(await main(['validate', file])).toBe(0);
    } finally {
      console.log = log;
    }
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/: experiment "c", 1 targets × 2 samplers = 2 runs$/);
    expect(lines[1]).toMatch(/^ {2}tgt_[0-9a-f]{12} {2}small\/small {2}d-widths \[4,4\] {2}n = 100 {2}seed 1$/);
    expect(lines[2]).toMatch(/^ {2}sgld_[0-9a-f]{12} {2}sgld seed=1 {2}on tgt_[0-9a-f]{12}$/);
    expect(lines[3]).toMatch(/^ {2}sgld_[0-9a-f]{12} {2}sgld seed=2 {2}on tgt_[0-9a-f]{12}$/);
  });
});

describe('mistakes in a sweep', () => {
  it('a sweep that is not a mapping', async () => {
    expect(await problems(file([TARGET], ['{ name: sgld, sweep: [seed, 1] }']))).toEqual([
      'exp.yaml:5:19: samplers[0].sweep: expected a mapping from paths in the entry to the values they take, got a list',
    ]);
  });

  it('an empty sweep', async () => {
    expect(await problems(file([TARGET], ['{ name: sgld, sweep: {} }']))).toEqual([
      'exp.yaml:5:19: samplers[0].sweep: an empty sweep: name at least one path to sweep, or remove sweep',
    ]);
  });

  it('a swept key that is not a key of the entry, with a suggestion', async () => {
    expect(await problems(file([TARGET], ['{ name: sgld, sweep: { sed: [1, 2] } }']))).toEqual([
      'exp.yaml:5:28: samplers[0].sweep.sed: unknown key "sed" in a sampler entry; did you mean "seed"? (can be swept: overrides, posterior, seed)',
    ]);
    expect(await problems(file(['{ model: small, data: small, seed: 1, sweep: { overides.model.widths: [[4, 4]] } }']))).toEqual([
      'exp.yaml:3:52: targets[0].sweep.overides.model.widths: unknown key "overides" in a target entry; did you mean "overrides"? (can be swept: data, model, overrides, seed, teacher, training)',
    ]);
  });

  it('name, label or sweep swept', async () => {
    expect(await problems(file([TARGET], ['{ name: sgld, sweep: { name: [sgld, hmc], label: [a, b], sweep.seed: [1] } }']))).toEqual([
      'exp.yaml:5:28: samplers[0].sweep.name: name cannot be swept: write one entry per sampler',
      'exp.yaml:5:47: samplers[0].sweep.label: label cannot be swept: every expanded entry\'s label already names its swept values',
      'exp.yaml:5:62: samplers[0].sweep.sweep.seed: sweep cannot be swept: every expanded entry\'s label already names its swept values',
    ]);
  });

  it('a path into a single value, or not a path at all', async () => {
    expect(await problems(file(['{ model: small, data: small, sweep: { seed.x: [1], overrides..steps: [1] } }']))).toEqual([
      'exp.yaml:3:43: targets[0].sweep.seed.x: seed holds a single value, not a mapping: sweep "seed" itself',
      'exp.yaml:3:56: targets[0].sweep.overrides..steps: "overrides..steps" is not a path: write keys joined by dots, e.g. overrides.step_size',
    ]);
  });

  it('an empty list, or neither a list nor a range', async () => {
    expect(await problems(file([TARGET], ['{ name: sgld, sweep: { seed: [], overrides.steps: 100 } }']))).toEqual([
      'exp.yaml:5:28: samplers[0].sweep.seed: an empty list: give at least one value',
      'exp.yaml:5:38: samplers[0].sweep.overrides.steps: expected a non-empty list of values or a range { from, to, step }, got the integer 100',
    ]);
  });

  it('bad ranges', async () => {
    expect(
      await problems(
        `experiment: t
targets:
  - model: small
    data: small
    sweep:
      seed: { from: 5, to: 3 }
  - model: small
    data: small
    sweep:
      seed: { from: 1, to: 3, step: 0 }
  - model: small
    data: small
    sweep:
      seed: { from: 1, upto: 3 }
  - model: small
    data: small
    sweep:
      seed: { from: 1.5, to: 3 }
samplers:
  - { name: sgld }
`,
      ),
    ).toEqual([
      'exp.yaml:6:7: targets[0].sweep.seed: the range is empty: from (5) is greater than to (3)',
      'exp.yaml:10:31: targets[1].sweep.seed.step: must be >= 1, got the integer 0',
      'exp.yaml:14:7: targets[2].sweep.seed: missing required key "to" in a sweep range',
      'exp.yaml:14:24: targets[2].sweep.seed.upto: unknown key "upto" in a sweep range (allowed: from, step, to)',
      'exp.yaml:18:15: targets[3].sweep.seed.from: expected an integer, got the number 1.5',
    ]);
  });

  it('a path both written in the entry and swept', async () => {
    expect(
      await problems(
        `experiment: t
targets:
  - model: small
    data: small
    seed: 1
    overrides: { model: { widths: [4, 4] } }
    sweep: { seed: [1, 2], overrides.model: [{ activation: tanh }], overrides.training.steps: [10] }
samplers:
  - name: sgld
    overrides: { step_size: 1.0e-4, steps: 100 }
    sweep: { overrides.step_size: [1.0e-5] }
  - name: sgld
    overrides: [1, 2]
    sweep: { overrides.step_size: [1.0e-5] }
`,
      ),
    ).toEqual([
      'exp.yaml:7:14: targets[0].sweep.seed: seed is both swept and written in the entry, at targets[0].seed (line 5): keep one of them',
      'exp.yaml:7:28: targets[0].sweep.overrides.model: overrides.model is both swept and written in the entry, at targets[0].overrides.model (line 6): keep one of them',
      'exp.yaml:11:14: samplers[0].sweep.overrides.step_size: overrides.step_size is both swept and written in the entry, at samplers[0].overrides.step_size (line 10): keep one of them',
      'exp.yaml:14:14: samplers[1].sweep.overrides.step_size: overrides.step_size is both swept and written in the entry, at samplers[1].overrides (line 13): keep one of them',
    ]);
  });

  it('two swept paths, one inside the other', async () => {
    expect(await problems(file([TARGET], ['{ name: sgld, sweep: { overrides: [{ steps: 10 }], overrides.steps: [20] } }']))).toEqual([
      'exp.yaml:5:56: samplers[0].sweep.overrides.steps: overrides.steps overlaps overrides, which is also swept: sweep one of them',
    ]);
  });

  it('a product of more than 100000 entries', async () => {
    expect(await problems(file([TARGET], ['{ name: sgld, sweep: { seed: { from: 1, to: 1000 }, overrides.steps: { from: 100, to: 10000, step: 100 }, posterior.gamma: [1, 2] } }']))).toEqual([
      'exp.yaml:5:19: samplers[0].sweep: the sweep expands to 200000 entries, more than the 100000 allowed: split it into several entries or sweep fewer values',
    ]);
  });

  it('a swept value the resolver rejects, at its place in the sweep, once', async () => {
    expect(
      await problems(
        `experiment: t
targets:
  - model: small
    data: small
    sweep:
      seed: { from: -1, to: 1 }
      overrides.model.widths: [[4, 4], [3]]
samplers:
  - name: sgld
    sweep:
      seed: [1, 2, 3]
      overrides.step_size:
        - 1.0e-4
        - -1.0e-4
      posterior: [{ gamma: 10 }, { gama: 10 }]
`,
      ),
    ).toEqual([
      'exp.yaml:6:7: targets[0].sweep.seed: must be >= 0, got the integer -1',
      'exp.yaml:7:40: targets[0].sweep.overrides.model.widths[1]: has 1 entries but depth is 2',
      'exp.yaml:14:11: samplers[0].sweep.overrides.step_size[1]: must be > 0, got the number -0.0001',
      'exp.yaml:15:36: samplers[0].sweep.posterior[1].gama: unknown key "gama" in the posterior config; did you mean "gamma"? (allowed: beta0, beta_mode, gamma, prior_radius)',
    ]);
  });

  it('expanded entries that resolve alike are duplicates, named by their sweep elements', async () => {
    expect(
      await problems(
        file(
          ['{ model: small, data: small, seed: 2 }', '{ model: small, data: small, sweep: { seed: [1, 2] } }'],
          ['{ name: sgld, sweep: { seed: [1, 2], overrides.step_size: [1.0e-4, 0.0001] } }', '{ name: sgld, seed: 2, overrides: { step_size: 1.0e-4 } }'],
        ),
      ),
    ).toEqual([
      expect.stringMatching(/^exp\.yaml:4:5: targets\[1\]: duplicate target: sweep element "seed=2" resolves to the same config as targets\[0\] \(tgt_[0-9a-f]{12}\)$/),
      'exp.yaml:6:5: samplers[0]: duplicate sampler: sweep element "seed=1 overrides.step_size=0.0001" resolves to the same settings as samplers[0], sweep element "seed=1 overrides.step_size=0.0001"',
      'exp.yaml:6:5: samplers[0]: duplicate sampler: sweep element "seed=2 overrides.step_size=0.0001" resolves to the same settings as samplers[0], sweep element "seed=2 overrides.step_size=0.0001"',
      'exp.yaml:7:5: samplers[1]: duplicate sampler: resolves to the same settings as samplers[0], sweep element "seed=2 overrides.step_size=0.0001"',
    ]);
  });

  it('a label that is not a non-empty string, and a misspelt key of the entry', async () => {
    expect(await problems(file(['{ model: small, data: small, seed: 1, label: "" }'], ['{ name: sgld, label: [a], lable: b }']))).toEqual([
      'exp.yaml:3:43: targets[0].label: expected a non-empty string, got the string ""',
      'exp.yaml:5:19: samplers[0].label: expected a non-empty string, got a list',
      'exp.yaml:5:31: samplers[0].lable: unknown key "lable" in a sampler entry; did you mean "label"? (allowed: label, name, overrides, posterior, seed, sweep)',
    ]);
  });

  it('every problem of the file at once, sorted by line', async () => {
    expect(
      await problems(
        file(
          ['{ model: smal, data: small, seed: 1 }', '{ model: small, data: small, sweep: { sed: [1] } }'],
          ['{ name: sgld, sweep: { overrides.chains: [0, 2] } }', '{ name: hmc, sweep: { seed: [] } }'],
        ),
      ),
    ).toEqual([
      'exp.yaml:3:7: targets[0].model: unknown model preset "smal"; did you mean "small"? (available: base, linear, small; looked for config/model/smal.yaml)',
      'exp.yaml:4:43: targets[1].sweep.sed: unknown key "sed" in a target entry; did you mean "seed"? (can be swept: data, model, overrides, seed, teacher, training)',
      'exp.yaml:6:47: samplers[0].sweep.overrides.chains[0]: must be >= 1, got the integer 0',
      'exp.yaml:7:27: samplers[1].sweep.seed: an empty list: give at least one value',
    ]);
  });

  it('is not accepted in a tuning file, whose problems are single targets', async () => {
    const tune = join(root, 'tune.yaml');
    writeFileSync(
      tune,
      `tune: t
problems:
  - { model: small, data: small, seed: 1, label: a, sweep: { seed: [1, 2] } }
methods:
  - vi
search_space:
  vi:
    lr: { type: float, low: 1.0e-4, high: 1.0e-1, log: true }
max_trials_per_method: 2
`,
    );
    await expect(loadTuneConfig(ws, tune)).rejects.toThrow(
      [
        'tune.yaml:3:43: problems[0].label: unknown key "label" in a target entry (allowed: data, model, overrides, seed, teacher, training)',
        'tune.yaml:3:53: problems[0].sweep: unknown key "sweep" in a target entry (allowed: data, model, overrides, seed, teacher, training)',
      ].join('\n'),
    );
  });
});

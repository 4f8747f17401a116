/**
 * Malformed experiment files: each must be rejected with every problem named by file, line,
 * column, YAML path and what is allowed.
 */
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadExperiment } from '../rules/experiment';
import { experimentFile, experimentProblems, SAMPLER, TARGET } from './support/experiment-files';

const repo = join(__dirname, '..');
const root = mkdtempSync(join(tmpdir(), 'lh-config-'));
symlinkSync(join(repo, 'config'), join(root, 'config'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const problems = (yaml: string, ws = { root, presets: 'config' }) => experimentProblems(ws, yaml);
const file = experimentFile;

describe('malformed experiment files', () => {
  it('accepts a valid file', async () => {
    const exp = await loadExperiment({ root, presets: 'config' }, (writeFileSync(join(root, 'ok.yaml'), file([TARGET])), join(root, 'ok.yaml')));
    expect(exp.targets).toHaveLength(1);
    expect(exp.runs).toHaveLength(1);
  });

  it('1. unknown key in target overrides, with a suggestion', async () => {
    expect(await problems(file(['{ model: small, data: small, seed: 1, overrides: { training: { stepz: 10 } } }']))).toEqual([
      'exp.yaml:3:68: targets[0].overrides.training.stepz: unknown key "stepz" in a target config; did you mean "steps"? (allowed: early_stop_tol, learning_rate, loss, optimizer, steps, weight_decay)',
    ]);
  });

  it('2. wrong type', async () => {
    expect(await problems(file(['{ model: small, data: small, seed: "abc" }']))).toEqual([
      'exp.yaml:3:34: targets[0].seed: expected an integer, got the string "abc"',
    ]);
  });

  it('3. value out of range', async () => {
    expect(await problems(file(['{ model: small, data: small, seed: 1, overrides: { data: { noise_scale: -0.1 } } }']))).toEqual([
      'exp.yaml:3:64: targets[0].overrides.data.noise_scale: must be >= 0, got the number -0.1',
    ]);
  });

  it('4. missing preset', async () => {
    expect(await problems(file(['{ model: smal, data: small, seed: 1 }']))).toEqual([
      'exp.yaml:3:7: targets[0].model: unknown model preset "smal"; did you mean "small"? (available: base, linear, small; looked for config/model/smal.yaml)',
    ]);
  });

  it('5. unknown sampler', async () => {
    expect(await problems(file([TARGET], ['{ name: sgdl }']))).toEqual([
      'exp.yaml:5:7: samplers[0].name: unknown sampler "sgdl"; did you mean "sgld"? (available: flow, hmc, mclmc, sgld, vi)',
    ]);
  });

  it('6. unknown sampler option', async () => {
    expect(await problems(file([TARGET], ['{ name: sgld, overrides: { step_sise: 1.0e-4 } }']))).toEqual([
      'exp.yaml:5:32: samplers[0].overrides.step_sise: unknown key "step_sise" in sgld options; did you mean "step_size"? (allowed: batch_size, beta1, beta2, bias_correction, chains, dtype, eps, eval_every, mala_every, precond, step_size, steps, warmup)',
    ]);
  });

  it('7. value not among the allowed choices', async () => {
    expect(await problems(file([TARGET], ['{ name: sgld, overrides: { precond: rms } }']))).toEqual([
      'exp.yaml:5:32: samplers[0].overrides.precond: expected one of none, rmsprop, adam, got the string "rms"',
    ]);
  });

  it('8. YAML syntax error', async () => {
    const [line] = await problems('experiment: t\ntargets:\n  - { model: small, data: small, seed: 1\nsamplers: []\n');
    expect(line).toMatch(/^exp\.yaml:4:1: YAML syntax error: /);
  });

  it('9. duplicate target (same resolved config, whatever the spelling)', async () => {
    const lines = await problems(file([TARGET, '{ seed: 1, data: small, model: small, teacher: _null, overrides: { model: { widths: [4, 4] } } }']));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^exp\.yaml:4:5: targets\[1\]: duplicate target: resolves to the same config as targets\[0\] \(tgt_[0-9a-f]{12}\)$/);
  });

  it('10. duplicate sampler entry', async () => {
    expect(await problems(file([TARGET], [SAMPLER, '{ name: sgld, seed: 12345, posterior: { gamma: 1.0 } }']))).toEqual([
      'exp.yaml:6:5: samplers[1]: duplicate sampler: resolves to the same settings as samplers[0]',
    ]);
  });

  it('11. missing required key', async () => {
    expect(await problems(file(['{ model: small, data: small }']))).toEqual(['exp.yaml:3:5: targets[0]: missing required key "seed" in a target entry']);
  });

  it('12. misspelt top-level key', async () => {
    expect(await problems('experiment: t\ntargets:\n  - { model: small, data: small, seed: 1 }\nsampler:\n  - { name: sgld }\n')).toEqual([
      'exp.yaml:1:1: missing required key "samplers" in an experiment file',
      'exp.yaml:4:1: sampler: unknown key "sampler" in an experiment file; did you mean "samplers"? (allowed: description, experiment, samplers, targets)',
    ]);
  });

  it('13. bad posterior setting on a sampler entry', async () => {
    expect(await problems(file([TARGET], ['{ name: sgld, posterior: { beta_mode: log_n } }']))).toEqual([
      'exp.yaml:5:32: samplers[0].posterior.beta_mode: expected one of 1_over_log_n, constant, got the string "log_n"',
    ]);
  });

  it('14. inconsistent values across keys', async () => {
    expect(await problems(file(['{ model: small, data: small, seed: 1, overrides: { model: { widths: [3] } } }']))).toEqual([
      'exp.yaml:3:65: targets[0].overrides.model.widths: has 1 entries but depth is 2',
    ]);
  });

  it('15. duplicate YAML key', async () => {
    const [line] = await problems('experiment: t\nexperiment: u\ntargets: []\nsamplers: []\n');
    expect(line).toMatch(/^exp\.yaml:2:1: YAML syntax error: Map keys must be unique/);
  });

  it('16. empty list', async () => {
    expect(await problems('experiment: t\ntargets: []\nsamplers:\n  - { name: sgld }\n')).toEqual([
      'exp.yaml:2:1: targets: must have at least 1 entry, got a list',
    ]);
  });

  it('17. every problem in the file at once, sorted by line', async () => {
    expect(
      await problems(file(['{ model: small, data: small, seed: -1 }', '{ model: small, data: big, seed: 2 }'], ['{ name: sgld, overrides: { chains: 0 } }'])),
    ).toEqual([
      'exp.yaml:3:34: targets[0].seed: must be >= 0, got the integer -1',
      'exp.yaml:4:21: targets[1].data: unknown data preset "big" (available: base, small; looked for config/data/big.yaml)',
      'exp.yaml:6:32: samplers[0].overrides.chains: must be >= 1, got the integer 0',
    ]);
  });

  it('17b. a ConfigError carries no stack: it is reported as its problems, and capturing one per broken entry was half the time of refusing a large file', async () => {
    const error = await loadExperiment({ root, presets: 'config' }, (writeFileSync(join(root, 'bad.yaml'), file(['{ model: small, data: small, seed: -1 }'])), join(root, 'bad.yaml'))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).stack).toBe(`ConfigError: ${(error as ConfigError).message}`);
    // Other errors keep theirs.
    expect(new Error('x').stack).toMatch(/\n\s+at /);
  });

  it('18. an error inside a preset names the preset file, and the entry that uses the preset', async () => {
    const presets = mkdtempSync(join(tmpdir(), 'lh-presets-'));
    cpSync(join(repo, 'config'), join(presets, 'config'), { recursive: true });
    writeFileSync(join(presets, 'config', 'model', 'wide.yaml'), 'in_dim: 4\nout_dim: 1\ndepth: 1\nwidths: [64]\nactivation: swish\nbias: true\n');
    try {
      expect(await problems(file(['{ model: wide, data: small, seed: 1 }']), { root: presets, presets: 'config' })).toEqual([
        'config/model/wide.yaml:1:1: missing required key "hidden" in a target config (a preset, used at exp.yaml:3:7: targets[0].model)',
        'config/model/wide.yaml:1:1: missing required key "layernorm" in a target config (a preset, used at exp.yaml:3:7: targets[0].model)',
        'config/model/wide.yaml:1:1: missing required key "residual_period" in a target config (a preset, used at exp.yaml:3:7: targets[0].model)',
        'config/model/wide.yaml:1:1: missing required key "skip_connections" in a target config (a preset, used at exp.yaml:3:7: targets[0].model)',
        'config/model/wide.yaml:1:1: missing required key "target_params" in a target config (a preset, used at exp.yaml:3:7: targets[0].model)',
        'config/model/wide.yaml:5:1: activation: expected one of relu, tanh, gelu, identity, got the string "swish" (a preset, used at exp.yaml:3:7: targets[0].model)',
      ]);
    } finally {
      rmSync(presets, { recursive: true, force: true });
    }
  });

  it('19. overrides of the wrong shape', async () => {
    expect(await problems(file(['{ model: small, data: small, seed: 1, overrides: [1, 2] }']))).toEqual([
      'exp.yaml:3:43: targets[0].overrides: expected a mapping, got a list',
    ]);
  });

  it('20. a cross-field rule of a sampler', async () => {
    expect(await problems(file([TARGET], ['{ name: sgld, overrides: { steps: 10, eval_every: 100 } }']))).toEqual([
      'exp.yaml:5:43: samplers[0].overrides.eval_every: is 100, more than steps (10): no draw would be recorded',
    ]);
  });
});

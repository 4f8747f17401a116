/** Stage A: reproducible artifacts in formats other tools read. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTargetArtifact } from '../packages/llc/src/artifacts';
import { resolveModel, resolveTeacher } from '../packages/llc/src/config';
import { buildTargetRule } from '../rules/build-target';
import { DEFAULT_PRESETS, Experiment, loadExperiment } from '../rules/experiment';
import { python, runPython } from './support/python';
import { REPO } from './support/workspace';

const roots = [mkdtempSync(join(tmpdir(), 'lh-target-a-')), mkdtempSync(join(tmpdir(), 'lh-target-b-'))];
const log = () => {};
let exp: Experiment;
const dirOf = (root: string) => join(root, 'artifacts', 'targets', exp.targets[0].id);

beforeAll(async () => {
  for (const root of roots) {
    symlinkSync(join(REPO, 'config'), join(root, 'config'));
    writeFileSync(
      join(root, 'exp.yaml'),
      'experiment: t\ntargets:\n  - { model: small, data: small, teacher: base, seed: 5, overrides: { data: { x_dist: mixture, noise_model: student_t } } }\nsamplers:\n  - { name: sgld }\n',
    );
  }
  exp = await loadExperiment({ root: roots[0], presets: DEFAULT_PRESETS }, join(roots[0], 'exp.yaml'));
  for (const root of roots) await buildTargetRule.run(exp.targets[0], { root, log });
});
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

describe('target artifact', () => {
  it('two builds of the same config give byte-identical .npy files', () => {
    const files = readdirSync(dirOf(roots[0])).filter((f) => f.endsWith('.npy')).sort();
    expect(files).toEqual(['X.npy', 'X_test.npy', 'Y.npy', 'Y_test.npy', 'params.npy', 'teacher_params.npy', 'train_loss.npy']);
    for (const f of files) expect(readFileSync(join(dirOf(roots[0]), f)).equals(readFileSync(join(dirOf(roots[1]), f))), f).toBe(true);
  });

  it('records the layout, dims, L0 and a hash of the parameters', () => {
    const { meta, params } = readTargetArtifact(dirOf(roots[0]));
    expect(meta.target_id).toBe(exp.targets[0].id);
    expect(meta.dims).toEqual({ n: 100, n_test: 100, in_dim: 4, out_dim: 1, d: 45 });
    expect(meta.layout.map((e) => e.name)).toEqual(['L1.W', 'L1.b', 'L2.W', 'L2.b', 'Out.W', 'Out.b']);
    expect(params).toHaveLength(45);
    expect(meta.hashes.params).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(meta.L0).toBeGreaterThan(0);
    expect(meta.metrics.train_mse_noise).toBeCloseTo(meta.L0, 12);
    expect(meta.training.final_loss).toBeLessThan(meta.training.initial_loss);
  });

  it.skipIf(!python)('numpy reads the arrays with the right shapes and values', () => {
    const dir = dirOf(roots[0]);
    const out = runPython(
      `import numpy as np, json
p = np.load('${dir}/params.npy'); X = np.load('${dir}/X.npy'); Y = np.load('${dir}/Y.npy')
print(json.dumps({"p": [str(p.dtype), list(p.shape), p.tolist()], "X": [list(X.shape), float(X[3, 2])], "Y": [list(Y.shape), float(Y[7, 0])]}))`,
    );
    const { params, X, Y } = readTargetArtifact(dir);
    const r = JSON.parse(out);
    expect(r.p).toEqual(['float64', [45], Array.from(params)]);
    expect(r.X).toEqual([[100, 4], X[3 * 4 + 2]]);
    expect(r.Y).toEqual([[100, 1], Y[7]]);
  });
});

describe('teacher resolution', () => {
  const model = { in_dim: 32, out_dim: 1, depth: 3, widths: null, activation: 'relu' as const, bias: true, layernorm: false, skip_connections: false, residual_period: 2, target_params: 10000, hidden: 300 };
  const student = resolveModel(model);

  it('_null copies the student architecture', () => {
    expect(resolveTeacher({}, model, student)).toMatchObject({ widths: [62, 62, 62], activation: 'relu', bias: true, dropout_rate: 0 });
  });

  it('the small and base presets give the reference widths on 32 inputs', () => {
    expect(resolveTeacher({ depth: 2, widths: null, activation: 'relu', dropout_rate: 0, target_params: 50, hidden: null }, model, student).widths).toEqual([1, 1]);
    expect(resolveTeacher({ depth: 3, widths: null, activation: 'relu', dropout_rate: 0.1, target_params: 100, hidden: null }, model, student)).toMatchObject({
      widths: [2, 2, 2],
      dropout_rate: 0.1,
    });
  });
});

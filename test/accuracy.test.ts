/**
 * Samplers against the exact λ of a regular model: linear regression with in_dim 10, out_dim 1
 * (d = 11), n = 1000, trained by the real build-target rule and sampled by the real sample rule.
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTargetArtifact } from '../packages/llc/src/artifacts';
import { temperature } from '../packages/llc/src/posterior';
import { buildTargetRule } from '../rules/build-target';
import { DEFAULT_PRESETS, Experiment, loadExperiment } from '../rules/experiment';
import { sampleRule } from '../rules/sample';
import { REPO } from './support/workspace';
import { RegularTruth, regularTruth } from './support/regular-model';

const LINEAR_TARGET = `{ model: small, data: small, seed: 7, overrides: {
      model: { in_dim: 10, depth: 0, widths: [], activation: identity },
      data: { n_data: 1000, n_test: 100 },
      training: { learning_rate: 0.01, steps: 20000, early_stop_tol: 0.0 } } }`;

/** One entry per sampler, at sizes that keep the test fast; bench/accuracy runs larger ones. */
const SAMPLERS = {
  sgld: '{ name: sgld, seed: 3, overrides: { step_size: 1.0e-4, batch_size: 256, warmup: 1000, steps: 20000, eval_every: 20 } }',
  hmc: '{ name: hmc, seed: 3, overrides: { draws: 2000, warmup: 500 } }',
  mclmc: '{ name: mclmc, seed: 3, overrides: { draws: 2000 } }',
  vi: '{ name: vi, seed: 3, overrides: { steps: 2000 } }',
};

/** The bar each sampler must clear (issue 3): relative error to the exact λ. */
const TOLERANCE = { sgld: 0.1, hmc: 0.03, mclmc: 0.05, vi: 0.15 };

describe('λ̂ on a regular model (linear regression, d = 11, n = 1000)', () => {
  const root = mkdtempSync(join(tmpdir(), 'lh-accuracy-'));
  const log = () => {};
  let exp: Experiment;
  let truth: RegularTruth;

  beforeAll(async () => {
    symlinkSync(join(REPO, 'config'), join(root, 'config'));
    writeFileSync(
      join(root, 'exp.yaml'),
      `experiment: regular
targets:
  - ${LINEAR_TARGET}
samplers:
${Object.values(SAMPLERS).map((s) => `  - ${s}`).join('\n')}
`,
    );
    exp = await loadExperiment({ root, presets: DEFAULT_PRESETS }, join(root, 'exp.yaml'));
    await buildTargetRule.run(exp.targets[0], { root, log });
    const target = readTargetArtifact(join(root, 'artifacts', 'targets', exp.targets[0].id));
    const temp = temperature(exp.runs[0].posterior, target.meta.dims.n, target.meta.dims.d);
    truth = regularTruth(target.X, target.Y, 1000, 10, target.params, temp.nBeta, temp.gamma);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('trains close enough to the least-squares solution for the closed form to apply', () => {
    // With w* ≠ ŵ the exact expectation differs from the closed form by at most nβ·(L_n(w*) − L_n(ŵ)).
    expect(truth.distanceToMinimiser).toBeLessThan(1e-3);
    expect(truth.excessLoss).toBeLessThan(1e-6 * truth.lambda);
    // nβ = 1000 / ln 1000 and H ≈ 2I: every term is close to ½, so λ is just below d/2.
    expect(truth.lambda).toBeGreaterThan(5.3);
    expect(truth.lambda).toBeLessThan(5.5);
  });

  for (const [name, tolerance] of Object.entries(TOLERANCE)) {
    it(`${name} is within ${tolerance * 100}% of the exact value`, async () => {
      const run = exp.runs.find((r) => r.sampler === name)!;
      await sampleRule.run(run, { root, log });
      const analysis = JSON.parse(readFileSync(join(root, 'artifacts', 'runs', run.id, 'analysis.json'), 'utf8'));
      const relativeError = Math.abs(analysis.llc.mean - truth.lambda) / truth.lambda;
      console.log(`${name}: λ̂ = ${analysis.llc.mean.toFixed(4)} ± ${analysis.llc.mcse.toFixed(4)} (MCSE), exact λ = ${truth.lambda.toFixed(4)}, relative error ${(100 * relativeError).toFixed(2)}%`);
      expect(relativeError).toBeLessThan(tolerance);
    });
  }
});

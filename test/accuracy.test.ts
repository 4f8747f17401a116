/**
 * Samplers against the exact λ of a regular model: linear regression with in_dim 10, out_dim 1
 * (d = 11), n = 1000, trained by the real build-target rule and sampled by the real sample rule.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTargetArtifact } from '../packages/llc/src/artifacts';
import { temperature } from '../packages/llc/src/posterior';
import { sampleRule } from '../rules/sample';
import { RegularTruth, regularTruth } from './support/regular-model';
import { TrainedExperiment, trainedExperiment } from './support/trained-experiment';

/**
 * Full-batch gradient descent, not Adam: on this convex quadratic (H ≈ 2I, step 0.3 < 2/λ_max) it
 * converges linearly to the least-squares solution, to machine precision on every kernel, while
 * Adam's constant step keeps hovering around it by an amount that depends on the kernel's rounding.
 */
const LINEAR_TARGET = `{ model: small, data: small, seed: 7, overrides: {
      model: { in_dim: 10, depth: 0, widths: [], activation: identity },
      data: { n_data: 1000, n_test: 100 },
      training: { optimizer: sgd, learning_rate: 0.3, steps: 2000, early_stop_tol: 0.0 } } }`;

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
  const log = () => {};
  let trained: TrainedExperiment;
  let truth: RegularTruth;

  beforeAll(async () => {
    trained = await trainedExperiment(
      'accuracy',
      `experiment: regular
targets:
  - ${LINEAR_TARGET}
samplers:
${Object.values(SAMPLERS).map((s) => `  - ${s}`).join('\n')}
`,
    );
    const { root, exp } = trained;
    const target = readTargetArtifact(join(root, 'artifacts', 'targets', exp.targets[0].id));
    const temp = temperature(exp.runs[0].posterior, target.meta.dims.n, target.meta.dims.d);
    truth = regularTruth(target.X, target.Y, 1000, 10, target.params, temp.nBeta, temp.gamma);
  });
  afterAll(() => trained.dispose());

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
      const { root, exp } = trained;
      const run = exp.runs.find((r) => r.sampler === name)!;
      await sampleRule.run(run, { root, log });
      const analysis = JSON.parse(readFileSync(join(root, 'artifacts', 'runs', run.id, 'analysis.json'), 'utf8'));
      const relativeError = Math.abs(analysis.llc.mean - truth.lambda) / truth.lambda;
      console.log(`${name}: λ̂ = ${analysis.llc.mean.toFixed(4)} ± ${analysis.llc.mcse.toFixed(4)} (MCSE), exact λ = ${truth.lambda.toFixed(4)}, relative error ${(100 * relativeError).toFixed(2)}%`);
      expect(relativeError).toBeLessThan(tolerance);
    });
  }
});

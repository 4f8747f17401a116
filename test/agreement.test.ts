/**
 * On a singular model with no closed form, the small MLP target (d = 45, n = 100), the MCMC
 * samplers must agree with each other: every pair within 10% or 3 combined MCSEs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleRule } from '../rules/sample';
import { TrainedExperiment, trainedExperiment } from './support/trained-experiment';

/** Budgets that give each an MCSE of a few percent in seconds on one core. */
const SAMPLERS = [
  '{ name: hmc, seed: 7, overrides: { draws: 2000, warmup: 500 } }',
  '{ name: mclmc, seed: 5, overrides: { draws: 10000 } }',
  '{ name: sgld, seed: 8, overrides: { step_size: 1.0e-4, batch_size: 32, warmup: 20000, steps: 200000, eval_every: 100 } }',
];

interface Estimate {
  sampler: string;
  mean: number;
  mcse: number;
  r_hat: number;
}

describe('HMC, MCLMC and SGLD agree on the small MLP target', () => {
  const estimates: Estimate[] = [];
  let trained: TrainedExperiment;

  beforeAll(async () => {
    trained = await trainedExperiment(
      'agreement',
      `experiment: agreement\ntargets:\n  - { model: small, data: small, teacher: _null, seed: 42 }\nsamplers:\n${SAMPLERS.map((s) => `  - ${s}`).join('\n')}\n`,
    );
    const { root, exp } = trained;
    const log = () => {};
    for (const run of exp.runs) {
      await sampleRule.run(run, { root, log });
      const a = JSON.parse(readFileSync(join(root, 'artifacts', 'runs', run.id, 'analysis.json'), 'utf8'));
      estimates.push({ sampler: run.sampler, mean: a.llc.mean, mcse: a.llc.mcse, r_hat: a.llc.r_hat });
      console.log(`${run.sampler}: λ̂ = ${a.llc.mean.toFixed(4)} ± ${a.llc.mcse.toFixed(4)} (MCSE), R̂ ${a.llc.r_hat.toFixed(3)}, ESS ${a.llc.ess_bulk.toFixed(0)}`);
    }
  }, 300_000);
  afterAll(() => trained.dispose());

  it('every run has converged (R̂ < 1.05)', () => {
    for (const e of estimates) expect(e.r_hat, e.sampler).toBeLessThan(1.05);
  });

  it('every pair is within 10% or 3 combined MCSEs', () => {
    for (let i = 0; i < estimates.length; i++) {
      for (let j = i + 1; j < estimates.length; j++) {
        const [a, b] = [estimates[i], estimates[j]];
        const gap = Math.abs(a.mean - b.mean);
        const allowed = Math.max(0.1 * Math.min(a.mean, b.mean), 3 * Math.hypot(a.mcse, b.mcse));
        expect(gap, `${a.sampler} ${a.mean} vs ${b.sampler} ${b.mean}`).toBeLessThan(allowed);
      }
    }
  });
});

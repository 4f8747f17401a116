/**
 * Kernels round differently, so their chains part ways after a while; their λ̂ must still agree
 * within Monte Carlo error. The same sample tasks (SGLD in float32, HMC in float64) on one trained
 * target, on the native kernel and on the WebAssembly kernel: |λ̂_native − λ̂_wasm| ≤ 3 combined
 * MCSEs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../packages/llc/src/kernels/native';
import { sampleOnTarget } from '../rules/sample';
import { scopedEnv, TrainedExperiment, trainedExperiment } from './support/trained-experiment';

describe.skipIf(!native.available({ named: true }).ok)('the native and WebAssembly kernels give the same λ̂ within Monte Carlo error', () => {
  const env = scopedEnv(['LAMBDA_HAT_KERNEL']);
  let trained: TrainedExperiment;

  beforeAll(async () => {
    // Wide enough (d = 1,345) and with enough rows (two full-data blocks of 1,024) that the kernels' products really differ.
    trained = await trainedExperiment(
      'kernel-agreement',
      `experiment: kernels
targets:
  - { model: small, data: small, seed: 5, overrides: { model: { in_dim: 8, widths: [32, 32] }, data: { n_data: 1200 }, training: { steps: 1500 } } }
samplers:
  - { name: sgld, overrides: { step_size: 2.0e-6, batch_size: 64, warmup: 2000, steps: 20000, eval_every: 20 } }
  - { name: hmc, overrides: { draws: 200, warmup: 150 } }
`,
    );
  }, 120_000);

  afterAll(() => {
    env.restore();
    trained.dispose();
  });

  for (const sampler of ['sgld', 'hmc']) {
    it(sampler, async () => {
      const run = trained.exp.runs.find((r) => r.sampler === sampler)!;
      const estimates = [];
      for (const kernel of ['native', 'wasm']) {
        env.set({ LAMBDA_HAT_KERNEL: kernel });
        const s = await sampleOnTarget(run, { root: trained.root, log: () => {} });
        expect(s.kernel.startsWith(kernel)).toBe(true);
        estimates.push(s.summary);
      }
      const [a, b] = estimates;
      const combined = Math.hypot(a.mcse, b.mcse);
      expect(Math.abs(a.mean - b.mean), `λ̂ ${a.mean} ± ${a.mcse} (native) against ${b.mean} ± ${b.mcse} (wasm)`).toBeLessThanOrEqual(3 * combined);
      // The estimates are not trivially equal: the kernels really computed separately.
      expect(a.mean).not.toBe(b.mean);
    }, 120_000);
  }
});

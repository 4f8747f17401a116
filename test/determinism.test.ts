/**
 * The same seed and kernel give bit-identical run artifacts — traces.arrow, and analysis.json but
 * for its wall-clock `timing` entry, the only part allowed to differ — across runs and (for the
 * native and WebAssembly kernels) thread counts.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../packages/llc/src/kernels/native';
import { sampleRule } from '../rules/sample';
import { reproducibleFiles, scopedEnv, TrainedExperiment, trainedExperiment } from './support/trained-experiment';

describe('run artifacts are bit-identical for the same seed and kernel', () => {
  const env = scopedEnv(['LAMBDA_HAT_KERNEL', 'LAMBDA_HAT_THREADS']);
  let trained: TrainedExperiment;

  beforeAll(async () => {
    // Wide enough (d ≈ 13k) that the kernels really use their threads, with n = 2000 so that
    // full-data passes span two blocks per chain.
    trained = await trainedExperiment(
      'determinism',
      `experiment: determinism
targets:
  - { model: small, data: small, seed: 3, overrides: { model: { in_dim: 32, widths: [96, 96] }, data: { n_data: 2000 }, training: { steps: 30 } } }
samplers:
  - { name: sgld, overrides: { steps: 40, warmup: 10, eval_every: 10, step_size: 1.0e-5 } }
  - { name: hmc, overrides: { draws: 6, warmup: 0, adapt_step_size: false, adapt_mass_matrix: false, step_size: 1.0e-4, num_integration_steps: 3 } }
`,
    );
  }, 120_000);

  afterAll(() => {
    env.restore();
    trained.dispose();
  });

  async function artifacts(kernel: string, threads: number): Promise<Map<string, Buffer>> {
    env.set({ LAMBDA_HAT_KERNEL: kernel, LAMBDA_HAT_THREADS: String(threads) });
    const { root, exp } = trained;
    const files = new Map<string, Buffer>();
    for (const run of exp.runs) {
      await sampleRule.run(run, { root, log: () => {} });
      const dir = join(root, 'artifacts', 'runs', run.id);
      const { files: reproducible, timing } = reproducibleFiles(dir);
      expect(timing.threads).toBe(threads);
      for (const [name, bytes] of reproducible) files.set(`${run.sampler}/${name}`, bytes);
    }
    return files;
  }

  for (const [kernel, threadCounts] of [
    ['native', [1, 2, 1]],
    ['wasm', [1, 2, 1]],
    ['reference', [1, 1]],
  ] as const) {
    // Without the native addon its case is skipped (the kernel tests say why, or fail where it is required).
    it.skipIf(kernel === 'native' && !native.available({ named: true }).ok)(`${kernel}: ${threadCounts.join(', ')} threads`, async () => {
      const runs = [];
      for (const threads of threadCounts) runs.push(await artifacts(kernel, threads));
      for (const later of runs.slice(1)) for (const [name, bytes] of runs[0]) expect(later.get(name)!.equals(bytes), name).toBe(true);
    }, 120_000);
  }
});

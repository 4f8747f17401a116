/**
 * The WebGPU kernel in the product, on Mesa's software adapter: how the registry chooses it (auto
 * never takes a software adapter; a named `webgpu` does, for float32 work only), a sample task's λ̂
 * against the same task on WebAssembly, and the same artifacts from repeated runs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseKernel } from '../packages/llc/src/kernels';
import { sampleOnTarget, sampleRule } from '../rules/sample';
import { REQUIRE_WEBGPU, useSoftwareVulkan } from './support/software-vulkan';
import { reproducibleFiles, scopedEnv, TrainedExperiment, trainedExperiment } from './support/trained-experiment';

const available = useSoftwareVulkan();

it('has a WebGPU adapter where it is required', () => {
  if (REQUIRE_WEBGPU) expect(available).toEqual({ ok: true });
});

describe.skipIf(!available.ok)('choosing the WebGPU kernel', () => {
  it('auto never takes a software adapter, and says so', () => {
    const d = chooseKernel('auto', 'float32');
    expect(d.entry.name).not.toBe('webgpu');
    expect(d.skipped[0]).toEqual({ name: 'webgpu', reason: expect.stringMatching(/software one \(.*\), which serves tests and runs only when LAMBDA_HAT_KERNEL=webgpu asks for it/) });
  });

  it('LAMBDA_HAT_KERNEL=webgpu runs float32 work on it, software adapter or not', () => {
    expect(chooseKernel('webgpu', 'float32')).toEqual({ entry: expect.objectContaining({ name: 'webgpu' }), skipped: [] });
  });

  it('leaves float64 work to the best CPU kernel and says why', () => {
    const d = chooseKernel('webgpu', 'float64');
    expect(['native', 'wasm']).toContain(d.entry.name);
    expect(d.skipped[0]).toEqual({ name: 'webgpu', reason: 'it was asked for, but it computes in float32 only and this task is float64' });
  });
});

describe.skipIf(!available.ok)('sample tasks on the WebGPU kernel', () => {
  const env = scopedEnv(['LAMBDA_HAT_KERNEL']);
  let trained: TrainedExperiment;

  beforeAll(async () => {
    trained = await trainedExperiment(
      'webgpu',
      `experiment: webgpu
targets:
  - { model: small, data: small, teacher: _null, seed: 42 }
samplers:
  - { name: sgld, overrides: { step_size: 1.0e-4, batch_size: 32, warmup: 1000, steps: 4000, eval_every: 20 } }
  - { name: hmc, overrides: { draws: 20, warmup: 20 } }
  - { name: sgld, seed: 3, overrides: { step_size: 1.0e-4, batch_size: 32, warmup: 100, steps: 400, eval_every: 20 } }
  - { name: hmc, seed: 4, overrides: { draws: 100, warmup: 60, num_integration_steps: 4, dtype: float32 } }
`,
    );
  }, 120_000);

  afterAll(() => {
    env.restore();
    trained.dispose();
  });

  /** The experiment's runs in file order: a long SGLD run, HMC, a short SGLD run, HMC in float32. */
  const run = (index: number) => trained.exp.runs[index];

  it('SGLD on webgpu gives the λ̂ of the same task on WebAssembly within 3 combined MCSEs', async () => {
    const estimates = [];
    for (const kernel of ['webgpu', 'wasm']) {
      env.set({ LAMBDA_HAT_KERNEL: kernel });
      const s = await sampleOnTarget(run(0), { root: trained.root, log: () => {} });
      expect(s.kernel.startsWith(kernel)).toBe(true);
      estimates.push(s.summary);
    }
    const [gpu, cpu] = estimates;
    expect(Math.abs(gpu.mean - cpu.mean), `λ̂ ${gpu.mean} ± ${gpu.mcse} (webgpu) against ${cpu.mean} ± ${cpu.mcse} (wasm)`).toBeLessThanOrEqual(3 * Math.hypot(gpu.mcse, cpu.mcse));
  }, 120_000);

  it('the same seed gives the same artifacts on repeated runs, and analysis.json names the kernel', async () => {
    env.set({ LAMBDA_HAT_KERNEL: 'webgpu' });
    const files = async () => {
      await sampleRule.run(run(2), { root: trained.root, log: () => {} });
      const dir = join(trained.root, 'artifacts', 'runs', run(2).id);
      return [...reproducibleFiles(dir).files.values()];
    };
    const [a, b] = [await files(), await files()];
    a.forEach((bytes, i) => expect(bytes.equals(b[i])).toBe(true));
    const analysis = JSON.parse(readFileSync(join(trained.root, 'artifacts', 'runs', run(2).id, 'analysis.json'), 'utf8'));
    expect(analysis.kernel).toBe('webgpu-f32');
    expect(analysis.kernel_identity).toMatchObject({ kernel: 'webgpu', precision: 'float32' });
  }, 120_000);

  it('HMC in float32 runs its leapfrog trajectories on webgpu, with the λ̂ of WebAssembly within 3 combined MCSEs', async () => {
    const estimates = [];
    for (const kernel of ['webgpu', 'wasm']) {
      env.set({ LAMBDA_HAT_KERNEL: kernel });
      const s = await sampleOnTarget(run(3), { root: trained.root, log: () => {} });
      expect(s.kernel).toMatch(kernel === 'webgpu' ? /^webgpu-f32$/ : /^wasm-.*-f32$/);
      estimates.push(s.summary);
    }
    const [gpu, cpu] = estimates;
    expect(Math.abs(gpu.mean - cpu.mean), `λ̂ ${gpu.mean} ± ${gpu.mcse} (webgpu) against ${cpu.mean} ± ${cpu.mcse} (wasm)`).toBeLessThanOrEqual(3 * Math.hypot(gpu.mcse, cpu.mcse));
  }, 120_000);

  it('HMC in float64 under LAMBDA_HAT_KERNEL=webgpu runs on a CPU kernel and says why', async () => {
    env.set({ LAMBDA_HAT_KERNEL: 'webgpu' });
    const lines: string[] = [];
    const s = await sampleOnTarget(run(1), { root: trained.root, log: (m) => lines.push(m) });
    expect(s.dtype).toBe('float64');
    expect(s.kernel).toMatch(/^(native|wasm)-/);
    expect(lines.join('\n')).toContain('the webgpu kernel was skipped: it was asked for, but it computes in float32 only and this task is float64');
  }, 120_000);
});

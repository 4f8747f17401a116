/**
 * What a task's cache key holds, through the real `nx` CLI: where it runs (LAMBDA_HAT_BACKEND,
 * LAMBDA_HAT_CARD, LAMBDA_HAT_SET) leaves the key, so a laptop and a cluster share entries; flags,
 * which Nx would hash, are refused before anything runs; the rounding of the kernel a task computes
 * with enters its key, so a cache never serves results rounded otherwise than this machine would
 * round them; and a worker whose kernel is not the one its key names stops instead of computing
 * (runner/kernel-keys.ts, plugins/lambda-hat/src/options.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { describeIdentity } from '../packages/llc/src/kernels/identity';
import { referenceKernel } from '../packages/llc/src/kernels/reference';
import type { KernelProblem } from '../packages/llc/src/kernels/types';
import type { MlpArch } from '../packages/llc/src/mlp';
import { kernelIdentityHere, KEYED_KERNELS_ENV, taskKernel } from '../rules/kernel-choice';
import { UserError } from '../rules/rule';
import { ScratchWorkspace } from './support/workspace';

describe('cache keys with the real nx CLI', () => {
  const ws = new ScratchWorkspace(`experiment: keys
targets:
  - { model: small, data: small, seed: 1, overrides: { training: { steps: 50 } } }
samplers:
  - { name: sgld, overrides: { steps: 200, warmup: 20, eval_every: 20, batch_size: 32 } }
  - { name: hmc, overrides: { draws: 20, warmup: 20, num_integration_steps: 4 } }
`);
  afterAll(() => ws.dispose());
  const computing = (tasks: string[]) => tasks.filter((t) => /:(build-target|sample)$/.test(t) && !t.startsWith('keys:'));

  let tasks: string[] = [];

  it('the first run computes everything', () => {
    const r = ws.nx('run-many', '-t', 'sample');
    expect(r.status, r.output).toBe(0);
    expect(r.cached).toEqual([]);
    expect(computing(r.ran)).toHaveLength(3);
    tasks = r.ran;
  });

  it.each([
    [{ LAMBDA_HAT_BACKEND: 'local' }],
    [{ LAMBDA_HAT_CARD: 'config/cards/local.yaml' }],
    [{ LAMBDA_HAT_SET: 'threads=2\nmax_jobs=1' }],
  ])('%o leaves every key as it was: all cached', (env) => {
    Object.assign(ws.env, env);
    try {
      const r = ws.nx('run-many', '-t', 'sample');
      expect(r.status, r.output).toBe(0);
      expect(r.ran).toEqual([]);
      expect(r.cached).toEqual(expect.arrayContaining(tasks));
    } finally {
      for (const k of Object.keys(env)) delete ws.env[k];
    }
  });

  it.each([['--backend', 'slurm-cpu'], ['--set', 'threads=2'], ['--dry-run']])('%s as a flag is refused with the way to say it, and nothing runs', (...flag) => {
    ws.remove('artifacts');
    for (const batch of ['--batch=true', '--batch=false']) {
      const r = ws.nx('run-many', '-t', 'sample', ...flag, batch);
      expect(r.status).not.toBe(0);
      expect(r.output).toContain('Nothing was run.');
      expect(r.output).toContain(flag[0] === '--dry-run' ? 'unknown option --dry-run' : `${flag[0]} is not taken as a flag`);
      if (flag[0] === '--dry-run') expect(r.output).toContain('For a preview: npx lambda-hat plan');
      expect(r.output).not.toMatch(/^\s+at \//m);
      expect(ws.exists('artifacts')).toBe(false);
    }
  });

  it('an unknown backend in LAMBDA_HAT_BACKEND is a clear error naming the variable', () => {
    ws.env.LAMBDA_HAT_BACKEND = 'nosuch';
    try {
      const r = ws.nx('run-many', '-t', 'sample', '--skip-nx-cache');
      expect(r.status).not.toBe(0);
      expect(r.output).toContain('LAMBDA_HAT_BACKEND: unknown backend "nosuch" (available: local, slurm-cpu, slurm-gpu; or LAMBDA_HAT_CARD=<file>)');
      expect(ws.exists('artifacts')).toBe(false);
    } finally {
      delete ws.env.LAMBDA_HAT_BACKEND;
    }
  });

  it('another kernel (LAMBDA_HAT_KERNEL=reference) is another key: the training and the samples run again', () => {
    expect(kernelIdentityHere('float64', { LAMBDA_HAT_KERNEL: 'reference' })).toBe('TypeScript, float64, no fused multiply-add');
    ws.env.LAMBDA_HAT_KERNEL = 'reference';
    const r = ws.nx('run-many', '-t', 'sample');
    expect(r.status, r.output).toBe(0);
    expect(computing(r.ran)).toHaveLength(3);
    expect(computing(r.cached)).toEqual([]);
    expect(r.output).toContain('kernel reference-f64');
  });

  it('back on the default kernel, its entries are still there: all cached', () => {
    delete ws.env.LAMBDA_HAT_KERNEL;
    const r = ws.nx('run-many', '-t', 'sample');
    expect(r.status, r.output).toBe(0);
    expect(r.ran).toEqual([]);
  });

  it('a card whose env names another kernel keys its tasks by that kernel', () => {
    ws.write('reference-card.yaml', 'backend: local\nmax_jobs: null\nthreads: 1\nenv: { LAMBDA_HAT_KERNEL: reference }\n');
    ws.env.LAMBDA_HAT_CARD = 'reference-card.yaml';
    const r = ws.nx('run-many', '-t', 'sample');
    delete ws.env.LAMBDA_HAT_CARD;
    expect(r.status, r.output).toBe(0);
    // The reference kernel's entries from above.
    expect(computing(r.ran)).toEqual([]);
    expect(computing(r.cached)).toHaveLength(3);
  });
});

describe('a worker holds to the kernel its key names', () => {
  const arch: MlpArch = { in_dim: 1, out_dim: 1, widths: [], activation: 'identity', bias: false, layernorm: false, skip_connections: false, residual_period: 2 };
  const problem: KernelProblem = { arch, X: [1, 2], Y: [1, 2], n: 2, lossFn: { kind: 'mse', df: 0, scale: 0 }, dtype: 'float64', chains: 1, maxBatch: 0 };
  const here = describeIdentity(referenceKernel(problem).identity);

  it('computes when the keyed identity is its own', () => {
    const env = { LAMBDA_HAT_KERNEL: 'reference', [KEYED_KERNELS_ENV]: JSON.stringify({ float64: here }) };
    expect(kernelIdentityHere('float64', env)).toBe(here);
    const kernel = taskKernel(problem, () => {}, env);
    expect(describeIdentity(kernel.identity)).toBe(here);
    kernel.dispose();
  });

  it('stops with the two identities when the key was made for another', () => {
    const env = { LAMBDA_HAT_KERNEL: 'reference', [KEYED_KERNELS_ENV]: JSON.stringify({ float64: 'OpenBLAS 0.3.21 (core Haswell), float64, fused multiply-add' }) };
    expect(() => taskKernel(problem, () => {}, env)).toThrow(UserError);
    expect(() => taskKernel(problem, () => {}, env)).toThrow(/computes float64 with TypeScript, float64, no fused multiply-add, but the task's cache key was made for OpenBLAS 0\.3\.21 \(core Haswell\)/);
  });

  it('a precision the key does not name is not held', () => {
    const env = { LAMBDA_HAT_KERNEL: 'reference', [KEYED_KERNELS_ENV]: JSON.stringify({ float32: 'something else' }) };
    taskKernel(problem, () => {}, env).dispose();
  });
});

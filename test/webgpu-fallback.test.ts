/**
 * Without a WebGPU adapter: `auto` runs float32 work on a CPU kernel and every task says why;
 * LAMBDA_HAT_KERNEL=webgpu stops float32 tasks with that reason (no stack trace, nothing written)
 * while float64 tasks run on a CPU kernel and say so. Through real `nx` runs, with the Vulkan loader
 * told to look at a driver manifest that does not exist.
 */
import { readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ScratchWorkspace } from './support/workspace';

const EXPERIMENT = `experiment: nogpu
targets:
  - { model: small, data: small, seed: 1, overrides: { training: { steps: 200 } } }
samplers:
  - { name: sgld, overrides: { steps: 400, warmup: 100, eval_every: 20, step_size: 1.0e-4, batch_size: 32 } }
  - { name: hmc, overrides: { draws: 20, warmup: 20 } }
`;

describe('no WebGPU adapter', () => {
  const workspaces: ScratchWorkspace[] = [];
  afterAll(() => workspaces.forEach((ws) => ws.dispose()));
  const workspace = () => {
    const ws = new ScratchWorkspace(EXPERIMENT);
    ws.env.VK_DRIVER_FILES = '/nonexistent/vulkan/icd.json';
    workspaces.push(ws);
    return ws;
  };

  it('auto runs float32 tasks on a CPU kernel and says why', () => {
    const ws = workspace();
    const r = ws.nx('run-many', '-t', 'sample');
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/kernel (native|wasm-relaxed-simd|wasm-simd)-f32 .*; the faster webgpu kernel was skipped: no usable WebGPU adapter: /);
  });

  it('LAMBDA_HAT_KERNEL=webgpu stops float32 tasks with the reason, and float64 tasks run on a CPU kernel', () => {
    const ws = workspace();
    ws.env.LAMBDA_HAT_KERNEL = 'webgpu';
    const r = ws.nx('run-many', '-t', 'sample');
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('LAMBDA_HAT_KERNEL=webgpu: the webgpu kernel was asked for but is not available: no usable WebGPU adapter: ');
    expect(r.output).not.toMatch(/^\s+at .*\.ts:\d+/m);
    expect(r.output).toMatch(/kernel (native|wasm-relaxed-simd|wasm-simd)-f64 .*; the webgpu kernel was skipped: it was asked for, but it computes in float32 only and this task is float64/);
    const failed = r.ran.filter((t) => t.includes('sgld'));
    expect(failed.length).toBe(1);
    expect(readdirSync(ws.path('artifacts/runs')).filter((d) => d.startsWith('sgld'))).toEqual([]);
  });
});

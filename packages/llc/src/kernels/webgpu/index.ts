/**
 * The WebGPU kernel's entry in the kernel registry: available for float32 work where Dawn finds an
 * adapter. `auto` takes only a hardware adapter; a software one (Mesa's lavapipe) serves tests and
 * runs only when LAMBDA_HAT_KERNEL=webgpu names it.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KernelEntry } from '../types';
import { gpu } from './device';
import { SHADER_DIR } from './gpu-kernel';
import { adapterName, webgpuIdentity, webgpuKernel } from './kernel';

export const webgpu: KernelEntry = {
  name: 'webgpu',
  precisions: ['float32'],
  available({ named }) {
    const g = gpu();
    if (!g.ok) return { ok: false, reason: `no usable WebGPU adapter: ${g.reason}` };
    if (g.adapter.software && !named)
      return { ok: false, reason: `the only WebGPU adapter is a software one (${adapterName(g.adapter)}), which serves tests and runs only when LAMBDA_HAT_KERNEL=webgpu asks for it` };
    return { ok: true };
  },
  create(problem) {
    const g = gpu();
    if (!g.ok) throw new Error(`the webgpu kernel is not available: ${g.reason}`);
    return webgpuKernel(problem, g);
  },
  identity() {
    const g = gpu();
    if (!g.ok) throw new Error(`the webgpu kernel is not available: ${g.reason}`);
    return webgpuIdentity(g.adapter);
  },
  sourceFiles: () =>
    readdirSync(SHADER_DIR)
      .filter((f) => f.endsWith('.wgsl'))
      .sort()
      .map((f) => join(SHADER_DIR, f)),
};

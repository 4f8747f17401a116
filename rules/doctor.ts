/**
 * `lambda-hat doctor`: what this machine offers lambda-hat, and why anything is missing: Node, each
 * kernel's availability with its reason, the WebGPU adapter, relaxed SIMD, the BLAS, and Slurm.
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { chooseKernel, KERNELS } from '../packages/llc/src/kernels';
import { describeIdentity } from '../packages/llc/src/kernels/identity';
import { loadNativeAddon } from '../packages/llc/src/kernels/native';
import { relaxedSimdSupported } from '../packages/llc/src/kernels/wasm/kernel';
import { gpu } from '../packages/llc/src/kernels/webgpu/device';
import { adapterName, webgpuIdentity } from '../packages/llc/src/kernels/webgpu/kernel';
import type { Dtype } from '../packages/llc/src/mlp';

function version(command: string): string | null {
  const r = spawnSync(command, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split('\n')[0] : null;
}

export function doctor(): string[] {
  const lines = [`node       ${process.version} (V8 ${process.versions.v8}), ${process.platform} ${process.arch}, ${cpus().length} CPUs`];
  lines.push('kernels    fastest first; LAMBDA_HAT_KERNEL=auto takes the first available for a task\'s precision');
  for (const k of KERNELS) {
    const a = k.available({ named: true });
    lines.push(`  ${k.name.padEnd(10)} ${k.precisions.join(', ').padEnd(17)} ${a.ok ? 'available' : `not available: ${a.reason}`}`);
  }
  for (const dtype of ['float32', 'float64'] as Dtype[]) {
    try {
      const d = chooseKernel('auto', dtype);
      lines.push(`  auto, ${dtype}: ${d.entry.name}${d.skipped.length ? `, after skipping ${d.skipped.map((s) => s.name).join(', ')}` : ''}; cache keys carry ${describeIdentity(d.entry.identity(dtype))}`);
    } catch (e) {
      lines.push(`  auto, ${dtype}: ${(e as Error).message}`);
    }
  }
  const g = gpu();
  if (g.ok) {
    lines.push(`webgpu     ${adapterName(g.adapter)}${g.adapter.software ? ', a software adapter (tests only; auto never takes it)' : ''}`);
    lines.push(`           ${describeIdentity(webgpuIdentity(g.adapter))}`);
    lines.push(`           limits: ${Object.entries(g.adapter.limits).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  } else {
    lines.push(`webgpu     no adapter: ${g.reason}`);
  }
  lines.push(`wasm       ${relaxedSimdSupported() ? 'relaxed SIMD (fused multiply-add)' : 'plain SIMD (no relaxed SIMD in this runtime)'}`);
  const native = loadNativeAddon();
  lines.push(`blas       ${'addon' in native ? native.addon.blas() : `none: ${native.reason}`}`);
  const sbatch = version('sbatch');
  lines.push(`slurm      ${sbatch ? `${sbatch}${version('squeue') ? '' : ', but no squeue'}` : 'no sbatch on PATH (the Slurm backends need sbatch, squeue and scancel)'}`);
  return lines;
}

/**
 * `lambda-hat doctor`: what this machine offers lambda-hat, and why anything is missing: Node, each
 * kernel's availability with its reason, the WebGPU adapter, relaxed SIMD, the BLAS, and Slurm.
 */
import { cpus } from 'node:os';
import type * as Execa from 'execa';
import { chooseKernel, KERNELS } from '../packages/llc/src/kernels';
import { describeIdentity } from '../packages/llc/src/kernels/identity';
import { loadNativeAddon } from '../packages/llc/src/kernels/native';
import { relaxedSimdSupported } from '../packages/llc/src/kernels/wasm/kernel';
import { gpu } from '../packages/llc/src/kernels/webgpu/device';
import { adapterName, webgpuIdentity } from '../packages/llc/src/kernels/webgpu/kernel';
import type { Dtype } from '../packages/llc/src/mlp';

/**
 * Slurm's commands read slurm.conf before anything else, `--version` included, and without one they
 * retry for 60 s before failing (measured, Slurm 22.05); with one, `--version` answers in
 * milliseconds.
 */
const VERSION_TIMEOUT_MS = 5_000;

/**
 * The first line `<command> --version` prints; else whether the command is missing, or why it does
 * not run: its last lines of stderr, the command line, and its exit status or time limit.
 */
function version(command: string): { version: string } | { missing: true } | { failed: string } {
  // Loaded here: every worker loads this module (rules/cli.ts), and execa costs about 60 ms of CPU to load.
  const { execaSync } = require('execa') as typeof Execa;
  const r = execaSync(command, ['--version'], { stdin: 'ignore', timeout: VERSION_TIMEOUT_MS, reject: false });
  if (!r.failed) return { version: r.stdout.trim().split('\n')[0] };
  if (r.code === 'ENOENT') return { missing: true };
  const stderr = r.stderr.trim().split('\n').slice(-3).join('; ');
  const how = (r.shortMessage ?? '').split('\n')[0];
  return { failed: stderr ? `${stderr} (${how})` : how };
}

/** The Slurm line: the version sbatch reports and whether squeue runs, or why not. */
function slurm(): string {
  const sbatch = version('sbatch');
  if ('missing' in sbatch) return 'no sbatch on PATH (the Slurm backends need sbatch, squeue and scancel)';
  if ('failed' in sbatch) return `sbatch does not run: ${sbatch.failed}`;
  const squeue = version('squeue');
  return `${sbatch.version}${'missing' in squeue ? ', but no squeue' : 'failed' in squeue ? `, but squeue does not run: ${squeue.failed}` : ''}`;
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
  lines.push(`slurm      ${slurm()}`);
  return lines;
}

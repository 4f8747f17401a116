/**
 * The kernel registry: every implementation of LossKernel, fastest first. `auto` takes the first
 * one that computes in the task's precision and is available here, and says which ones it skipped
 * and why. A kernel named explicitly that is not available is an error with the reason, never a
 * silent fallback; the one exception is precision: a kernel named for a task in a precision it
 * lacks (float64 work under `webgpu`) leaves that task to the best kernel that has it, and says so.
 * A new kernel is one entry in KERNELS.
 *
 * - webgpu: WGSL compute shaders through Dawn, float32, on a hardware GPU adapter;
 * - native: C++ with OpenBLAS (an N-API addon built by npm install when a toolchain and OpenBLAS are
 *   present), float32 and float64;
 * - wasm: WebAssembly SIMD, with fused multiply-add where the runtime has relaxed SIMD;
 * - reference: plain TypeScript, the oracle the others are tested against.
 */
import type { Dtype } from '../mlp';
import { native } from './native';
import { reference } from './reference';
import type { KernelEntry, KernelName } from './types';
import { wasm } from './wasm';
import { webgpu } from './webgpu';

export const KERNELS: readonly KernelEntry[] = [webgpu, native, wasm, reference];

export type KernelRequest = 'auto' | KernelName;
export const KERNEL_REQUESTS: readonly KernelRequest[] = ['auto', ...KERNELS.map((k) => k.name)];

export interface KernelDecision {
  entry: KernelEntry;
  /** Kernels passed over (faster ones, or the one named), with the reason for each. */
  skipped: { name: KernelName; reason: string }[];
}

export class KernelUnavailable extends Error {
  override name = 'KernelUnavailable';
}

export function chooseKernel(request: KernelRequest, dtype: Dtype): KernelDecision {
  const skipped: KernelDecision['skipped'] = [];
  if (request !== 'auto') {
    const entry = KERNELS.find((k) => k.name === request);
    if (!entry) throw new KernelUnavailable(`there is no kernel named "${request}"; expected one of ${KERNEL_REQUESTS.join(', ')}`);
    if (entry.precisions.includes(dtype)) {
      const a = entry.available({ named: true });
      if (!a.ok) throw new KernelUnavailable(`the ${request} kernel was asked for but is not available: ${a.reason}`);
      return { entry, skipped };
    }
    skipped.push({ name: entry.name, reason: `it was asked for, but it computes in ${entry.precisions.join(' and ')} only and this task is ${dtype}` });
  }
  for (const entry of KERNELS) {
    if (skipped.some((s) => s.name === entry.name)) continue;
    if (!entry.precisions.includes(dtype)) {
      skipped.push({ name: entry.name, reason: `it computes in ${entry.precisions.join(' and ')} only` });
      continue;
    }
    const a = entry.available({ named: false });
    if (a.ok) return { entry, skipped };
    skipped.push({ name: entry.name, reason: a.reason });
  }
  throw new KernelUnavailable(`no kernel is available: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

/** Sources that decide what any kernel computes without being imported (C++, AssemblyScript, WGSL). */
export function kernelSourceFiles(): string[] {
  return KERNELS.flatMap((k) => k.sourceFiles());
}

export type { KernelProblem, LossKernel, NumericIdentity } from './types';

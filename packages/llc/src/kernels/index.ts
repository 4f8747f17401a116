/**
 * The kernel registry: every implementation of LossKernel, fastest first. `auto` takes the first
 * one available here and says which ones it skipped and why; naming a kernel that is not available
 * is an error with the reason, never a silent fallback. A new kernel is one entry in KERNELS.
 *
 * - native: C++ with OpenBLAS (an N-API addon built by npm install when a toolchain and OpenBLAS are
 *   present), float32 and float64;
 * - wasm: WebAssembly SIMD, with fused multiply-add where the runtime has relaxed SIMD;
 * - reference: plain TypeScript, the oracle the others are tested against.
 */
import { native } from './native';
import { reference } from './reference';
import type { KernelEntry, KernelName } from './types';
import { wasm } from './wasm';

export const KERNELS: readonly KernelEntry[] = [native, wasm, reference];

export type KernelRequest = 'auto' | KernelName;
export const KERNEL_REQUESTS: readonly KernelRequest[] = ['auto', ...KERNELS.map((k) => k.name)];

export interface KernelDecision {
  entry: KernelEntry;
  /** Faster kernels passed over, with the reason each is not available. */
  skipped: { name: KernelName; reason: string }[];
}

export class KernelUnavailable extends Error {
  override name = 'KernelUnavailable';
}

export function chooseKernel(request: KernelRequest): KernelDecision {
  if (request !== 'auto') {
    const entry = KERNELS.find((k) => k.name === request);
    if (!entry) throw new KernelUnavailable(`there is no kernel named "${request}"; expected one of ${KERNEL_REQUESTS.join(', ')}`);
    const a = entry.available();
    if (!a.ok) throw new KernelUnavailable(`the ${request} kernel was asked for but is not available: ${a.reason}`);
    return { entry, skipped: [] };
  }
  const skipped: KernelDecision['skipped'] = [];
  for (const entry of KERNELS) {
    const a = entry.available();
    if (a.ok) return { entry, skipped };
    skipped.push({ name: entry.name, reason: a.reason });
  }
  throw new KernelUnavailable(`no kernel is available: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

/** Sources that decide what any kernel computes without being imported (C++, AssemblyScript). */
export function kernelSourceFiles(): string[] {
  return KERNELS.flatMap((k) => k.sourceFiles());
}

export type { KernelProblem, LossKernel, NumericIdentity } from './types';

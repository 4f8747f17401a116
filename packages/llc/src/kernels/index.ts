/**
 * Kernel selection: `reference` (plain TypeScript, float64 arithmetic; the oracle) or `wasm`
 * (WebAssembly SIMD, relaxed-SIMD FMA when the runtime has it, worker threads).
 */
import { referenceKernel } from './reference';
import type { KernelProblem, LossKernel } from './types';
import { wasmSourceFiles, WasmVariant } from './wasm/build';
import { wasmKernel } from './wasm/kernel';

export type KernelBackend = 'reference' | 'wasm';
export const KERNEL_BACKENDS: readonly KernelBackend[] = ['reference', 'wasm'];

export interface KernelChoice {
  backend: KernelBackend;
  /** Threads for one task (the wasm backend); results do not depend on it. */
  threads: number;
  /** The wasm build; by default relaxed SIMD (fused multiply-add) when the runtime has it. */
  variant?: WasmVariant;
}

export type { KernelProblem } from './types';

export function createKernel(p: KernelProblem, choice: KernelChoice): LossKernel {
  return choice.backend === 'reference'
    ? referenceKernel(p)
    : wasmKernel(p, choice.threads, choice.variant);
}

/** Sources that decide what the kernels compute without being imported: the WebAssembly code. */
export function kernelSourceFiles(): string[] {
  return wasmSourceFiles();
}

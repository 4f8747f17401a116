/**
 * The WebAssembly kernel's entry in the kernel registry: always available (it needs only Node), in
 * the relaxed-SIMD build (fused multiply-add) where the runtime has it, else plain SIMD.
 */
import type { KernelEntry } from '../types';
import { wasmSourceFiles } from './build';
import { relaxedSimdSupported, wasmIdentity, wasmKernel } from './kernel';

export const wasm: KernelEntry = {
  name: 'wasm',
  precisions: ['float32', 'float64'],
  available: () => ({ ok: true }),
  create: (problem, { threads }) => wasmKernel(problem, threads),
  identity: (dtype) => wasmIdentity(relaxedSimdSupported() ? 'relaxed-simd' : 'simd', dtype),
  sourceFiles: wasmSourceFiles,
};

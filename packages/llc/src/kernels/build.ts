/**
 * Builds every kernel ahead of use; `npm install` and `npm rebuild` run it (the `install` script).
 * The WebAssembly kernels must build (they need only npm packages). The native kernel is optional:
 * without a C++ toolchain or OpenBLAS the install still succeeds, says so here, and every task
 * that would have used it says which kernel runs instead and how to enable it.
 *
 *   node -r @swc-node/register packages/llc/src/kernels/build.ts
 */
import { buildNative, ENABLE_NATIVE } from './native/build';
import { WASM_VARIANTS, wasmBinary } from './wasm/build';

for (const variant of WASM_VARIANTS) console.log(`lambda-hat: WebAssembly kernels (${variant}): ${wasmBinary(variant)}`);
const native = buildNative();
if (native.ok) console.log(`lambda-hat: native kernel: ${native.path}`);
else {
  console.warn(`\n*** lambda-hat: the native CPU kernel was not built: ${native.reason}`);
  console.warn(`*** The WebAssembly kernels will be used instead. To enable the native kernel: ${ENABLE_NATIVE}\n`);
}

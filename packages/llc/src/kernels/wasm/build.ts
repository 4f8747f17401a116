/**
 * Builds the WebAssembly kernels from the AssemblyScript sources in ./assembly with the `asc`
 * compiler from npm, in two variants: plain SIMD, and relaxed SIMD (fused multiply-add). Each
 * binary is named by a hash of the sources, so a stale binary can never be loaded: a missing one
 * is built on first use (`npm install` builds both ahead: ../build.ts).
 *
 *   npm run build:kernels
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../../canonical';

export type WasmVariant = 'simd' | 'relaxed-simd';

const ASSEMBLY = join(__dirname, 'assembly');
const BUILD = join(__dirname, 'build');
const FEATURES: Record<WasmVariant, string> = { simd: 'simd,threads', 'relaxed-simd': 'simd,threads,relaxed-simd' };

/** The AssemblyScript sources: they decide what the kernels compute, so they are cache inputs. */
export function wasmSourceFiles(): string[] {
  return readdirSync(ASSEMBLY)
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .map((f) => join(ASSEMBLY, f));
}

function sourceHash(): string {
  return sha256Hex(wasmSourceFiles().map((f) => `${f.slice(ASSEMBLY.length)}\0${readFileSync(f, 'utf8')}`).join('\0')).slice(0, 16);
}

/** The path of the variant's binary, compiling it first if it is missing. */
export function wasmBinary(variant: WasmVariant): string {
  const out = join(BUILD, `kernels-${variant}-${sourceHash()}.wasm`);
  if (existsSync(out)) return out;
  mkdirSync(BUILD, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  const asc = require.resolve('assemblyscript/bin/asc.js');
  const proc = spawnSync(
    process.execPath,
    [
      asc,
      join(ASSEMBLY, 'index.ts'),
      '-o', tmp,
      '--runtime', 'stub',
      '--noAssert',
      '-O3',
      '--importMemory',
      '--sharedMemory',
      '--initialMemory', '2',
      '--maximumMemory', '65536',
      '--memoryBase', '65536',
      '--enable', FEATURES[variant],
    ],
    { encoding: 'utf8' },
  );
  if (proc.status !== 0 || !existsSync(tmp)) {
    rmSync(tmp, { force: true });
    throw new Error(`building the ${variant} WebAssembly kernels failed:\n${proc.stderr}${proc.stdout}`);
  }
  renameSync(tmp, out);
  return out;
}

export const WASM_VARIANTS = Object.keys(FEATURES) as WasmVariant[];

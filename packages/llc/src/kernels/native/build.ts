/**
 * Builds the native CPU kernel, an N-API addon (./src, ./binding.gyp) linked against OpenBLAS, with
 * node-gyp. `npm install` and `npm rebuild` run this (through the `install` script); it never fails
 * the install: without a C++ toolchain or OpenBLAS it records why in build/failure.txt, and the
 * kernel registry reports that reason and falls back to the WebAssembly kernels.
 *
 * The binary is named by a hash of the sources, like the WebAssembly builds, so a binary built from
 * other sources is never loaded.
 *
 *   npm run build:kernels
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sha256Hex } from '../../canonical';

const NATIVE = __dirname;
const BUILD = join(NATIVE, 'build');
const FAILURE = join(BUILD, 'failure.txt');

/** What a user runs to get the native kernel (Debian/Ubuntu). */
export const ENABLE_NATIVE = 'apt-get install build-essential libopenblas-dev && npm rebuild';

/** binding.gyp and the C++ sources: they decide what the kernel computes, so they are cache inputs. */
export function nativeSourceFiles(): string[] {
  const src = join(NATIVE, 'src');
  return [join(NATIVE, 'binding.gyp'), ...readdirSync(src).sort().map((f) => join(src, f))];
}

function sourceHash(): string {
  return sha256Hex(nativeSourceFiles().map((f) => `${f.slice(NATIVE.length)}\0${readFileSync(f, 'utf8')}`).join('\0')).slice(0, 16);
}

/** Where the addon built from the current sources is, whether or not it exists. */
export function nativeBinaryPath(): string {
  return join(BUILD, `native-${sourceHash()}.node`);
}

/** Why the last build failed, if it did. */
export function lastBuildFailure(): string | null {
  return existsSync(FAILURE) ? readFileSync(FAILURE, 'utf8').trim() : null;
}

/** npm's own node-gyp (npm sets npm_config_node_gyp for scripts), else one installed beside Node's npm. */
function nodeGyp(): string | null {
  const candidates = [process.env.npm_config_node_gyp, join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')];
  return candidates.find((c): c is string => !!c && existsSync(c)) ?? null;
}

/** The build's output, read for the cause a user can act on. */
function diagnose(output: string): string {
  if (/cblas\.h: No such file/.test(output)) return 'the OpenBLAS headers are missing (Debian package libopenblas-dev)';
  if (/cannot find -lopenblas/.test(output)) return 'the OpenBLAS library is missing (Debian package libopenblas-dev)';
  if (/not found: (make|g\+\+|c\+\+|cc)|(make|g\+\+|c\+\+): (command )?not found|spawn (make|g\+\+) ENOENT/.test(output)) return 'no C++ toolchain (make and g++: Debian package build-essential)';
  if (/find Python|python.*not found/i.test(output)) return 'node-gyp found no Python 3';
  const errors = output.split('\n').filter((l) => /error/i.test(l)).slice(0, 5);
  return `the build failed:\n${(errors.length ? errors : output.split('\n').slice(-10)).join('\n')}`;
}

export function buildNative(): { ok: true; path: string } | { ok: false; reason: string } {
  const out = nativeBinaryPath();
  if (existsSync(out)) return { ok: true, path: out };
  const fail = (reason: string) => {
    mkdirSync(BUILD, { recursive: true });
    writeFileSync(FAILURE, `${reason}\n`);
    return { ok: false as const, reason };
  };
  const gyp = nodeGyp();
  if (!gyp) return fail('node-gyp (which comes with npm) was not found');
  // Node's own headers, when they sit beside the binary (Debian's nodejs, the official tarballs),
  // so that node-gyp never needs the network.
  const prefix = join(dirname(process.execPath), '..');
  const nodedir = existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
  const proc = spawnSync(process.execPath, [gyp, 'rebuild', `--directory=${NATIVE}`, '--jobs=max', ...nodedir], { encoding: 'utf8', env: process.env });
  const built = join(BUILD, 'Release', 'lambda_hat_native.node');
  if (proc.error) return fail(`node-gyp could not start: ${proc.error.message}`);
  if (proc.status !== 0 || !existsSync(built)) return fail(diagnose(`${proc.stdout}\n${proc.stderr}`));
  const tmp = `${out}.tmp-${process.pid}`;
  copyFileSync(built, tmp);
  renameSync(tmp, out);
  rmSync(FAILURE, { force: true });
  return { ok: true, path: out };
}


import { extname, join } from 'node:path';

/**
 * The code a worker thread evaluates to run `name` (worker.ts, or worker.js where the sources were
 * compiled, as bench/gpu carries them) from `dir`: TypeScript goes through the same loader as the
 * process that starts the thread.
 */
export function workerSource(dir: string, name: string, caller: string): string {
  const file = JSON.stringify(join(dir, `${name}${extname(caller)}`));
  return extname(caller) === '.ts' ? `require(${JSON.stringify(require.resolve('@swc-node/register'))}); require(${file});` : `require(${file});`;
}

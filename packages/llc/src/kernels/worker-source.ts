import { extname, join } from 'node:path';

/** The CLI's TypeScript hook (bin/typescript.js), with its cache of compiled files. */
const TYPESCRIPT_HOOK = join(__dirname, '..', '..', '..', '..', 'bin', 'typescript.js');

/**
 * The code a worker thread evaluates to run `name` (worker.ts, or worker.js where the sources were
 * compiled, as bench/gpu carries them) from `dir`. TypeScript goes through the CLI's hook, whose
 * files are compiled already: a thread that registered @swc-node/register instead loaded the
 * TypeScript compiler, ~0.2 s of CPU for every kernel thread of every worker.
 */
export function workerSource(dir: string, name: string, caller: string): string {
  const file = JSON.stringify(join(dir, `${name}${extname(caller)}`));
  return extname(caller) === '.ts' ? `require(${JSON.stringify(TYPESCRIPT_HOOK)}).registerTypeScript(); require(${file});` : `require(${file});`;
}

/**
 * Python with numpy, an independent reader of our .npy files. .ci/run installs it; elsewhere, tests
 * that need it skip with a loud message when no interpreter has numpy, and fail under CI.
 */
import { spawnSync } from 'node:child_process';

function find(): string | null {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    const p = spawnSync(candidate, ['-c', 'import numpy'], { encoding: 'utf8' });
    if (p.status === 0) return candidate;
  }
  return null;
}

export const python = find();

if (!python) {
  const message = 'numpy not found for python3 or /usr/bin/python3: the .npy interoperability test cannot run (apt-get install python3-numpy)';
  if (process.env.CI) throw new Error(message);
  console.warn(`\n*** SKIPPING: ${message} ***\n`);
}

export function runPython(code: string): string {
  const p = spawnSync(python!, ['-c', code], { encoding: 'utf8' });
  if (p.status !== 0) throw new Error(`python failed: ${p.stderr}`);
  return p.stdout;
}

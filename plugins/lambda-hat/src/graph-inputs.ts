/**
 * What the plugin's projects are made from, as hashes for its cache (index.ts): the presets under
 * config/ and the source of everything that resolves a file into projects — the experiment and
 * tuning loaders, the samplers' option schemas, the import scan that names each task's code (so a
 * new import anywhere changes the hash), and this plugin. Reading ~300 small files is a few
 * milliseconds; resolving a 10,000-run sweep is seconds.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hashTree } from '../../../runner/hash-tree';

/** Directories whose files (recursively) the projects depend on: the presets, then the code. */
const SOURCES = [...['model', 'data', 'teacher', 'training', 'sampler', 'posterior'].map((kind) => `config/${kind}`), 'rules', 'packages/llc/src', 'runner', 'plugins/lambda-hat'];
/** Build outputs and the like: not sources. */
const SKIP = new Set(['node_modules', 'build']);

/** One hash of every source the projects of any file depend on, and of how they are named. */
export function sourcesHash(root: string, executor: string): string {
  const hash = createHash('sha256').update(`${executor}\0`);
  for (const dir of SOURCES) hashTree(hash, root, dir, (name) => !SKIP.has(name));
  return hash.digest('hex');
}

/** The hash of one experiment or tuning file. */
export function fileHash(path: string): string {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return 'missing';
  }
}

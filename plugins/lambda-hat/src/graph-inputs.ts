/**
 * What the plugin's projects are made from, as hashes for its cache (index.ts): the presets under
 * config/ and the source of everything that resolves a file into projects — the experiment and
 * tuning loaders, the samplers' option schemas, the import scan that names each task's code (so a
 * new import anywhere changes the hash), and this plugin. Reading ~300 small files is a few
 * milliseconds; resolving a 10,000-run sweep is seconds.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Directories whose files (recursively) the projects depend on: the presets, then the code. */
const SOURCES = [...['model', 'data', 'teacher', 'training', 'sampler', 'posterior'].map((kind) => `config/${kind}`), 'rules', 'packages/llc/src', 'runner', 'plugins/lambda-hat'];
/** Build outputs and the like: not sources. */
const SKIP = new Set(['node_modules', 'build']);

function addTree(hash: ReturnType<typeof createHash>, root: string, rel: string): void {
  let entries: string[];
  try {
    entries = readdirSync(join(root, rel)).sort();
  } catch {
    return;
  }
  for (const name of entries) {
    if (SKIP.has(name)) continue;
    const path = join(rel, name);
    const stat = statSync(join(root, path));
    if (stat.isDirectory()) addTree(hash, root, path);
    else if (stat.isFile()) hash.update(`${path}\0`).update(readFileSync(join(root, path))).update('\0');
  }
}

/** One hash of every source the projects of any file depend on, and of how they are named. */
export function sourcesHash(root: string, executor: string): string {
  const hash = createHash('sha256').update(`${executor}\0`);
  for (const dir of SOURCES) addTree(hash, root, dir);
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

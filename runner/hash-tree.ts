/**
 * Hashing a file or a folder's files: each file's workspace-relative path and bytes, in sorted order, so the
 * hash changes when any file is added, removed, renamed or edited. Used for the plugin's cache key
 * (plugins/lambda-hat/src/graph-inputs.ts) and the ledger of kept runs (kept-runs.ts).
 */
import type { Hash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Adds `path` (workspace-relative; nothing if it is absent) to `hash`: a regular file itself, a
 * folder every regular file under it, descending into the directories and taking the files for
 * which `take(name, isDirectory)` holds.
 */
export function hashTree(hash: Hash, root: string, path: string, take: (name: string, isDirectory: boolean) => boolean = () => true): void {
  let stat;
  try {
    stat = statSync(join(root, path));
  } catch {
    return;
  }
  if (stat.isFile()) hash.update(`${path}\0`).update(readFileSync(join(root, path))).update('\0');
  if (!stat.isDirectory()) return;
  for (const name of readdirSync(join(root, path)).sort()) {
    const rel = join(path, name);
    if (!take(name, statSync(join(root, rel)).isDirectory())) continue;
    hashTree(hash, root, rel, take);
  }
}

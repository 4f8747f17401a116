/**
 * Hashing a folder's files: each file's workspace-relative path and bytes, in sorted order, so the
 * hash changes when any file is added, removed, renamed or edited. Used for the plugin's cache key
 * (plugins/lambda-hat/src/graph-inputs.ts) and the ledger of kept runs (kept-runs.ts).
 */
import type { Hash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Adds every regular file under `dir` (workspace-relative; nothing if it is absent) to `hash`,
 * descending into the directories and taking the files for which `take(name, isDirectory)` holds.
 */
export function hashTree(hash: Hash, root: string, dir: string, take: (name: string, isDirectory: boolean) => boolean = () => true): void {
  let entries: string[];
  try {
    entries = readdirSync(join(root, dir)).sort();
  } catch {
    return;
  }
  for (const name of entries) {
    const rel = join(dir, name);
    const stat = statSync(join(root, rel));
    if (!take(name, stat.isDirectory())) continue;
    if (stat.isDirectory()) hashTree(hash, root, rel, take);
    else if (stat.isFile()) hash.update(`${rel}\0`).update(readFileSync(join(root, rel))).update('\0');
  }
}

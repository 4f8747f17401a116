/**
 * The code a task runs, as cache inputs: the transitive closure of static imports from the rule's
 * entry points. Relative imports give source files; bare imports give npm packages (hashed by their
 * locked versions). Type-only imports and dynamic `import()` are not followed: the former vanish at
 * run time, and the latter is how the sampler registry keeps each sampler out of the others' inputs
 * (the rule names the sampler module it loads as an entry point instead).
 */
import { readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';

export interface CodeInputs {
  /** Workspace-relative source files, sorted. */
  files: string[];
  /** npm package names, sorted. */
  packages: string[];
}

const STATIC_IMPORT = /^[ \t]*(?:import|export)\s+(type\s+)?(?:[^;'"]*?\s+from\s+)?['"]([^'"]+)['"]/gm;
const BUILTINS = new Set(builtinModules);

function specifiers(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(STATIC_IMPORT)) if (!m[1]) out.push(m[2]);
  return out;
}

function resolveRelative(fromFile: string, spec: string): string {
  const base = resolve(dirname(fromFile), spec);
  for (const candidate of [`${base}.ts`, join(base, 'index.ts'), base]) if (statSync(candidate, { throwIfNoEntry: false })?.isFile()) return candidate;
  throw new Error(`${fromFile}: cannot resolve import "${spec}"`);
}

function packageName(spec: string): string | null {
  if (spec.startsWith('node:') || BUILTINS.has(spec.split('/')[0])) return null;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Computes closures with a shared memo, so many tasks with the same entry points cost one scan. */
export class CodeInputScanner {
  private readonly perFile = new Map<string, { files: Set<string>; packages: Set<string> }>();

  constructor(private readonly root: string) {}

  closure(entryPoints: string[]): CodeInputs {
    const files = new Set<string>();
    const packages = new Set<string>();
    for (const entry of entryPoints) {
      const c = this.fileClosure(resolve(entry));
      c.files.forEach((f) => files.add(f));
      c.packages.forEach((p) => packages.add(p));
    }
    return { files: [...files].map((f) => relative(this.root, f)).sort(), packages: [...packages].sort() };
  }

  private fileClosure(start: string): { files: Set<string>; packages: Set<string> } {
    const memo = this.perFile.get(start);
    if (memo) return memo;
    const files = new Set<string>();
    const packages = new Set<string>();
    const pending = [start];
    while (pending.length) {
      const file = pending.pop()!;
      if (files.has(file)) continue;
      files.add(file);
      if (!file.endsWith('.ts')) continue;
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        if (spec.startsWith('.')) pending.push(resolveRelative(file, spec));
        else {
          const pkg = packageName(spec);
          if (pkg) packages.add(pkg);
        }
      }
    }
    const result = { files, packages };
    this.perFile.set(start, result);
    return result;
  }
}

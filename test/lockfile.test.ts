/**
 * A fresh clone installs without touching package-lock.json: npm rewrites the lockfile when it lacks
 * an entry, such as another platform's optional binary (@swc/core and Nx ship one package per
 * platform), which leaves `git status` dirty and marks every Nx project affected. npm's own
 * resolution, run on a copy, must leave the file byte for byte as committed.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { REPO } from './support/workspace';

const dir = mkdtempSync(join(tmpdir(), 'lh-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('npm install leaves package-lock.json as committed', () => {
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(REPO, f), join(dir, f));
  const r = spawnSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  expect(readFileSync(join(dir, 'package-lock.json'), 'utf8')).toBe(readFileSync(join(REPO, 'package-lock.json'), 'utf8'));
});

it('locks every platform binary of the packages that ship them', () => {
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { optionalDependencies?: Record<string, string> }> };
  const missing = Object.entries(lock.packages).flatMap(([path, p]) =>
    Object.keys(p.optionalDependencies ?? {}).filter((d) => !lock.packages[`${path ? `${path}/` : ''}node_modules/${d}`] && !lock.packages[`node_modules/${d}`]).map((d) => `${path || '(root)'} → ${d}`),
  );
  expect(missing).toEqual([]);
  // The ones a fresh clone on Linux, macOS and Windows needs for the TypeScript loader and Nx.
  for (const name of ['@swc/core-darwin-arm64', '@swc/core-win32-x64-msvc', '@swc/core-linux-x64-gnu', '@nx/nx-darwin-arm64', '@nx/nx-win32-x64-msvc']) expect(lock.packages[`node_modules/${name}`], name).toBeDefined();
});

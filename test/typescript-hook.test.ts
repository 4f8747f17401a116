/**
 * bin/typescript.js, the compiler hook of the CLI and its workers: a file is compiled once and then
 * read from node_modules/.cache by every later process, which never loads swc; an edited file is
 * compiled afresh; and a stack trace still names the TypeScript line.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const HOOK = join(__dirname, '..', 'bin', 'typescript.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { entryFor } = require(HOOK) as { entryFor: (code: string, filename: string) => string };

const dir = mkdtempSync(join(tmpdir(), 'lh-ts-hook-'));
const entries: string[] = [];
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  for (const e of entries) rmSync(e, { force: true });
});

/** Loads `file` in a fresh Node process through the hook: what it printed, and whether swc was loaded. */
function load(file: string): { out: string; swcLoaded: boolean; stderr: string } {
  const script = `require(${JSON.stringify(HOOK)}).registerTypeScript();
try { require(${JSON.stringify(file)}); } catch (e) { console.log(String(e.stack).split('\\n')[1].trim()); }
console.log(Object.keys(require.cache).some((k) => k.includes('@swc/core') && !k.endsWith('package.json')) ? 'swc' : 'no swc');`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  const lines = r.stdout.trim().split('\n');
  return { out: lines.slice(0, -1).join('\n'), swcLoaded: lines.at(-1) === 'swc', stderr: r.stderr };
}

describe('the TypeScript hook', () => {
  it('compiles a file once; later processes read it from the cache without loading swc', () => {
    const file = join(dir, 'answer.ts');
    // A source no other run has seen, so that its entry is new.
    const code = `const answer: number = 42; // ${process.pid} ${Date.now()}\nconsole.log('answer', answer);\n`;
    writeFileSync(file, code);
    entries.push(entryFor(code, file));
    expect(existsSync(entries[0])).toBe(false);

    const first = load(file);
    expect(first, first.stderr).toMatchObject({ out: 'answer 42', swcLoaded: true });
    expect(existsSync(entries[0])).toBe(true);
    expect(load(file)).toMatchObject({ out: 'answer 42', swcLoaded: false });

    // An edit is another entry: compiled afresh, never the old output.
    const edited = code.replace('42', '43');
    writeFileSync(file, edited);
    entries.push(entryFor(edited, file));
    expect(load(file)).toMatchObject({ out: 'answer 43', swcLoaded: true });
  });

  it('keeps stack traces on the TypeScript lines, from the cache too', () => {
    const file = join(dir, 'throws.ts');
    const code = `// ${process.pid} ${Date.now()}\ninterface Unused { a: number }\ntype Alias = string;\n\nthrow new Error('here' as Alias);\n`;
    writeFileSync(file, code);
    entries.push(entryFor(code, file));
    for (const round of ['compiled', 'cached']) expect(load(file).out, round).toBe(`at Object.<anonymous> (${file}:5:7)`);
  });
});

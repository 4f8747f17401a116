/**
 * How `lambda-hat validate` scales with the size of an experiment file: explicit sampler entries
 * (500, 4,000, 32,000), the same 4,000 entries each with a mistake, and one entry swept over
 * 100,000 seeds. One JSON line per file: wall and CPU seconds and peak memory (GNU time), and the
 * lines it printed (runs listed, or problems reported through a pipe, all of them).
 *
 *   npm run bench:validate
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const TARGET = '  - { model: small, data: small, seed: 1 }\n';

const explicit = (n: number, mistake = false) =>
  `experiment: big\ntargets:\n${TARGET}samplers:\n${Array.from({ length: n }, (_, i) => `  - { name: sgld, seed: ${i + 1}, overrides: { ${mistake ? 'stepz' : 'steps'}: 100 } }\n`).join('')}`;
const swept = (n: number) => `experiment: big\ntargets:\n${TARGET}samplers:\n  - { name: sgld, sweep: { seed: { from: 1, to: ${n} } } }\n`;

function measure(name: string, text: string, expectStatus: number): void {
  const dir = mkdtempSync(join(tmpdir(), 'lh-validate-'));
  try {
    const file = join(dir, 'big.yaml');
    writeFileSync(file, text);
    const stats = join(dir, 'time.txt');
    // Through a pipe, as a CI log or `| less` reads it: every line must arrive.
    const r = spawnSync('/usr/bin/time', ['-o', stats, '-f', '%e %U %S %M', 'node', join(ROOT, 'bin', 'lambda-hat.js'), 'validate', file], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 30 });
    if (r.status !== expectStatus) throw new Error(`${name}: status ${r.status}, expected ${expectStatus}:\n${(r.stderr || r.stdout).slice(-2000)}`);
    const [wall, user, sys, rssKb] = readFileSync(stats, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    const lines = `${r.stdout}${r.stderr}`.trim().split('\n').length;
    console.log(JSON.stringify({ bench: 'validate', file: name, bytes: text.length, status: r.status, lines, wall_s: wall, cpu_s: Number((user + sys).toFixed(2)), peak_mb: Math.round(rssKb / 1024) }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const n of [500, 4000, 32000]) measure(`${n} entries`, explicit(n), 0);
measure('4000 entries, each with a mistake', explicit(4000, true), 2);
measure('a sweep of 100000 seeds', swept(100000), 0);

/**
 * What an nx command loads, process by process: not the TypeScript compiler (typescript, loaded by
 * @swc-node/register) in the Nx process or in the processes it forks for our executors, and not the
 * rules (graph.ts and what it imports) in the Nx process when the plugin's graph comes from its
 * cache. Each cost ~150 ms of every command (docs/architecture.md, bench/README.md). A probe that
 * NODE_OPTIONS preloads into every Node process of the command writes, at exit, what it loaded.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ScratchWorkspace } from './support/workspace';

const EXPERIMENT = `experiment: tiny
targets:
  - { model: small, data: small, seed: 1, overrides: { training: { steps: 200 } } }
samplers:
  - { name: sgld, overrides: { warmup: 100, steps: 1000, eval_every: 10 } }
`;

interface Loaded {
  argv: string[];
  modules: string[];
}

const TYPESCRIPT_COMPILER = /node_modules\/(typescript|@swc-node\/register)\//;

describe('what an nx command loads', () => {
  const ws = new ScratchWorkspace(EXPERIMENT);
  afterAll(() => ws.dispose());

  it('no TypeScript compiler in Nx or its executors, and no rules in Nx while the graph is cached', () => {
    const first = ws.nx('run-many', '-t', 'sample');
    expect(first.status, first.output).toBe(0);

    const dir = ws.path('probe');
    mkdirSync(dir);
    const probe = ws.path('probe.js');
    writeFileSync(probe, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(dir)} + '/' + process.pid + '.json', JSON.stringify({ argv: process.argv.slice(1), modules: Object.keys(require.cache) })));\n`);
    ws.env.NODE_OPTIONS = `--require ${probe}`;
    const again = ws.nx('run-many', '-t', 'sample');
    delete ws.env.NODE_OPTIONS;
    expect(again.status, again.output).toBe(0);

    const processes: Loaded[] = readdirSync(dir).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
    const nx = processes.filter((p) => p.argv.includes('run-many'));
    const executors = processes.filter((p) => p.argv.some((a) => a.endsWith('run-executor.js')));
    // Not vacuous: the Nx process loaded our plugin, and Nx forked the run table's executor.
    expect(nx).toHaveLength(1);
    expect(nx[0].modules.some((m) => m.endsWith('plugins/lambda-hat/index.ts'))).toBe(true);
    expect(executors.length).toBeGreaterThanOrEqual(1);
    expect(executors.some((p) => p.modules.some((m) => m.endsWith('plugins/lambda-hat/src/summary-executor.ts')))).toBe(true);

    for (const p of [...nx, ...executors]) expect(p.modules.filter((m) => TYPESCRIPT_COMPILER.test(m)).slice(0, 3), p.argv.join(' ')).toEqual([]);
    expect(nx[0].modules.filter((m) => /\/rules\/|plugins\/lambda-hat\/src\/graph\.ts$/.test(m))).toEqual([]);
  });
});

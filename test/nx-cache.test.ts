/**
 * The caching claims, proved with the real `nx` CLI in a scratch workspace. The steps run in order
 * and build on each other's cache.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PRESETS, Experiment, loadExperiment } from '../rules/experiment';
import { ScratchWorkspace } from './support/workspace';

const SHORT_TRAINING = '{ training: { steps: 300 } }';
const SGLD = 'steps: 200, warmup: 20, eval_every: 20, batch_size: 32';

const HMC = '{ name: hmc, overrides: { draws: 40, warmup: 30 } }';

const experiment = (targetB = 'seed: 2', samplerB = `seed: 2, overrides: { ${SGLD}, precond: rmsprop }`) => `experiment: cachetest
targets:
  - { model: small, data: small, seed: 1, overrides: ${SHORT_TRAINING} }
  - { model: small, data: small, ${targetB}, overrides: ${SHORT_TRAINING} }
samplers:
  - { name: sgld, seed: 1, overrides: { ${SGLD} } }
  - { name: sgld, ${samplerB} }
  - ${HMC}
`;

/** The same experiment with comments, block style and every mapping's keys in another order. */
const REWRITTEN = `# A comment at the top.
samplers:
  - overrides: { eval_every: 20, batch_size: 32, warmup: 20, steps: 200 }   # same settings
    seed: 1
    name: sgld
  - name: sgld
    overrides:
      precond: rmsprop
      batch_size: 32
      eval_every: 20
      warmup: 20
      steps: 200
    seed: 2
  - { overrides: { warmup: 30, draws: 40 }, name: hmc }
targets:
  - overrides: { training: { steps: 300 } }
    seed: 1
    data: small
    model: small
  # the second target
  - { seed: 2, overrides: ${SHORT_TRAINING}, data: small, model: small, teacher: _null }
experiment: cachetest
`;

describe('Nx graph and cache', () => {
  let ws: ScratchWorkspace;
  const resolve = (): Promise<Experiment> => loadExperiment({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/experiments.yaml'));
  const tasksOf = (exp: Experiment) => [...exp.targets.map((t) => `${t.id}:build-target`), ...exp.runs.map((r) => `${r.id}:sample`), 'cachetest:aggregate'].sort();
  let original: Experiment;

  beforeAll(async () => {
    ws = new ScratchWorkspace(experiment());
    original = await resolve();
  });
  afterAll(() => ws.dispose());

  it('lists one project per target, per (target, sampler) and per experiment', () => {
    const r = ws.nx('show', 'projects');
    expect(r.status).toBe(0);
    const names = r.output.trim().split('\n').sort();
    // Plus the project whose named inputs hold the code every task runs.
    expect(names).toEqual([...original.targets.map((t) => t.id), ...original.runs.map((x) => x.id), 'cachetest', '_lambda-hat-code'].sort());
  });

  it('writes the project graph with target ← run ← experiment edges', () => {
    const r = ws.nx('graph', '--file=graph.json');
    expect(r.status).toBe(0);
    const graph = JSON.parse(readFileSync(ws.path('graph.json'), 'utf8')).graph;
    for (const run of original.runs) expect(graph.dependencies[run.id]).toEqual([{ source: run.id, target: run.target, type: 'implicit' }]);
    expect(graph.dependencies.cachetest.map((d: { target: string }) => d.target).sort()).toEqual(original.runs.map((x) => x.id).sort());
  });

  it('labels entries apart (sgld#1, sgld#2) and tags projects so that -p selects one entry, one target or one sampler', () => {
    expect(original.runs.map((r) => original.labels[r.id])).toEqual(['sgld#1', 'sgld#2', 'hmc', 'sgld#1', 'sgld#2', 'hmc']);
    const select = (pattern: string) => {
      const r = ws.nx('show', 'projects', '--json', '-p', pattern);
      expect(r.status, r.output).toBe(0);
      return (JSON.parse(r.output.slice(r.output.indexOf('['))) as string[]).sort();
    };
    const [first, second] = original.targets;
    expect(select('tag:entry:sgld#2')).toEqual(original.runs.filter((r) => original.labels[r.id] === 'sgld#2').map((r) => r.id).sort());
    expect(select('tag:target:small/small#2')).toEqual([second.id, ...original.runs.filter((r) => r.target === second.id).map((r) => r.id)].sort());
    expect(select('tag:sampler:hmc')).toEqual(original.runs.filter((r) => r.sampler === 'hmc').map((r) => r.id).sort());
    expect(select('tag:experiment:cachetest')).toEqual([...original.targets.map((t) => t.id), ...original.runs.map((r) => r.id), 'cachetest'].sort());
    expect(first.id).not.toBe(second.id);
  });

  it('runs every task the first time and writes the table', () => {
    const r = ws.nx('run-many', '-t', 'sample');
    expect(r.status, r.output).toBe(0);
    expect(r.ran).toEqual(tasksOf(original));
    expect(r.cached).toEqual([]);
    for (const run of original.runs) expect(ws.exists(`artifacts/runs/${run.id}/analysis.json`)).toBe(true);
    expect(ws.exists('artifacts/experiments/cachetest/llc_runs.parquet')).toBe(true);
    for (const file of ['llc_runs.arrow', 'llc_runs.csv', 'report.html']) expect(ws.exists(`artifacts/experiments/cachetest/${file}`)).toBe(true);
  });

  it('writes llc_runs with exactly this experiment’s runs, readable by an independent Parquet reader', async () => {
    const file = ws.read('artifacts/experiments/cachetest/llc_runs.parquet');
    const rows = (await parquetReadObjects({ file: new Uint8Array(file).buffer })) as Record<string, unknown>[];
    expect(rows.map((r) => r.run_id).sort()).toEqual(original.runs.map((r) => r.id).sort());
    for (const row of rows) {
      const analysis = JSON.parse(ws.read(`artifacts/runs/${row.run_id}/analysis.json`).toString());
      expect(row).toMatchObject({ experiment: 'cachetest', target_id: analysis.target_id, sampler: analysis.sampler, chains: 4, llc_mean: analysis.llc.mean, llc_mcse: analysis.llc.mcse, r_hat: analysis.llc.r_hat });
      // The people's names: labels apart, and the teacher (preset small's student architecture, copied by `_null`).
      expect(row).toMatchObject({ label: original.labels[row.run_id as string], target_label: original.labels[analysis.target_id], activation: 'relu', teacher: '[4,4] relu' });
    }
    const arrow = tableFromIPC(ws.read('artifacts/experiments/cachetest/llc_runs.arrow'));
    expect(arrow.numRows).toBe(rows.length);
  });

  it('writes each run’s traces as Arrow IPC: one row per chain and draw, λ̂ = nβ(L_n − L0)', () => {
    const run = original.runs[0];
    const analysis = JSON.parse(ws.read(`artifacts/runs/${run.id}/analysis.json`).toString());
    const traces = tableFromIPC(ws.read(`artifacts/runs/${run.id}/traces.arrow`));
    expect(traces.numRows).toBe(analysis.llc.chains * analysis.llc.draws);
    const Ln = traces.getChild('Ln')!.toArray() as Float64Array;
    const llc = traces.getChild('llc')!.toArray() as Float64Array;
    for (let i = 0; i < traces.numRows; i++) expect(llc[i]).toBeCloseTo(analysis.temperature.n_beta * (Ln[i] - analysis.L0), 10);
    expect(llc.reduce((a, b) => a + b, 0) / llc.length).toBeCloseTo(analysis.llc.mean, 10);
  });

  it('a second run is 100% cache hits', () => {
    const r = ws.nx('run-many', '-t', 'sample');
    expect(r.status, r.output).toBe(0);
    expect(r.ran).toEqual([]);
    expect(r.cached).toEqual(tasksOf(original));
    // Every task but the summary, which prints the table as it is now.
    expect(r.summaries).toEqual(['cachetest:sample']);
    expect(r.output).toContain(`Nx read the output from the cache instead of running the command for ${r.cached.length} out of ${r.cached.length + 1} tasks`);
  });

  /**
   * The summary task's output, from its header on: the table, the paths, then only Nx's closing
   * lines. Under the `stream` style (the workspace's .env) each of its lines is headed by the
   * project's name, `prefix`.
   */
  const expectRunTable = (output: string, prefix = '') => {
    const header = output.lastIndexOf('> nx run cachetest:sample');
    expect(header, output.slice(-4000)).toBeGreaterThan(-1);
    const end = output
      .slice(header)
      .split('\n')
      .map((l) => (l.startsWith(prefix) ? l.slice(prefix.length) : l))
      .join('\n');
    expect(end).toMatch(/^cachetest: 6 runs, /m);
    expect(end).toMatch(/^label +target +sampler +λ̂ ± MCSE +R̂ +ESS +status$/m);
    for (const run of original.runs) expect(end).toMatch(new RegExp(`^${original.labels[run.id]} +${original.labels[run.target].replace(/[/#]/g, '\\$&')} +${run.sampler} +\\d+\\.\\d{3} ± \\d+\\.\\d{3} `, 'm'));
    expect(end).toContain(`report    ${ws.path('artifacts/experiments/cachetest/report.html')}`);
    const paths = `llc_runs  ${ws.path('artifacts/experiments/cachetest/llc_runs.parquet')}`;
    expect(end).toContain(paths);
    // Nothing of any other task after it: the command ends with the table.
    expect(end.slice(end.indexOf(paths))).not.toMatch(/> nx run|✔ +nx run/);
  };

  it('ends with the run table and the absolute paths of the report and llc_runs, with --outputStyle=static', () => {
    expectRunTable(ws.nx('run-many', '-t', 'sample').output);
  });

  // The README's first command as typed: no --outputStyle. Nx would hide the output of every task
  // that succeeded (static-failures-only off a terminal, its terminal UI on one); the workspace's
  // .env names the stream style instead.
  it('ends with the run table as typed, off a terminal, in CI and on a terminal', () => {
    const piped = ws.nxAsTyped(['run-many', '-t', 'sample']);
    expect(piped.status, piped.output).toBe(0);
    expect(piped.output).not.toContain('were not shown');
    expectRunTable(piped.output, 'cachetest: ');
    const ci = ws.nxAsTyped(['run-many', '-t', 'sample'], { CI: 'true' });
    expect(ci.status, ci.output).toBe(0);
    expectRunTable(ci.output, 'cachetest: ');
    const terminal = ws.nxOnTerminal(['run-many', '-t', 'sample']);
    expect(terminal.status, terminal.output).toBe(0);
    expectRunTable(terminal.output, 'cachetest: ');
  });

  it('a comment or key-order edit reruns nothing', async () => {
    ws.write('config/experiments.yaml', REWRITTEN);
    expect(tasksOf(await resolve())).toEqual(tasksOf(original));
    const r = ws.nx('run-many', '-t', 'sample');
    expect(r.status, r.output).toBe(0);
    expect(r.ran).toEqual([]);
  });

  it('editing one sampler entry reruns that sampler on each target, the aggregate and the report', async () => {
    ws.write('config/experiments.yaml', experiment(undefined, `seed: 2, overrides: { ${SGLD.replace('steps: 200', 'steps: 240')}, precond: rmsprop }`));
    const edited = await resolve();
    const newRuns = edited.runs.filter((r) => !original.runs.some((o) => o.id === r.id));
    expect(newRuns.map((r) => r.target).sort()).toEqual(original.targets.map((t) => t.id).sort());
    const r = ws.nx('run-many', '-t', 'sample');
    expect(r.status, r.output).toBe(0);
    expect(r.ran).toEqual([...newRuns.map((x) => `${x.id}:sample`), 'cachetest:aggregate'].sort());
  });

  it('editing one target reruns its build, its samples, the aggregate and the report', async () => {
    const before = await resolve();
    ws.write('config/experiments.yaml', experiment('seed: 3'));
    const edited = await resolve();
    const newTarget = edited.targets.find((t) => !before.targets.some((b) => b.id === t.id))!;
    const r = ws.nx('run-many', '-t', 'sample');
    expect(r.status, r.output).toBe(0);
    expect(r.ran).toEqual([`${newTarget.id}:build-target`, ...edited.runs.filter((x) => x.target === newTarget.id).map((x) => `${x.id}:sample`), 'cachetest:aggregate'].sort());
  });

  for (const sampler of ['hmc', 'sgld']) {
    it(`a change to ${sampler}.ts reruns that sampler's tasks only`, async () => {
      const current = await resolve();
      ws.append(`packages/llc/src/samplers/${sampler}.ts`, '\n// an edit\n');
      const r = ws.nx('run-many', '-t', 'sample');
      expect(r.status, r.output).toBe(0);
      expect(r.ran).toEqual([...current.runs.filter((x) => x.sampler === sampler).map((x) => `${x.id}:sample`), 'cachetest:aggregate'].sort());
    });
  }

  it('a change to the training code rebuilds; byte-identical parameters keep the samples cached', async () => {
    const current = await resolve();
    const params = current.targets.map((t) => ws.read(`artifacts/targets/${t.id}/params.npy`));
    ws.append('packages/llc/src/train.ts', '\n// an edit\n');
    const r = ws.nx('run-many', '-t', 'sample');
    expect(r.status, r.output).toBe(0);
    // The report shows the targets' training facts (meta.json), so the results folder follows them.
    expect(r.ran).toEqual([...current.targets.map((t) => `${t.id}:build-target`), 'cachetest:aggregate'].sort());
    current.targets.forEach((t, i) => expect(ws.read(`artifacts/targets/${t.id}/params.npy`).equals(params[i])).toBe(true));
  });

  it('restores deleted artifacts from the cache', async () => {
    const current = await resolve();
    const table = ws.read('artifacts/experiments/cachetest/llc_runs.parquet');
    const report = ws.read('artifacts/experiments/cachetest/report.html');
    const targetPages = current.targets.map((t) => ws.read(`artifacts/experiments/cachetest/report/${t.id}.html`));
    ws.remove('artifacts');
    expect(ws.exists('artifacts')).toBe(false);
    const r = ws.nx('run-many', '-t', 'sample');
    expect(r.status, r.output).toBe(0);
    expect(r.ran).toEqual([]);
    for (const run of current.runs) expect(ws.exists(`artifacts/runs/${run.id}/traces.arrow`)).toBe(true);
    expect(ws.read('artifacts/experiments/cachetest/llc_runs.parquet').equals(table)).toBe(true);
    expect(ws.read('artifacts/experiments/cachetest/report.html').equals(report)).toBe(true);
    current.targets.forEach((t, i) => expect(ws.read(`artifacts/experiments/cachetest/report/${t.id}.html`).equals(targetPages[i]), t.id).toBe(true));
  });

  // What a restore from the cache cut short (a full disk mid-copy) leaves: a run folder with a file
  // missing and another cut off. The next run puts the cached files back without computing anything.
  it('repairs a run folder that a restore left half-written', async () => {
    const run = (await resolve()).runs[0];
    const dir = `artifacts/runs/${run.id}`;
    const traces = ws.read(`${dir}/traces.arrow`);
    const analysis = ws.read(`${dir}/analysis.json`);
    ws.remove(`${dir}/traces.arrow`);
    ws.write(`${dir}/analysis.json`, analysis.subarray(0, 100).toString());
    const r = ws.nx('run-many', '-t', 'sample');
    expect(r.status, r.output).toBe(0);
    expect(r.ran).toEqual([]);
    expect(ws.read(`${dir}/traces.arrow`).equals(traces)).toBe(true);
    expect(ws.read(`${dir}/analysis.json`).equals(analysis)).toBe(true);
  });

  it("reuses the plugin's cached graph while nothing it reads changed, and follows a preset edit", async () => {
    const cache = ws.path('.nx/cache/lambda-hat-graph.json');
    const cached = JSON.parse(readFileSync(cache, 'utf8'));
    expect(Object.keys(cached)).toEqual(['config/experiments.yaml']);
    const current = await resolve();
    // Nothing changed, so the graph comes from the cache: a project planted in it shows up.
    const entry = cached['config/experiments.yaml'];
    entry.nodes.projects['artifacts/planted'] = { name: 'planted', root: 'artifacts/planted', targets: {}, metadata: { lambdaHat: { dependsOn: [] } } };
    writeFileSync(cache, JSON.stringify(cached));
    const before = ws.nx('show', 'projects');
    expect(before.status, before.output).toBe(0);
    expect(before.output.trim().split('\n').sort()).toEqual([...current.runs.map((x) => x.id), ...current.targets.map((t) => t.id), 'cachetest', '_lambda-hat-code', 'planted'].sort());
    // A preset is no part of the experiment file, yet its edit reaches the graph: new HMC run ids.
    const preset = ws.read('config/sampler/hmc.yaml');
    ws.write('config/sampler/hmc.yaml', preset.toString().replace('chains: 4', 'chains: 3'));
    try {
      const edited = await resolve();
      const hmc = edited.runs.filter((r) => r.sampler === 'hmc').map((r) => r.id);
      expect(hmc.some((id) => current.runs.some((r) => r.id === id))).toBe(false);
      const after = ws.nx('show', 'projects');
      expect(after.status).toBe(0);
      // Inferred afresh: the new ids, and the planted project gone.
      expect(after.output.trim().split('\n').sort()).toEqual([...edited.runs.map((x) => x.id), ...edited.targets.map((t) => t.id), 'cachetest', '_lambda-hat-code'].sort());
      expect(JSON.parse(readFileSync(cache, 'utf8'))['config/experiments.yaml'].hash).not.toBe(entry.hash);
    } finally {
      ws.write('config/sampler/hmc.yaml', preset.toString());
    }
  });
});

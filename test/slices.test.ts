/**
 * Slices of large sweeps (plugins/lambda-hat/src/graph.ts): where a target has more than
 * SLICE_RUNS runs of one sampler, they are Nx tasks of about SLICE_RUNS runs each. The grouping is
 * checked on its own, then with the real `nx`: the slices' runs are the runs written one per task,
 * byte for byte, a rerun is all cached, a seed added to the sweep reruns only the slice it joins, and
 * there computes only itself and runs changed on disk (runner/kept-runs.ts), until the code changes.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactPath } from '../packages/llc/src/artifacts';
import { SLICE_RUNS, taskGroups } from '../plugins/lambda-hat/src/graph';
import { DEFAULT_PRESETS, Experiment, loadExperiment } from '../rules/experiment';
import { SHOWN_RUNS } from '../rules/summary';
import type { RunSpec } from '../rules/experiment';
import { reproducibleFiles } from './support/trained-experiment';
import { ScratchWorkspace } from './support/workspace';

const run = (target: string, sampler: string, i: number): RunSpec => ({
  id: `${sampler}_${i.toString(16).padStart(12, '0')}`,
  target,
  sampler: sampler as RunSpec['sampler'],
  seed: i,
  options: {},
  posterior: {} as RunSpec['posterior'],
});
const runs = (target: string, sampler: string, n: number) => Array.from({ length: n }, (_, i) => run(target, sampler, i));
const ids = (groups: RunSpec[][]) => groups.map((g) => g.map((r) => r.id).sort().join(' '));

describe('grouping runs into tasks', () => {
  it('keeps a task per run up to SLICE_RUNS runs of a sampler on a target', () => {
    const groups = taskGroups([...runs('tgt_a', 'sgld', SLICE_RUNS), ...runs('tgt_a', 'hmc', 3), ...runs('tgt_b', 'sgld', 5)]);
    expect(groups.length).toBe(SLICE_RUNS + 3 + 5);
    expect(groups.every((g) => g.length === 1)).toBe(true);
  });

  it('makes slices of one sampler on one target beyond that, every run in exactly one', () => {
    const all = [...runs('tgt_a', 'sgld', 200), ...runs('tgt_b', 'sgld', 200), ...runs('tgt_a', 'hmc', 2)];
    const groups = taskGroups(all);
    const slices = groups.filter((g) => g.length > 1);
    expect(slices.length).toBe(2 * Math.ceil(200 / SLICE_RUNS));
    for (const c of slices) expect(new Set(c.map((r) => `${r.target} ${r.sampler}`)).size).toBe(1);
    expect(groups.flat().map((r) => `${r.target} ${r.id}`).sort()).toEqual(all.map((r) => `${r.target} ${r.id}`).sort());
    // Balanced enough that no slice holds most of the runs.
    for (const c of slices) expect(c.length).toBeLessThan(2 * SLICE_RUNS);
  });

  it('moves only what it must when a sweep grows', () => {
    // Same number of slices: one slice gains the new run, the others are unchanged.
    const before = new Set(ids(taskGroups(runs('t', 'sgld', 200))));
    const after = ids(taskGroups(runs('t', 'sgld', 201)));
    expect(after.filter((c) => !before.has(c)).length).toBe(1);
    // One slice more (256 → 257 runs, 4 → 5 slices): runs only move into the new slice.
    const four = taskGroups(runs('t', 'sgld', 4 * SLICE_RUNS));
    const five = taskGroups(runs('t', 'sgld', 4 * SLICE_RUNS + 1));
    expect(four.length).toBe(4);
    expect(five.length).toBe(5);
    const sliceOf = (groups: RunSpec[][]) => new Map(groups.flatMap((g, i) => g.map((r) => [r.id, i] as const)));
    const was = sliceOf(four);
    const now = sliceOf(five);
    const moved = [...was.keys()].filter((id) => was.get(id) !== now.get(id));
    expect(moved.length).toBeGreaterThan(0);
    expect(new Set(moved.map((id) => now.get(id))).size).toBe(1);
    expect(five[now.get(moved[0])!].length).toBe(moved.length + 1);
  });
});

const SGLD = 'steps: 60, warmup: 0, eval_every: 1, batch_size: 32, chains: 1';
const experimentFile = (to: number) => `experiment: sliced
targets:
  - { model: small, data: small, seed: 1, overrides: { training: { steps: 200 } } }
samplers:
  - { name: sgld, sweep: { seed: { from: 1, to: ${to} } }, overrides: { ${SGLD} } }
`;
/** Two of the sweep's runs written as entries of their own: one task each. */
const singlesFile = `experiment: singles
targets:
  - { model: small, data: small, seed: 1, overrides: { training: { steps: 200 } } }
samplers:
  - { name: sgld, seed: 3, overrides: { ${SGLD} } }
  - { name: sgld, seed: 70, overrides: { ${SGLD} } }
`;

describe('slices under nx', () => {
  const ws = new ScratchWorkspace(experimentFile(SLICE_RUNS + 6));
  let exp: Experiment;
  beforeAll(async () => {
    exp = await loadExperiment({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/experiments.yaml'));
  });
  afterAll(() => ws.dispose());
  const sliceTasks = (tasks: string[]) => tasks.filter((t) => t.startsWith('slice_'));

  it('runs a sweep of more than SLICE_RUNS runs as two slice tasks, every run written', () => {
    const shown = ws.nx('show', 'projects', '--json');
    const projects: string[] = JSON.parse(shown.output.slice(shown.output.indexOf('[')));
    expect(sliceTasks(projects).length).toBe(2);
    expect(projects.filter((p) => p.startsWith('sgld_'))).toEqual([]);
    const first = ws.nx('run-many', '-t', 'sample');
    expect(first.status).toBe(0);
    expect(sliceTasks(first.ran).length).toBe(2);
    for (const r of exp.runs) expect(ws.exists(join(artifactPath.run(r.id), 'analysis.json'))).toBe(true);
    const csv = ws.read('artifacts/experiments/sliced/llc_runs.csv').toString().trim().split('\n');
    expect(csv.length).toBe(1 + SLICE_RUNS + 6);
    // The run table stops at SHOWN_RUNS lines, then counts the rest, and still ends with the paths.
    const table = first.output.slice(first.output.indexOf(`sliced: ${SLICE_RUNS + 6} runs`));
    expect(table.split('\n').filter((l) => l.startsWith('sgld seed=')).length).toBe(SHOWN_RUNS);
    expect(table).toMatch(new RegExp(`… and ${SLICE_RUNS + 6 - SHOWN_RUNS} more runs \\(\\d+ (ok|check)[^)]*\\): llc_runs and the report have every run\nreport    /`));
  });

  it('gives the runs of a slice byte for byte what one task per run gives', () => {
    const single = new ScratchWorkspace(singlesFile);
    try {
      expect(single.nx('run-many', '-t', 'sample').status).toBe(0);
      for (const seed of [3, 70]) {
        const id = exp.runs.find((r) => r.seed === seed)!.id;
        const alone = reproducibleFiles(single.path(artifactPath.run(id))).files;
        for (const [name, bytes] of reproducibleFiles(ws.path(artifactPath.run(id))).files) expect(alone.get(name)!.equals(bytes), name).toBe(true);
      }
    } finally {
      single.dispose();
    }
  });

  it('restores everything from the cache on a rerun, and reruns only the slice a new seed joins', () => {
    const again = ws.nx('run-many', '-t', 'sample');
    expect(again.status).toBe(0);
    expect(again.ran).toEqual([]);
    expect(sliceTasks(again.cached).length).toBe(2);
  });

  it('computes, in the slice a new seed joins, only that run and any run whose folder changed since it was written', async () => {
    ws.write('config/experiments.yaml', experimentFile(SLICE_RUNS + 7));
    const grownExp = await loadExperiment({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/experiments.yaml'));
    const added = grownExp.runs.find((r) => r.seed === SLICE_RUNS + 7)!;
    const joined = taskGroups(grownExp.runs).find((g) => g.some((r) => r.id === added.id))!;
    // A run of that slice edited on disk since it was written is not kept: it is computed again.
    const edited = joined.find((r) => r.id !== added.id)!;
    const analysis = join(artifactPath.run(edited.id), 'analysis.json');
    ws.write(analysis, JSON.stringify({ ...JSON.parse(ws.read(analysis).toString()), edited: true }));
    const grown = ws.nx('run-many', '-t', 'sample');
    expect(grown.status).toBe(0);
    expect(sliceTasks(grown.ran).length).toBe(1);
    expect(sliceTasks(grown.cached).length).toBe(1);
    expect(grown.ran).toContain('sliced:aggregate');
    expect(grown.output).toContain(`${joined.length - 2} of its ${joined.length} runs kept`);
    expect(JSON.parse(ws.read(analysis).toString()).edited).toBeUndefined();
    const csv = ws.read('artifacts/experiments/sliced/llc_runs.csv').toString().trim().split('\n');
    expect(csv.length).toBe(1 + SLICE_RUNS + 7);
  });

  it('keeps no run once the code it runs has changed', () => {
    ws.append('packages/llc/src/samplers/sgld.ts', '\n// an edit\n');
    const edited = ws.nx('run-many', '-t', 'sample');
    expect(edited.status).toBe(0);
    expect(sliceTasks(edited.ran).length).toBe(2);
    expect(edited.output).not.toMatch(/runs kept/);
  });
});

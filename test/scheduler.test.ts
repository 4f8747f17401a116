/**
 * The ready queue on large synthetic graphs: every task starts only after each of its
 * dependencies succeeded, each task ends exactly once, and a failure skips exactly the tasks
 * downstream of it.
 */
import { describe, expect, it } from 'vitest';
import { Ending, runGraph } from '../runner/scheduler';
import { mulberry32 } from './support/random';


/** A layered DAG like a sweep's (builds → many samples → a few summaries), plus random extra edges. */
function layeredGraph(rand: () => number, layers: number[], extraEdges: number): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const byLayer: string[][] = [];
  layers.forEach((size, l) => {
    const ids = Array.from({ length: size }, (_, i) => `L${l}-${i}`);
    for (const id of ids) {
      const deps = new Set<string>();
      if (l > 0) for (let k = 0; k < 1 + Math.floor(rand() * 2); k++) deps.add(byLayer[l - 1][Math.floor(rand() * byLayer[l - 1].length)]);
      graph.set(id, [...deps]);
    }
    byLayer.push(ids);
  });
  for (let k = 0; k < extraEdges; k++) {
    const to = 1 + Math.floor(rand() * (layers.length - 1));
    const from = Math.floor(rand() * to);
    const id = byLayer[to][Math.floor(rand() * byLayer[to].length)];
    const dep = byLayer[from][Math.floor(rand() * byLayer[from].length)];
    if (!graph.get(id)!.includes(dep)) graph.get(id)!.push(dep);
  }
  return graph;
}

/** Everything downstream of `failed`, by a plain search over the reversed edges. */
function downstream(graph: Map<string, string[]>, failed: Set<string>): Set<string> {
  const dependents = new Map<string, string[]>();
  for (const [id, deps] of graph) for (const d of deps) dependents.set(d, [...(dependents.get(d) ?? []), id]);
  const out = new Set<string>();
  const stack = [...failed];
  while (stack.length) for (const next of dependents.get(stack.pop()!) ?? []) if (!out.has(next)) out.add(next), stack.push(next);
  return out;
}

async function runAndCheck(graph: Map<string, string[]>, fails: (id: string) => boolean, rand: () => number) {
  const succeeded = new Set<string>();
  const started: string[] = [];
  const endings: Ending[] = [];
  for await (const e of runGraph(graph, async (id) => {
    // Every dependency has succeeded before a task starts; none has merely been started.
    for (const dep of graph.get(id)!) expect(succeeded.has(dep), `${id} started before ${dep} succeeded`).toBe(true);
    started.push(id);
    // End in a scrambled order: some at once, some after a few event-loop turns.
    const turns = Math.floor(rand() * 3);
    for (let t = 0; t < turns; t++) await new Promise((r) => setImmediate(r));
    if (fails(id)) return false;
    succeeded.add(id);
    return true;
  })) {
    endings.push(e);
  }
  return { started, endings, succeeded };
}

describe('the ready queue', () => {
  it('runs a 12,000-task graph with every task after its dependencies, each once', async () => {
    const rand = mulberry32(1);
    const graph = layeredGraph(rand, [100, 10_000, 1_500, 400], 5_000);
    const { started, endings } = await runAndCheck(graph, () => false, rand);
    expect(endings.length).toBe(graph.size);
    expect(new Set(endings.map((e) => e.id)).size).toBe(graph.size);
    expect(endings.every((e) => e.state === 'success')).toBe(true);
    expect(new Set(started).size).toBe(graph.size);
  });

  it('skips exactly the tasks downstream of failures, and runs every other task', async () => {
    const rand = mulberry32(2);
    const graph = layeredGraph(rand, [60, 6_000, 800, 50], 3_000);
    const failing = new Set([...graph.keys()].filter(() => rand() < 0.01));
    const { started, endings } = await runAndCheck(graph, (id) => failing.has(id), rand);
    const skippedExpected = downstream(graph, failing);
    const byState = (s: Ending['state']) => new Set(endings.filter((e) => e.state === s).map((e) => e.id));
    expect(endings.length).toBe(graph.size);
    expect(byState('skipped')).toEqual(skippedExpected);
    // A failing task downstream of another failure never starts, so it is skipped, not failed.
    expect(byState('failure')).toEqual(new Set([...failing].filter((id) => !skippedExpected.has(id))));
    expect(byState('success').size).toBe(graph.size - skippedExpected.size - byState('failure').size);
    expect(started.filter((id) => skippedExpected.has(id))).toEqual([]);
    // Each skipped task names a dependency that did not succeed.
    for (const e of endings) if (e.state === 'skipped') expect(graph.get(e.id)).toContain(e.because);
  });

  it('counts a start that throws as a failed task and keeps going', async () => {
    const graph = new Map([['a', []], ['b', ['a']], ['c', []]]);
    const endings: Ending[] = [];
    for await (const e of runGraph(graph, async (id) => {
      if (id === 'a') throw new Error('boom');
      return true;
    })) endings.push(e);
    expect(endings).toEqual(expect.arrayContaining([{ id: 'a', state: 'failure' }, { id: 'b', state: 'skipped', because: 'a' }, { id: 'c', state: 'success' }]));
    expect(endings.length).toBe(3);
  });

  it('refuses a cycle or an unknown dependency before starting anything', async () => {
    let starts = 0;
    const drain = async (g: Map<string, string[]>) => {
      for await (const _ of runGraph(g, async () => (starts++, true)));
    };
    await expect(drain(new Map([['a', ['c']], ['b', ['a']], ['c', ['b']], ['d', []]]))).rejects.toThrow(/cycle/);
    await expect(drain(new Map([['a', ['nope']]]))).rejects.toThrow(/not in the graph/);
    expect(starts).toBe(0);
  });
});

/**
 * The ready queue: runs a graph of tasks, starting each one the moment its last dependency
 * succeeds, and reports every ending as it happens. Each task keeps a count of its unfinished
 * dependencies; an ending decrements the counts of its dependents only, so a graph of N tasks and
 * E edges costs O(N + E) in all, however the endings interleave (rescanning the graph after every
 * ending would cost O(N²) at 10,000 tasks). A failure skips the tasks that depend on it, directly
 * or not, and nothing else: independent tasks keep running.
 *
 * Concurrency is not decided here: every ready task is handed over at once, and the backend queues
 * them (a local pool of warm workers) or packs them (Slurm job arrays).
 */

/** How a task ended. `skipped`: a task it depends on failed or was skipped, so it never started. */
export type Ending = { id: string; state: 'success' } | { id: string; state: 'failure' } | { id: string; state: 'skipped'; because: string };

/**
 * Runs `dependencies` (each task's prerequisites among these tasks; others are taken as done) with
 * `start`, which resolves true when the task succeeded. Yields one Ending per task. A dependency
 * cycle or an unknown dependency is a bug in the caller and throws before anything starts.
 */
export async function* runGraph(dependencies: ReadonlyMap<string, readonly string[]>, start: (id: string) => Promise<boolean>): AsyncGenerator<Ending> {
  const waitingOn = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const [id, deps] of dependencies) {
    waitingOn.set(id, deps.length);
    for (const dep of deps) {
      if (!dependencies.has(dep)) throw new Error(`task ${id} depends on ${dep}, which is not in the graph`);
      let list = dependents.get(dep);
      if (!list) dependents.set(dep, (list = []));
      list.push(id);
    }
  }
  checkAcyclic(dependencies, dependents);

  // Endings land here from the tasks' promises, in the order they happen; the generator drains it
  // from `head` (Array.shift would copy the queue at every ending).
  let ended: Ending[] = [];
  let head = 0;
  let wake: (() => void) | null = null;
  let running = 0;
  const launch = (id: string) => {
    running++;
    // Through a promise, so a start that throws at once fails its task like one that rejects.
    Promise.resolve(id).then(start).then(
      (ok) => finish({ id, state: ok ? 'success' : 'failure' }),
      // A start that throws is a failed task, not a stopped graph: the other tasks still run.
      () => finish({ id, state: 'failure' }),
    );
  };
  const finish = (e: Ending) => {
    running--;
    ended.push(e);
    wake?.();
  };

  let unfinished = dependencies.size;
  for (const [id, n] of waitingOn) if (n === 0) launch(id);
  while (unfinished > 0) {
    if (head === ended.length) {
      ended = [];
      head = 0;
      if (running === 0) throw new Error('the ready queue stalled: tasks remain but none is running');
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
      continue;
    }
    const e = ended[head++];
    unfinished--;
    yield e;
    if (e.state === 'success') {
      for (const next of dependents.get(e.id) ?? []) {
        const left = waitingOn.get(next)! - 1;
        waitingOn.set(next, left);
        if (left === 0) launch(next);
      }
    } else {
      for (const skipped of skipDependents(e.id, dependents, waitingOn)) {
        unfinished--;
        yield skipped;
      }
    }
  }
}

/** Marks every task downstream of `failed` as skipped (a negative count), each once. */
function skipDependents(failed: string, dependents: ReadonlyMap<string, string[]>, waitingOn: Map<string, number>): Ending[] {
  const out: Ending[] = [];
  const stack: [string, string][] = (dependents.get(failed) ?? []).map((d) => [d, failed]);
  while (stack.length) {
    const [id, because] = stack.pop()!;
    if (waitingOn.get(id)! < 0) continue;
    waitingOn.set(id, -1);
    out.push({ id, state: 'skipped', because });
    for (const next of dependents.get(id) ?? []) stack.push([next, id]);
  }
  return out;
}

/** Kahn's algorithm over a copy of the counts: every task must become ready eventually. */
function checkAcyclic(dependencies: ReadonlyMap<string, readonly string[]>, dependents: ReadonlyMap<string, string[]>): void {
  const left = new Map<string, number>();
  const ready: string[] = [];
  for (const [id, deps] of dependencies) {
    left.set(id, deps.length);
    if (deps.length === 0) ready.push(id);
  }
  let seen = 0;
  while (ready.length) {
    const id = ready.pop()!;
    seen++;
    for (const next of dependents.get(id) ?? []) {
      const n = left.get(next)! - 1;
      left.set(next, n);
      if (n === 0) ready.push(next);
    }
  }
  if (seen < dependencies.size) {
    const stuck = [...left].filter(([, n]) => n > 0).map(([id]) => id);
    throw new Error(`the task graph has a cycle through ${stuck.slice(0, 5).join(', ')}${stuck.length > 5 ? ', …' : ''}`);
  }
}

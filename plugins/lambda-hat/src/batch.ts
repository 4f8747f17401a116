/**
 * The batch executor (Nx's batch mode, which executors.json makes the default): one process
 * receives the whole graph of lambda-hat tasks and runs it through the ready queue
 * (runner/scheduler.ts) on the selected backend: a pool of warm workers locally, packed job arrays
 * on Slurm. Results stream back to Nx as tasks end; a task whose dependency failed is reported
 * skipped, and independent tasks keep running.
 */
import type { ExecutorContext, TaskGraph } from '@nx/devkit';
import { ProgressDisplay } from '../../../rules/progress';
import { selectBackend } from '../../../runner/backends';
import { cardSelectionFromEnv } from '../../../runner/cards';
import { runGraph } from '../../../runner/scheduler';
import { cancelOnSignals, runTask } from '../../../runner/tasks';
import { RUN_OPTIONS, RunOptions } from './executor';
import { refusedOptions } from './options';

interface TaskResult {
  success: boolean;
  status?: 'success' | 'failure' | 'skipped';
  terminalOutput: string;
  startTime?: number;
  endTime?: number;
}

export default async function* runBatch(
  taskGraph: TaskGraph,
  inputs: Record<string, RunOptions>,
  overrides: Record<string, unknown>,
  context: ExecutorContext,
): AsyncIterableIterator<{ task: string; result: TaskResult }> {
  const ids = Object.keys(taskGraph.tasks);
  // Every task carries the command line's flags (graph.ts forwards them to dependencies).
  const refused = refusedOptions({ ...overrides, ...inputs[ids[0]] }, RUN_OPTIONS);
  if (refused) {
    for (const task of ids) yield { task, result: { success: false, terminalOutput: refused } };
    return;
  }
  const backend = selectBackend(context.root, cardSelectionFromEnv());
  if (!backend) {
    for (const task of ids) yield { task, result: { success: false, terminalOutput: 'no usable backend card (see above)' } };
    return;
  }
  console.log(`lambda-hat: ${ids.length} tasks on ${backend.name}`);
  const tally = { ok: 0, failed: 0, skipped: 0, workCpuSeconds: 0, started: performance.now() };
  const stopCancelling = cancelOnSignals(backend);
  // Dependencies outside this batch are done already: Nx only hands over tasks whose other deps finished.
  const dependencies = new Map(ids.map((id) => [id, (taskGraph.dependencies[id] ?? []).filter((d) => d in taskGraph.tasks)]));
  const results = new Map<string, TaskResult>();
  // A line of output that another task of this batch already printed word for word (the kernel
  // every task computes with, say) is said once: at a thousand tasks it would be a thousand lines.
  const said = new Set<string>();
  const onceInBatch = (lines: string[]) => (line: string, stream: 'stdout' | 'stderr') => {
    const text = line.replace(/^\[[^\]]+\] /, '');
    if (stream === 'stdout' && said.has(text)) return;
    said.add(text);
    lines.push(line);
  };
  const start = async (id: string) => {
    const task = taskGraph.tasks[id];
    const lines: string[] = [];
    // Nx shows a task's output when it ends, so progress is kept as plain lines, throttled.
    const display = new ProgressDisplay({ write: (text) => lines.push(text.replace(/\n$/, '')) });
    const startTime = Date.now();
    const spec = { project: task.target.project, target: task.target.target, rule: inputs[id].rule, spec: inputs[id].spec };
    let success = false;
    try {
      const end = await runTask(context.root, backend, spec, onceInBatch(lines), display);
      success = end.ok;
      tally.workCpuSeconds += end.outcome.cpuSeconds ?? 0;
    } catch (e) {
      // A bug of ours in one task fails that task; the others run on.
      lines.push(String((e as Error)?.stack ?? e));
    }
    // Ended by a newline: Nx prints a task's output as it is, and this batch's own closing line
    // (below) would otherwise run on from the last task's last line.
    results.set(id, { success, terminalOutput: lines.length ? `${lines.join('\n')}\n` : '', startTime, endTime: Date.now() });
    tally[success ? 'ok' : 'failed']++;
    return success;
  };
  try {
    for await (const end of runGraph(dependencies, start)) {
      if (end.state === 'skipped') {
        tally.skipped++;
        yield { task: end.id, result: { success: false, status: 'skipped', terminalOutput: `not run: its dependency ${end.because} did not succeed` } };
      } else {
        yield { task: end.id, result: results.get(end.id)! };
        results.delete(end.id);
      }
    }
    // Where the time went: the workers' CPU inside tasks, against the wall time of the whole batch.
    const seconds = (performance.now() - tally.started) / 1000;
    console.log(`lambda-hat: ${tally.ok} ok, ${tally.failed} failed, ${tally.skipped} skipped in ${seconds.toFixed(1)} s; ${tally.workCpuSeconds.toFixed(2)} CPU-s of work inside the tasks`);
  } finally {
    backend.close();
    stopCancelling();
  }
}

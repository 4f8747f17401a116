/**
 * The batch executor (Nx's `--batch`): one process receives the whole graph of lambda-hat tasks
 * and runs it on the selected backend, starting every task whose dependencies have succeeded. On
 * Slurm, each such ready set becomes one job array. Results stream back to Nx as tasks end; a task
 * whose dependency failed is reported skipped.
 */
import type { ExecutorContext, TaskGraph } from '@nx/devkit';
import { ProgressDisplay } from '../../../rules/progress';
import { selectBackend } from '../../../runner/backends';
import type { CardSelection } from '../../../runner/cards';
import { cancelOnSignals, runTask } from '../../../runner/tasks';
import type { RunOptions } from './executor';

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
  overrides: CardSelection,
  context: ExecutorContext,
): AsyncIterableIterator<{ task: string; result: TaskResult }> {
  const ids = Object.keys(taskGraph.tasks);
  // Every task carries the command line's backend flags (graph.ts forwards them to dependencies).
  const { backend: name, card, set } = { ...overrides, ...inputs[ids[0]] };
  const backend = selectBackend(context.root, { backend: name, card, set });
  if (!backend) {
    for (const task of ids) yield { task, result: { success: false, terminalOutput: 'no usable backend card (see above)' } };
    return;
  }
  console.log(`lambda-hat: ${ids.length} tasks on ${backend.name}`);
  const stopCancelling = cancelOnSignals(backend);
  const state = new Map<string, 'running' | 'success' | 'failure' | 'skipped'>();
  const running = new Map<string, Promise<{ task: string; result: TaskResult }>>();
  // Dependencies outside this batch are done already: Nx only hands over tasks whose other deps finished.
  const depsOf = (id: string) => (taskGraph.dependencies[id] ?? []).filter((d) => d in taskGraph.tasks);
  try {
    for (;;) {
      const skipped: string[] = [];
      for (const id of ids) {
        if (state.has(id)) continue;
        const deps = depsOf(id).map((d) => state.get(d));
        if (deps.some((s) => s === 'failure' || s === 'skipped')) {
          state.set(id, 'skipped');
          skipped.push(id);
        } else if (deps.every((s) => s === 'success')) {
          state.set(id, 'running');
          const task = taskGraph.tasks[id];
          const lines: string[] = [];
          // Nx shows a task's output when it ends, so progress is kept as plain lines, throttled.
          const display = new ProgressDisplay({ write: (text) => lines.push(text.replace(/\n$/, '')) });
          const startTime = Date.now();
          const spec = { project: task.target.project, target: task.target.target, rule: inputs[id].rule, spec: inputs[id].spec };
          running.set(
            id,
            runTask(context.root, backend, spec, (line) => lines.push(line), display).then(
              (success) => ({ task: id, result: { success, terminalOutput: lines.join('\n'), startTime, endTime: Date.now() } }),
            ),
          );
        }
      }
      for (const id of skipped) {
        const failed = depsOf(id).find((d) => state.get(d) !== 'success');
        yield { task: id, result: { success: false, status: 'skipped', terminalOutput: `not run: its dependency ${failed} did not succeed` } };
      }
      if (running.size === 0) {
        if (skipped.length === 0) return;
        continue;
      }
      const done = await Promise.race(running.values());
      running.delete(done.task);
      state.set(done.task, done.result.success ? 'success' : 'failure');
      yield done;
    }
  } finally {
    stopCancelling();
  }
}

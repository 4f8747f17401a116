/**
 * The Nx executor for one lambda-hat task. Nx uses it with --batch=false (or `nx run` of a
 * target whose dependencies are done), forking one of these per task, --parallel bounding how many
 * run; by default Nx's batch mode hands the whole graph to batch.ts instead.
 * The backend comes from `--backend`, `--card` and `--set` (see cards.ts). Independent tasks keep
 * running after a failure: Nx only skips the dependents of a failed task.
 */
import type { ExecutorContext } from '@nx/devkit';
import { withBackend } from '../../../runner/backends';
import type { CardSelection } from '../../../runner/cards';
import { runTask } from '../../../runner/tasks';

export interface RunOptions extends CardSelection {
  rule: string;
  spec: object;
}

export default async function runExecutor(options: RunOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  return withBackend(context.root, options, async (backend, display, print) =>
    (await runTask(context.root, backend, { project: context.projectName!, target: context.targetName!, rule: options.rule, spec: options.spec }, print, display)).ok,
  );
}

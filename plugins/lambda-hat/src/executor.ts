/**
 * The Nx executor for every lambda-hat task. Without Nx's batch mode, Nx forks one of these per
 * task and --parallel bounds how many run; with --batch, batch.ts runs the whole graph instead.
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
  return withBackend(context.root, options, (backend, display, print) =>
    runTask(context.root, backend, { project: context.projectName!, target: context.targetName!, rule: options.rule, spec: options.spec }, print, display),
  );
}

/**
 * The Nx executor for one lambda-hat task. Nx uses it with --batch=false (or `nx run` of a
 * target whose dependencies are done), forking one of these per task, --parallel bounding how many
 * run; by default Nx's batch mode hands the whole graph to batch.ts instead.
 * The backend comes from the environment (LAMBDA_HAT_BACKEND, LAMBDA_HAT_CARD, LAMBDA_HAT_SET; see
 * runner/cards.ts); command-line flags are refused (options.ts). Independent tasks keep running
 * after a failure: Nx only skips the dependents of a failed task.
 */
import type { ExecutorContext } from '@nx/devkit';
import { withBackend } from '../../../runner/backends';
import { cardSelectionFromEnv } from '../../../runner/cards';
import { runTask } from '../../../runner/tasks';
import { refusal } from './options';

export interface RunOptions {
  rule: string;
  spec: object;
}

export const RUN_OPTIONS = ['rule', 'spec'] as const;

export default async function runExecutor(options: RunOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  const refused = refusal(options, RUN_OPTIONS);
  if (refused) return refused;
  return withBackend(context.root, cardSelectionFromEnv(), async (backend, display, print) =>
    (await runTask(context.root, backend, { project: context.projectName!, target: context.targetName!, rule: options.rule, spec: options.spec }, print, display)).ok,
  );
}

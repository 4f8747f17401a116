/**
 * The Nx executor of an experiment's `watch` target (`npx nx run <experiment>:watch`): runs
 * `lambda-hat watch -p <experiment>` (runner/watch.ts) in its task, so that every save of the
 * experiment's file, a preset or a card reruns what it reaches of that experiment, until Ctrl-C.
 * The target is continuous and never cached (graph.ts); flags are refused as by every lambda-hat
 * executor (options.ts), and the tasks it starts choose their backend from the environment.
 */
import type { ExecutorContext } from '@nx/devkit';
import { DEFAULT_DEBOUNCE_MS, watchConfig } from '../../../runner/watch';
import { refusal } from './options';

export interface WatchOptions {
  /** The experiment's name: its project. */
  experiment: string;
}

export default async function watchExecutor(options: WatchOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  const refused = refusal(options, ['experiment']);
  if (refused) return refused;
  // Resolves when Nx stops the task (Ctrl-C, or SIGTERM when Nx winds down): a watch that was stopped has done its job.
  await watchConfig({ root: context.root, target: 'sample', project: options.experiment, debounceMs: DEFAULT_DEBOUNCE_MS });
  return { success: true };
}

/**
 * The Nx executor for every lambda-hat task. Without Nx's batch mode, Nx forks one of these per
 * task and --parallel bounds how many run; with --batch, batch.ts runs the whole graph instead.
 * The backend comes from `--backend`, `--card` and `--set` (see cards.ts). Independent tasks keep
 * running after a failure: Nx only skips the dependents of a failed task.
 */
import type { ExecutorContext } from '@nx/devkit';
import { ConfigError } from '../../../rules/experiment/problems';
import { ProgressDisplay } from '../../../rules/progress';
import { backendFor } from './backends';
import type { Backend } from './backends/types';
import type { CardSelection } from './cards';
import { cancelOnSignals, Print, runTask } from './tasks';

export interface RunOptions extends CardSelection {
  rule: string;
  spec: object;
}

/** The backend for these options; a bad card is reported as its problems, without a stack. */
export function selectBackend(root: string, options: CardSelection): Backend | null {
  try {
    return backendFor(root, options);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(`cannot choose a backend:\n${e.message}`);
    return null;
  }
}

/**
 * Runs `body` with the backend the options select, cancelling the backend's work on Ctrl-C, and a
 * progress display: a status line when Nx gives this process a terminal (its TUI, or `nx run` on
 * one), plain lines otherwise. The terminal Nx gives is as wide as the user's, but the TUI shows it
 * in a pane that can be half as wide, less its borders; a status line that wraps there cannot be
 * redrawn in place.
 */
export async function withBackend(root: string, options: CardSelection, body: (backend: Backend, display: ProgressDisplay, print: Print) => Promise<boolean>): Promise<{ success: boolean }> {
  const backend = selectBackend(root, options);
  if (!backend) return { success: false };
  const stopCancelling = cancelOnSignals(backend);
  const display = new ProgressDisplay(process.stdout, { width: (columns) => Math.floor(columns / 2) - 8 });
  try {
    return { success: await body(backend, display, (line, stream) => display.log(line, stream === 'stdout' ? process.stdout : process.stderr)) };
  } finally {
    display.close();
    stopCancelling();
  }
}

export default async function runExecutor(options: RunOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  return withBackend(context.root, options, (backend, display, print) =>
    runTask(context.root, backend, { project: context.projectName!, target: context.targetName!, rule: options.rule, spec: options.spec }, print, display),
  );
}

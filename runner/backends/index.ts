import { ConfigError } from '../../rules/experiment/problems';
import { ProgressDisplay } from '../../rules/progress';
import { CardSelection, loadCard } from '../cards';
import { withKeyedKernels } from '../kernel-keys';
import { cancelOnSignals, Print } from '../tasks';
import { localBackend } from './local';
import { slurmBackend } from './slurm';
import type { Backend } from './types';

/** The backend the command line (or LAMBDA_HAT_BACKEND) selects, configured by its card. */
export function backendFor(workspaceRoot: string, selection: CardSelection): Backend {
  const loaded = loadCard(workspaceRoot, selection);
  const { source } = loaded;
  // Workers compute with the kernel the tasks' cache keys name, or stop (kernel-keys.ts).
  const card = withKeyedKernels(loaded.card);
  return card.backend === 'local' ? localBackend(workspaceRoot, card, source) : slurmBackend(workspaceRoot, card, source);
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
    backend.close();
    display.close();
    stopCancelling();
  }
}

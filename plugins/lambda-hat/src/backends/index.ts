import { CardSelection, loadCard } from '../cards';
import { localBackend } from './local';
import { slurmBackend } from './slurm';
import type { Backend } from './types';

/** The backend the command line (or LAMBDA_HAT_BACKEND) selects, configured by its card. */
export function backendFor(workspaceRoot: string, selection: CardSelection): Backend {
  const { card, source } = loadCard(workspaceRoot, selection);
  return card.backend === 'local' ? localBackend(workspaceRoot, card, source) : slurmBackend(workspaceRoot, card, source);
}

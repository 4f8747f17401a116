/**
 * The local backend: tasks run on this machine in a pool of warm worker processes (worker-pool.ts),
 * one task per process at a time. In Nx's batch mode (the default) one pool serves the whole run,
 * with the card's max_jobs workers (default: one per core); with --batch=false, Nx starts one
 * executor per task and --parallel bounds how many run, each with a pool of one.
 */
import { availableParallelism } from 'node:os';
import type { LocalCard } from '../cards';
import { WorkerPool } from '../worker-pool';
import type { Backend } from './types';

export function localBackend(workspaceRoot: string, card: LocalCard, source: string): Backend {
  // Workers print no colour; Nx's FORCE_COLOR only makes Node warn when the user also sets NO_COLOR.
  const { FORCE_COLOR: _, ...inherited } = process.env;
  // The executor shows the worker's progress on its own terminal (tasks.ts), so workers send it as events.
  const env = { ...inherited, LAMBDA_HAT_THREADS: process.env.LAMBDA_HAT_THREADS ?? String(card.threads), ...card.env, LAMBDA_HAT_PROGRESS: 'events' };
  const pool = new WorkerPool({ root: workspaceRoot, size: card.max_jobs ?? availableParallelism(), env });
  return {
    name: `local (${source})`,
    run: (task, sink) => pool.run(task, sink),
    cancelAll: () => pool.cancelAll(),
    close: () => pool.close(),
  };
}

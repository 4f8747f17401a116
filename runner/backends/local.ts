/**
 * The local backend: each task in its own OS process (process isolation, as Parsl's
 * HighThroughputExecutor gives) on this machine. Without Nx's batch mode, Nx's --parallel bounds
 * how many run at once; in batch mode the card's max_jobs does (default: one per core). A task with a
 * time limit gets SIGTERM when it runs over, and SIGKILL 5 s later if it is still alive.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { LocalCard } from '../cards';
import { Backend, Outcome, STDERR_TAIL_LINES } from './types';

/** How long a worker over its time limit has between SIGTERM and SIGKILL. */
const KILL_AFTER_MS = 5_000;
/** The longest delay setTimeout honours (about 24.8 days); a longer limit is no limit in practice. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function localBackend(workspaceRoot: string, card: LocalCard, source: string): Backend {
  const running = new Set<ChildProcess>();
  const worker = join(workspaceRoot, 'bin', 'lambda-hat.js');
  const slots = card.max_jobs ?? availableParallelism();
  const waiting: (() => void)[] = [];
  let busy = 0;
  // Workers print no colour; Nx's FORCE_COLOR only makes Node warn when the user also sets NO_COLOR.
  const { FORCE_COLOR: _, ...inherited } = process.env;
  // The executor shows the worker's progress on its own terminal (tasks.ts), so workers send it as events.
  const env = { ...inherited, LAMBDA_HAT_THREADS: process.env.LAMBDA_HAT_THREADS ?? String(card.threads), ...card.env, LAMBDA_HAT_PROGRESS: 'events' };

  const acquire = () => (busy < slots ? (busy++, Promise.resolve()) : new Promise<void>((resolve) => waiting.push(resolve)));
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else busy--;
  };

  return {
    name: `local (${source})`,
    async run(task, sink) {
      await acquire();
      try {
        return await new Promise<Outcome>((resolve) => {
          const child = spawn(process.execPath, [worker, 'run', task.rule, task.taskFile], { cwd: workspaceRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
          running.add(child);
          let timedOut = false;
          let termTimer: NodeJS.Timeout | undefined;
          let killTimer: NodeJS.Timeout | undefined;
          const limit = task.timeLimitSec;
          const alive = () => child.exitCode === null && child.signalCode === null;
          if (limit !== undefined && limit > 0 && limit * 1000 <= MAX_TIMER_MS) {
            termTimer = setTimeout(() => {
              // A worker that has already exited (its 'close' still pending) finished within its limit.
              if (!alive()) return;
              timedOut = true;
              child.kill('SIGTERM');
              killTimer = setTimeout(() => {
                if (alive()) child.kill('SIGKILL');
              }, KILL_AFTER_MS);
            }, limit * 1000);
          }
          const clearTimers = () => {
            clearTimeout(termTimer);
            clearTimeout(killTimer);
          };
          const tail: string[] = [];
          createInterface({ input: child.stdout! }).on('line', (line) => sink.stdout(line));
          createInterface({ input: child.stderr! }).on('line', (line) => {
            sink.stderr(line);
            tail.push(line);
            if (tail.length > STDERR_TAIL_LINES) tail.shift();
          });
          child.on('error', (e) => {
            clearTimers();
            running.delete(child);
            resolve({ ok: false, reason: `could not start the worker: ${e.message}`, stderrTail: tail, attempts: 1 });
          });
          child.on('close', (code, signal) => {
            clearTimers();
            running.delete(child);
            if (timedOut) resolve({ ok: false, timedOut: true, reason: `exceeded its time limit of ${limit} s`, stderrTail: tail, attempts: 1 });
            else if (code === 0) resolve({ ok: true, stderrTail: tail, attempts: 1 });
            else resolve({ ok: false, reason: signal ? `worker killed by ${signal}` : `worker exited with status ${code}`, stderrTail: tail, attempts: 1 });
          });
        });
      } finally {
        release();
      }
    },
    cancelAll() {
      for (const child of running) child.kill('SIGTERM');
    },
  };
}

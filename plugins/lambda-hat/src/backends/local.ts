/**
 * The local backend: each task in its own OS process (process isolation, as Parsl's
 * HighThroughputExecutor gives), on this machine. Nx's --parallel bounds how many run at once.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Backend, Outcome } from './types';

const STDERR_TAIL_LINES = 20;

/** Workers print no colour; Nx's FORCE_COLOR only makes Node warn when the user also sets NO_COLOR. */
function workerEnv(): NodeJS.ProcessEnv {
  const { FORCE_COLOR: _, ...env } = process.env;
  return env;
}

export function localBackend(workspaceRoot: string): Backend {
  const running = new Set<ChildProcess>();
  const worker = join(workspaceRoot, 'bin', 'lambda-hat.js');
  return {
    name: 'local',
    run(task, sink) {
      return new Promise<Outcome>((resolve) => {
        const child = spawn(process.execPath, [worker, 'run', task.rule, task.taskFile], { cwd: workspaceRoot, env: workerEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
        running.add(child);
        const tail: string[] = [];
        createInterface({ input: child.stdout! }).on('line', (line) => sink.stdout(line));
        createInterface({ input: child.stderr! }).on('line', (line) => {
          sink.stderr(line);
          tail.push(line);
          if (tail.length > STDERR_TAIL_LINES) tail.shift();
        });
        child.on('error', (e) => {
          running.delete(child);
          resolve({ ok: false, reason: `could not start the worker: ${e.message}`, stderrTail: tail });
        });
        child.on('close', (code, signal) => {
          running.delete(child);
          if (code === 0) resolve({ ok: true, stderrTail: tail });
          else resolve({ ok: false, reason: signal ? `worker killed by ${signal}` : `worker exited with status ${code}`, stderrTail: tail });
        });
      });
    },
    cancelAll() {
      for (const child of running) child.kill('SIGTERM');
    },
  };
}

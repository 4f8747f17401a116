/**
 * `lambda-hat chunk <submission dir> <element>`: what one element of an array job runs. The
 * element's tasks (chunks.json names them, tasks.json holds them) run one after another on a
 * warm worker (worker-pool.ts), so a job of fifty short tasks starts Node twice, not fifty times.
 *
 * Each task leaves `<i>.out`, `<i>.err` and, when it ends, `<i>.exit` (JSON: how it ended),
 * written under a temporary name and renamed, so the controller never reads half of one. A
 * worker that dies mid-task fails that task only: its exit file says so, the next task gets a
 * fresh worker, and the controller retries the failed one. If this process itself is killed (the
 * job cancelled, its walltime, its node), the tasks without an exit file take the job's fate.
 * Nothing here knows which scheduler started it: the array index comes as an argument.
 */
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../packages/llc/src/atomic';
import { withInputErrors } from '../rules/cli';
import { UserError } from '../rules/rule';
import type { Outcome, WorkerTask } from './backends/types';
import { WorkerPool } from './worker-pool';

/** How a task ended, as `<i>.exit` records it. */
export type TaskExit = Omit<Outcome, 'attempts' | 'stderrTail'>;

export const submissionFiles = {
  tasks: (dir: string) => join(dir, 'tasks.json'),
  chunks: (dir: string) => join(dir, 'chunks.json'),
  out: (dir: string, task: number) => join(dir, `${task}.out`),
  err: (dir: string, task: number) => join(dir, `${task}.err`),
  exit: (dir: string, task: number) => join(dir, `${task}.exit`),
};

export async function runChunk(root: string, dir: string, element: number): Promise<void> {
  const tasks = JSON.parse(readFileSync(submissionFiles.tasks(dir), 'utf8')) as WorkerTask[];
  const chunks = JSON.parse(readFileSync(submissionFiles.chunks(dir), 'utf8')) as number[][];
  const mine = chunks[element];
  if (!mine) throw new UserError(`${dir} has no element ${element} (it has ${chunks.length})`);
  const pool = new WorkerPool({ root, size: 1, env: { ...process.env, LAMBDA_HAT_PROGRESS: 'events' } });
  try {
    for (const i of mine) {
      // A task whose exit file exists has ended already (an element run twice does not redo it).
      if (existsSync(submissionFiles.exit(dir, i))) continue;
      const out = openSync(submissionFiles.out(dir, i), 'a');
      const err = openSync(submissionFiles.err(dir, i), 'a');
      let outcome: Outcome;
      try {
        outcome = await pool.run(tasks[i], { stdout: (line) => writeSync(out, `${line}\n`), stderr: (line) => writeSync(err, `${line}\n`) });
      } finally {
        closeSync(out);
        closeSync(err);
      }
      const { attempts: _a, stderrTail: _t, ...exit } = outcome;
      writeFileAtomic(submissionFiles.exit(dir, i), JSON.stringify(exit satisfies TaskExit));
    }
  } finally {
    pool.close();
  }
}

export function main(args: string[]): Promise<number> {
  return withInputErrors(async () => {
    const [dir, element] = args;
    if (!dir || !/^\d+$/.test(element ?? '')) throw new UserError('usage: lambda-hat chunk <submission dir> <element index>');
    await runChunk(join(__dirname, '..'), dir, Number(element));
    return 0;
  });
}

/**
 * The local Slurm cluster (scripts/slurm-up.sh) for tests: whether it answers, and the jobs a
 * scratch workspace submitted. Tests that need it skip with a loud message when it is absent, and
 * fail under CI, which always starts it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkerTask } from '../../runner/backends/types';
import { submissionFiles } from '../../runner/chunk';

function clusterUp(): boolean {
  const p = spawnSync('sinfo', ['-h', '-o', '%T'], { encoding: 'utf8' });
  return p.status === 0 && /idle|mixed|alloc/.test(p.stdout);
}

export const slurm = clusterUp();

if (!slurm) {
  const message = 'no Slurm cluster answers on this machine: the Slurm tests cannot run (start one with `sudo bash scripts/slurm-up.sh`)';
  if (process.env.CI) throw new Error(message);
  console.warn(`\n*** SKIPPING: ${message} ***\n`);
}

export interface SubmittedTask {
  /** The array element that runs the task, e.g. `123_4`. */
  key: string;
  /** The submission's folder, and the task's index in it (its `<index>.exit` and logs). */
  dir: string;
  index: number;
  task: WorkerTask;
}

/** Every task the workspace's Slurm backend submitted, with the array element that runs it. */
export function submittedTasks(root: string): SubmittedTask[] {
  const work = join(root, 'artifacts', '.work', 'slurm');
  if (!existsSync(work)) return [];
  return readdirSync(work).flatMap((sub) => {
    const dir = join(work, sub);
    if (!existsSync(join(dir, 'submission.json'))) return [];
    const jobId = JSON.parse(readFileSync(join(dir, 'submission.json'), 'utf8')).job_id;
    const tasks = JSON.parse(readFileSync(submissionFiles.tasks(dir), 'utf8')) as WorkerTask[];
    const chunks = JSON.parse(readFileSync(submissionFiles.chunks(dir), 'utf8')) as number[][];
    return chunks.flatMap((indices, element) => indices.map((index) => ({ key: `${jobId}_${element}`, dir, index, task: tasks[index] })));
  });
}

/** The tasks whose spec mentions `id` (a run or target id). */
export const tasksOf = (root: string, id: string) => submittedTasks(root).filter((t) => JSON.stringify(t.task.spec).includes(id));

/** Slurm's state of each job key (array elements listed one per line). */
export function jobStates(keys: string[]): Map<string, string> {
  const states = new Map<string, string>();
  if (keys.length === 0) return states;
  const ids = [...new Set(keys.map((k) => k.split('_')[0]))];
  const out = execFileSync('squeue', ['-h', '-r', '-t', 'all', '-j', ids.join(','), '-o', '%i|%T'], { encoding: 'utf8' });
  for (const line of out.trim().split('\n')) {
    const [key, state] = line.split('|');
    if (key) states.set(key, state);
  }
  return states;
}

/** Polls until `check` returns a value, or throws after `seconds`. */
export async function waitFor<T>(what: string, seconds: number, check: () => T | undefined): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * The local Slurm cluster (scripts/slurm-up.sh) for tests: whether it answers, and the jobs a
 * scratch workspace submitted. Tests that need it skip with a loud message when it is absent, and
 * fail under CI, which always starts it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

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

export interface SubmittedJob {
  key: string;
  taskFile: string;
}

/** Every array element the workspace's Slurm backend submitted, with the task file it runs. */
export function submittedJobs(root: string): SubmittedJob[] {
  const dir = join(root, 'artifacts', '.work', 'slurm');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((sub) => {
    const submission = join(dir, sub, 'submission.json');
    if (!existsSync(submission)) return [];
    const jobId = JSON.parse(readFileSync(submission, 'utf8')).job_id;
    const lines = readFileSync(join(dir, sub, 'tasks.txt'), 'utf8').trim().split('\n');
    return lines.map((line, i) => ({ key: `${jobId}_${i}`, taskFile: line.split(' ')[1] }));
  });
}

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

/**
 * The Slurm backend: packed array jobs (array-jobs.ts) through sbatch, squeue and scancel.
 *
 * State comes from `squeue -r -t all`, which works without slurmdbd (no sacct needed); with
 * MinJobAge short enough that Slurm forgets a finished job, the exit files written inside the job
 * still account for it.
 */
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { SlurmCard } from '../cards';
import { ArrayScheduler, arrayJobsBackend, ArrayScript, ElementState } from './array-jobs';
import type { Backend } from './types';

const run = promisify(execFile);

const WAITING = new Set(['PENDING', 'CONFIGURING', 'REQUEUED', 'RESIZING', 'SUSPENDED']);
const RUNNING = new Set(['RUNNING', 'COMPLETING', 'SIGNALING', 'STAGE_OUT']);
/** Slurm's own default for MaxArraySize, when `scontrol show config` cannot say. */
const DEFAULT_MAX_ARRAY_SIZE = 1001;

/** `[D-]HH:MM:SS` as seconds. */
export function walltimeSeconds(walltime: string): number {
  const m = /^(?:(\d+)-)?(\d{1,2}):(\d{2}):(\d{2})$/.exec(walltime)!;
  return Number(m[1] ?? 0) * 86400 + Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

/** Seconds as Slurm's `D-HH:MM:SS`. */
function slurmTime(seconds: number): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const d = Math.floor(seconds / 86400);
  return `${d}-${pad(Math.floor((seconds % 86400) / 3600))}:${pad(Math.floor((seconds % 3600) / 60))}:${pad(seconds % 60)}`;
}

/**
 * The sbatch directives a card asks for (also documented in the README). The card's walltime is
 * per task, so a job that packs k tasks asks for k times it: packing never kills a task that would
 * have had its time alone.
 */
export function sbatchDirectives(card: SlurmCard, workspaceRoot: string, job: ArrayScript): string[] {
  const lines = [
    '--job-name=lambda-hat',
    `--partition=${card.partition}`,
    `--time=${job.tasksPerElement === 1 ? card.walltime : slurmTime(walltimeSeconds(card.walltime) * job.tasksPerElement)}`,
    '--nodes=1',
    '--ntasks=1',
    `--cpus-per-task=${card.cpus_per_task}`,
    `--mem=${card.mem_per_task}`,
    `--array=0-${job.elements - 1}%${job.throttle}`,
    `--output=${join(job.dir, 'element-%a.out')}`,
    `--error=${join(job.dir, 'element-%a.err')}`,
    `--chdir=${workspaceRoot}`,
    // A failed task is resubmitted by us, with its own attempt count; Slurm's requeue would hide it.
    '--no-requeue',
  ];
  if (card.gpus > 0) lines.push(`--gpus-per-node=${card.gpu_type ? `${card.gpu_type}:` : ''}${card.gpus}`);
  if (card.account) lines.push(`--account=${card.account}`);
  if (card.qos) lines.push(`--qos=${card.qos}`);
  if (card.constraint) lines.push(`--constraint=${card.constraint}`);
  lines.push(...card.sbatch_extra);
  return lines;
}

/** A Slurm state, in the words a user reads, or where the element stands. */
function elementState(card: SlurmCard, state: string, reason: string, what: string): ElementState {
  if (WAITING.has(state)) return { phase: 'waiting' };
  if (RUNNING.has(state)) return { phase: 'running' };
  if (state === 'COMPLETED') return { phase: 'completed' };
  const detail = reason && reason !== 'None' ? ` (${reason})` : '';
  const why =
    state === 'TIMEOUT' ? `${what} exceeded its walltime (${card.walltime} per task)`
    : state === 'CANCELLED' ? `${what} was cancelled${detail}`
    : state === 'NODE_FAIL' ? `the node running ${what} failed`
    : state === 'OUT_OF_MEMORY' ? `${what} ran out of memory (mem_per_task: ${card.mem_per_task})`
    : state === 'PREEMPTED' ? `${what} was preempted`
    : `${what} ended in state ${state}${detail}`;
  return { phase: 'failed', why };
}

export function slurmScheduler(card: SlurmCard, workspaceRoot: string): ArrayScheduler {
  let maxArraySize: number | undefined;
  return {
    name: 'Slurm',
    indexVariable: '$SLURM_ARRAY_TASK_ID',
    directives: (job) => sbatchDirectives(card, workspaceRoot, job).map((d) => `#SBATCH ${d}`),
    async submit(script) {
      try {
        return (await run('sbatch', ['--parsable', script])).stdout.trim().split(';')[0];
      } catch (e) {
        throw new Error(((e as { stderr?: string }).stderr || (e as Error).message).trim());
      }
    },
    elementKey: (jobId, index) => `${jobId}_${index}`,
    async states(jobIds, what) {
      let listing = '';
      try {
        listing = (await run('squeue', ['-h', '-r', '-t', 'all', '-j', jobIds.join(','), '-o', '%i|%T|%r'])).stdout;
      } catch (e) {
        // squeue fails for unknown ids once every job has been purged; the exit files then tell.
        listing = (e as { stdout?: string }).stdout ?? '';
      }
      const states = new Map<string, ElementState>();
      for (const line of listing.split('\n')) {
        const [key, state, reason] = line.split('|');
        if (key) states.set(key, elementState(card, state.split(' ')[0], reason, what(key)));
      }
      return states;
    },
    cancel(keys) {
      execFileSync('scancel', keys, { stdio: 'ignore' });
    },
    maxArraySize() {
      if (maxArraySize === undefined) {
        try {
          const config = execFileSync('scontrol', ['show', 'config'], { encoding: 'utf8' });
          maxArraySize = Number(/^MaxArraySize\s*=\s*(\d+)/m.exec(config)?.[1] ?? DEFAULT_MAX_ARRAY_SIZE);
        } catch {
          maxArraySize = DEFAULT_MAX_ARRAY_SIZE;
        }
      }
      // Indices run from 0 to MaxArraySize − 1.
      return maxArraySize;
    },
  };
}

export function slurmBackend(workspaceRoot: string, card: SlurmCard, source: string): Backend {
  const env = { LAMBDA_HAT_THREADS: String(card.cpus_per_task), ...card.env };
  const backend = arrayJobsBackend(workspaceRoot, slurmScheduler(card, workspaceRoot), { ...card, env }, `slurm (${source}: partition ${card.partition}, ${card.cpus_per_task} CPUs${card.gpus ? `, ${card.gpus} GPU` : ''})`);
  return { ...backend, taskWalltimeSec: walltimeSeconds(card.walltime), taskWalltime: `walltime ${card.walltime} (${source})` };
}

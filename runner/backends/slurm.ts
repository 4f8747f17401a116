/**
 * The Slurm backend: packed array jobs (array-jobs.ts) through sbatch, squeue and scancel.
 *
 * State comes from `squeue -r -t all`, which works without slurmdbd (no sacct needed); with
 * MinJobAge short enough that Slurm forgets a finished job, the exit files written inside the job
 * still account for it.
 *
 * The Slurm commands run through execa: a failure becomes an error that names the command line and
 * carries what it wrote to stderr, each command has a time limit, and one still running when this
 * process exits (Ctrl-C) is killed rather than left behind.
 */
import { join } from 'node:path';
import type * as Execa from 'execa';
import type { SlurmCard } from '../cards';
import { ArrayScheduler, arrayJobsBackend, ArrayScript, ElementState } from './array-jobs';
import { Backend, STDERR_TAIL_LINES } from './types';

let loaded: typeof Execa | undefined;
/**
 * execa, loaded when a Slurm command first runs rather than imported: every executor loads this
 * module (backends/index.ts), and execa costs about 60 ms of CPU to load, which a local run would
 * otherwise pay per executor, so per task with --batch=false.
 */
function execaModule(): typeof Execa {
  return (loaded ??= require('execa') as typeof Execa);
}

/**
 * Time limits of the Slurm commands. Measured with Slurm 22.05 (MessageTimeout 10 s): with the
 * controller unreachable, squeue gives up after 18 s and sbatch, scancel and scontrol after 9 s,
 * and without a readable slurm.conf squeue retries for 59 s, each then saying why; these limits let
 * those messages through and stop only a command that hangs. sbatch gets longer: it retries a busy
 * controller on its own, and a submission it is stopped in the middle of may still be queued.
 */
const QUERY_TIMEOUT_MS = 90_000;
const SUBMIT_TIMEOUT_MS = 300_000;
/** No Slurm command here reads its stdin. */
const COMMAND_OPTIONS = { stdin: 'ignore', timeout: QUERY_TIMEOUT_MS } as const;

/**
 * A failed Slurm command as an Error whose message is what the command wrote to stderr (its last
 * lines: Slurm's own reason comes first in messages) and then which command failed and how: its
 * exit status, the time limit it ran past, or that it could not start.
 */
export function slurmCommandError(e: unknown, shown?: string[]): Error {
  const { ExecaError, ExecaSyncError } = execaModule();
  if (!(e instanceof ExecaError || e instanceof ExecaSyncError)) return e instanceof Error ? e : new Error(String(e));
  const output: unknown = e.stderr;
  const stderr = typeof output === 'string' ? output.trim().split('\n').slice(-STDERR_TAIL_LINES).join('\n') : '';
  // execa's first line: "Command failed with exit code 1: sbatch --parsable …", "Command timed out after …", "Command failed with ENOENT: …";
  // `shown` names the command a wrapper ran (scancel, not the sh that ignores signals for it).
  const how = (shown ? e.shortMessage.replace(e.escapedCommand, shown.join(' ')) : e.shortMessage).split('\n')[0];
  return new Error(stderr ? `${stderr} (${how})` : how, { cause: e });
}

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
 * The sbatch directives a card asks for (also documented in docs/slurm.md, "The job script"). The
 * card's walltime is per task, so a job that packs k tasks asks for k times it: packing never kills
 * a task that would have had its time alone.
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
        return (await execaModule().execa('sbatch', ['--parsable', script], { ...COMMAND_OPTIONS, timeout: SUBMIT_TIMEOUT_MS })).stdout.trim().split(';')[0];
      } catch (e) {
        throw slurmCommandError(e);
      }
    },
    elementKey: (jobId, index) => `${jobId}_${index}`,
    async states(jobIds, what) {
      let listing = '';
      try {
        listing = (await execaModule().execa('squeue', ['-h', '-r', '-t', 'all', '-j', jobIds.join(','), '-o', '%i|%T|%r'], COMMAND_OPTIONS)).stdout;
      } catch (e) {
        // Asked only about jobs Slurm has purged, squeue may fail ("Invalid job id specified"); the exit files then tell.
        // Any other failure (the controller unreachable, no squeue) is no answer at all: the caller waits and asks again.
        if (!(e instanceof execaModule().ExecaError && /Invalid job id specified/.test(String(e.stderr)))) throw slurmCommandError(e);
      }
      const states = new Map<string, ElementState>();
      for (const line of listing.split('\n')) {
        const [key, state, reason] = line.split('|');
        if (key) states.set(key, elementState(card, state.split(' ')[0], reason, what(key)));
      }
      return states;
    },
    cancel(keys) {
      // Synchronous, as it runs in the Ctrl-C handler just before the process exits. Ctrl-C reaches
      // Nx at the same moment, and Nx ends this batch's process tree with SIGTERM: a scancel already
      // started was caught in it and died before Slurm heard it, and the jobs ran on (seen once in
      // a full test run; reproduced with Nx's killProcessTreeGraceful, 1 time in 4). So scancel
      // runs with SIGINT and SIGTERM ignored, which exec keeps; the keys are arguments, never code.
      try {
        execaModule().execaSync('sh', ['-c', 'trap "" INT TERM; exec scancel "$@"', 'scancel', ...keys], COMMAND_OPTIONS);
      } catch (e) {
        throw slurmCommandError(e, ['scancel', ...keys]);
      }
    },
    maxArraySize() {
      if (maxArraySize === undefined) {
        try {
          const config = execaModule().execaSync('scontrol', ['show', 'config'], COMMAND_OPTIONS).stdout;
          maxArraySize = Number(/^MaxArraySize\s*=\s*(\d+)/m.exec(config)?.[1] ?? DEFAULT_MAX_ARRAY_SIZE);
        } catch {
          // Without the cluster's limit, Slurm's default; a cluster that cannot answer scontrol refuses the sbatch that follows, with its reason.
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

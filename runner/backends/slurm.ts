/**
 * The Slurm backend: tasks become elements of `sbatch --array` jobs, each a short single-node job
 * running the worker (`node bin/lambda-hat.js run <rule> <task.json>`).
 *
 * Tasks started in the same tick go into one array (so a ready set of tasks is one submission),
 * never more than the card's max_jobs in flight. State comes from `squeue -r -t all`, which works
 * without slurmdbd (no sacct needed), plus an exit-status file each job writes when it ends, so a
 * job Slurm has already forgotten is still accounted for. Walltime, cancellation, node failure,
 * memory and non-zero exits each become a failure with a message and the job's log tail, retried
 * per the card (not input errors, which fail the same way every time, nor rejected submissions).
 *
 * A task's own time limit (WorkerTask.timeLimitSec, e.g. a tuning trial's budget) is enforced inside
 * the job: the worker runs under GNU coreutils `timeout --kill-after=5 <limit>` (SIGTERM at the
 * limit, SIGKILL 5 s later), and exit status 124 or 137 then ends the task as timed out, not retried
 * (it would run over again). The card's walltime stays the outer bound of every job.
 *
 * Assumes a shared filesystem: the workspace (code, node_modules, task files, artifacts) is mounted
 * at the same path on the compute nodes. Each submission's files are in artifacts/.work/slurm/<id>/:
 * job.sh, tasks.txt (one `<rule> <task file> <limit seconds or 0>` line per array index; tasks of
 * one array share job.sh, so the per-task limit lives here), submission.json (job id,
 * tasks, time sbatch took), and per index <i>.out, <i>.err and <i>.exit.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { SlurmCard } from '../cards';
import { Backend, INPUT_ERROR_STATUS, OutputSink, Outcome, STDERR_TAIL_LINES, WorkerTask } from './types';

const run = promisify(execFile);

/** How long a submitted job may stay invisible to squeue before it counts as lost. */
const VISIBILITY_GRACE_MS = 30_000;

/** Exit statuses of `timeout` when it stopped the worker: 124 after its TERM, 137 (128 + 9) after its KILL. */
const TIMEOUT_STATUSES = new Set([124, 137]);

/** A task's time limit in seconds, or undefined when it has none (absent, zero or not a finite positive number). */
const limitOf = (task: WorkerTask) => (task.timeLimitSec !== undefined && Number.isFinite(task.timeLimitSec) && task.timeLimitSec > 0 ? task.timeLimitSec : undefined);

const PENDING_STATES = new Set(['PENDING', 'CONFIGURING', 'RUNNING', 'COMPLETING', 'REQUEUED', 'RESIZING', 'SUSPENDED', 'SIGNALING', 'STAGE_OUT']);

interface Entry {
  task: WorkerTask;
  sink: OutputSink;
  resolve: (o: Outcome) => void;
  attempt: number;
  failures: string[];
}

interface Job extends Entry {
  key: string; // <array job id>_<index>
  dir: string;
  index: number;
  submittedAt: number;
}

/** A word for the shell, single-quoted. */
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The sbatch directives a card asks for (also documented in the README). */
export function sbatchDirectives(card: SlurmCard, dir: string, workspaceRoot: string, arraySize: number): string[] {
  const lines = [
    '--job-name=lambda-hat',
    `--partition=${card.partition}`,
    `--time=${card.walltime}`,
    '--nodes=1',
    '--ntasks=1',
    `--cpus-per-task=${card.cpus_per_task}`,
    `--mem=${card.mem_per_task}`,
    `--array=0-${arraySize - 1}`,
    `--output=${join(dir, '%a.out')}`,
    `--error=${join(dir, '%a.err')}`,
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

function jobScript(card: SlurmCard, dir: string, workspaceRoot: string, arraySize: number): string {
  const env = { LAMBDA_HAT_THREADS: String(card.cpus_per_task), ...card.env };
  return [
    '#!/bin/bash',
    ...sbatchDirectives(card, dir, workspaceRoot, arraySize).map((d) => `#SBATCH ${d}`),
    '# The exit status lands in a file, so it survives Slurm forgetting the job.',
    `trap 'echo $? > ${quote(dir)}/"$SLURM_ARRAY_TASK_ID.exit"' EXIT`,
    ...card.worker_init,
    ...Object.entries(env).map(([k, v]) => `export ${k}=${quote(v)}`),
    // `<rule> <task file> <limit seconds or 0>`; the task file is everything between the first and
    // the last space, so a workspace path with spaces still works.
    `read -r RULE REST < <(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" ${quote(join(dir, 'tasks.txt'))})`,
    'LIMIT=${REST##* }',
    'TASK_FILE=${REST% *}',
    `WORKER=(${quote(card.node ?? process.execPath)} ${quote(join(workspaceRoot, 'bin', 'lambda-hat.js'))} run "$RULE" "$TASK_FILE")`,
    '# No exec: the EXIT trap above must still run to record the status (124/137 when timeout stopped it).',
    'if [ "$LIMIT" != 0 ]; then timeout --kill-after=5 "$LIMIT" "${WORKER[@]}"; else "${WORKER[@]}"; fi',
    '',
  ].join('\n');
}

function tailOf(path: string, lines: number): string[] {
  if (!existsSync(path)) return [];
  const all = readFileSync(path, 'utf8').split('\n');
  if (all[all.length - 1] === '') all.pop();
  return all.slice(-lines);
}

export function slurmBackend(workspaceRoot: string, card: SlurmCard, source: string): Backend {
  const queue: Entry[] = [];
  const inflight = new Map<string, Job>();
  const workRoot = join(workspaceRoot, 'artifacts', '.work', 'slurm');
  let submissions = 0;
  let flushScheduled = false;
  let polling: NodeJS.Timeout | undefined;

  /** `retryable`: whether running the task again could end differently. */
  const finish = (job: Entry, outcome: Omit<Outcome, 'attempts'>, retryable = false) => {
    if (!outcome.ok) {
      job.failures.push(outcome.reason!);
      if (retryable && job.attempt <= card.retries) {
        job.sink.stderr(`attempt ${job.attempt} failed (${outcome.reason}); retrying, attempt ${job.attempt + 1} of ${card.retries + 1}`);
        queue.push({ ...job, attempt: job.attempt + 1 });
        scheduleFlush();
        return;
      }
      if (job.failures.length > 1) outcome = { ...outcome, reason: `${outcome.reason} (after ${job.failures.length} attempts: ${job.failures.join('; ')})` };
    }
    job.resolve({ ...outcome, attempts: job.attempt });
  };

  /** Reads a finished job's logs into its sink and decides its outcome from its state. */
  const settle = (job: Job, state: string, reason: string) => {
    inflight.delete(job.key);
    const out = join(job.dir, `${job.index}.out`);
    const err = join(job.dir, `${job.index}.err`);
    for (const line of tailOf(out, Infinity)) job.sink.stdout(line);
    for (const line of tailOf(err, Infinity)) job.sink.stderr(line);
    const tail = tailOf(err, STDERR_TAIL_LINES);
    const exitFile = join(job.dir, `${job.index}.exit`);
    const status = existsSync(exitFile) ? Number(readFileSync(exitFile, 'utf8').trim()) : null;
    const what = `Slurm job ${job.key}`;
    if (state === 'COMPLETED' && (status === 0 || status === null)) return finish(job, { ok: true, stderrTail: tail });
    const limit = limitOf(job.task);
    // `timeout` stopped the worker at the task's own limit (Slurm saw a plain non-zero exit). Not
    // retried: it would run over again.
    if (limit !== undefined && status !== null && TIMEOUT_STATUSES.has(status) && (state === 'FAILED' || state === 'COMPLETED')) {
      return finish(job, { ok: false, timedOut: true, reason: `${what} exceeded its time limit of ${limit} s`, stderrTail: tail });
    }
    const why =
      state === 'TIMEOUT' ? `${what} exceeded its walltime of ${card.walltime}`
      : state === 'CANCELLED' ? `${what} was cancelled${reason && reason !== 'None' ? ` (${reason})` : ''}`
      : state === 'NODE_FAIL' ? `the node running ${what} failed`
      : state === 'OUT_OF_MEMORY' ? `${what} ran out of memory (mem_per_task: ${card.mem_per_task})`
      : state === 'PREEMPTED' ? `${what} was preempted`
      : state === 'LOST' ? `${what} disappeared from squeue without an exit status (MinJobAge may be short)`
      : status !== null ? `${what} exited with status ${status}`
      : `${what} ended in state ${state}${reason && reason !== 'None' ? ` (${reason})` : ''}`;
    // An input error fails the same way every time; everything else (walltime, cancellation, the
    // node, memory, a crash) may not.
    finish(job, { ok: false, reason: why, stderrTail: tail }, status !== INPUT_ERROR_STATUS);
  };

  const poll = async () => {
    polling = undefined;
    if (inflight.size === 0) return;
    const jobIds = [...new Set([...inflight.keys()].map((k) => k.split('_')[0]))];
    let listing = '';
    try {
      listing = (await run('squeue', ['-h', '-r', '-t', 'all', '-j', jobIds.join(','), '-o', '%i|%T|%r'])).stdout;
    } catch (e) {
      // squeue fails for unknown ids once every job has been purged; fall through to the exit files.
      listing = (e as { stdout?: string }).stdout ?? '';
    }
    const seen = new Map<string, [string, string]>();
    for (const line of listing.split('\n')) {
      const [id, state, reason] = line.split('|');
      if (id) seen.set(id, [state, reason]);
    }
    const now = Date.now();
    for (const job of [...inflight.values()]) {
      const entry = seen.get(job.key);
      if (entry) {
        const [state, reason] = entry;
        if (!PENDING_STATES.has(state)) settle(job, state.split(' ')[0], reason);
      } else if (existsSync(join(job.dir, `${job.index}.exit`))) {
        settle(job, Number(readFileSync(join(job.dir, `${job.index}.exit`), 'utf8')) === 0 ? 'COMPLETED' : 'FAILED', '');
      } else if (now - job.submittedAt > VISIBILITY_GRACE_MS) {
        settle(job, 'LOST', '');
      }
    }
    if (inflight.size > 0) polling = setTimeout(() => void poll(), card.poll_seconds * 1000);
  };

  const submit = async (entries: Entry[]) => {
    const dir = join(workRoot, `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}-${submissions++}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'tasks.txt'), entries.map((e) => `${e.task.rule} ${e.task.taskFile} ${limitOf(e.task) ?? 0}\n`).join(''));
    const script = join(dir, 'job.sh');
    writeFileSync(script, jobScript(card, dir, workspaceRoot, entries.length), { mode: 0o755 });
    let jobId: string;
    const started = Date.now();
    try {
      jobId = (await run('sbatch', ['--parsable', script])).stdout.trim().split(';')[0];
      writeFileSync(join(dir, 'submission.json'), JSON.stringify({ job_id: jobId, tasks: entries.length, sbatch_seconds: (Date.now() - started) / 1000, submitted_at: started }) + '\n');
    } catch (e) {
      const message = ((e as { stderr?: string }).stderr || (e as Error).message).trim();
      // A rejected submission (no such partition, bad account, …) is a configuration error: no retry.
      for (const entry of entries) entry.resolve({ ok: false, reason: `sbatch rejected the job: ${message}`, stderrTail: [], attempts: entry.attempt });
      return;
    }
    const submittedAt = Date.now();
    entries.forEach((entry, index) => {
      const key = `${jobId}_${index}`;
      inflight.set(key, { ...entry, key, dir, index, submittedAt });
      entry.sink.stdout(`submitted as Slurm job ${key} (partition ${card.partition}, attempt ${entry.attempt})`);
    });
    polling ??= setTimeout(() => void poll(), card.poll_seconds * 1000);
  };

  function scheduleFlush(): void {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      const room = card.max_jobs - inflight.size;
      if (room <= 0 || queue.length === 0) return;
      void submit(queue.splice(0, room));
    });
  }

  return {
    name: `slurm (${source}: partition ${card.partition}, ${card.cpus_per_task} CPUs${card.gpus ? `, ${card.gpus} GPU` : ''})`,
    run(task, sink) {
      return new Promise<Outcome>((resolve) => {
        // Every ending frees room for queued tasks.
        const resolveAndRefill = (o: Outcome) => {
          resolve(o);
          scheduleFlush();
        };
        queue.push({ task, sink, resolve: resolveAndRefill, attempt: 1, failures: [] });
        scheduleFlush();
      });
    },
    cancelAll() {
      queue.length = 0;
      if (polling) clearTimeout(polling);
      const keys = [...inflight.keys()];
      if (keys.length) execFileSync('scancel', keys, { stdio: 'ignore' });
    },
  };
}

/**
 * Tasks as array jobs on a batch scheduler, packed: the engine every cluster backend shares. A
 * scheduler adapter (slurm.ts; PBS or LSF would each be one more file) only submits an array,
 * reports its elements' states, cancels, and words a state; everything else is here.
 *
 * Packing. Tasks handed over within PACK_WINDOW_MS of each other form one submission. A
 * submission is cut into chunks, one per array element, each run by `lambda-hat chunk` on one warm
 * worker (chunk.ts). Chunks are as small as keeps `max_jobs` elements busy and no larger than
 * `tasks_per_job`: ten long tasks become ten jobs, a thousand short ones a few dozen. Elements in
 * flight never exceed `max_jobs` (tasks wait here for room), each array is throttled with
 * `%max_jobs` as well, and a submission larger than the cluster's MaxArraySize is split.
 *
 * Endings. A task has ended when its exit file appears, whatever its job is doing, so results
 * stream back while a chunk is still running. When an element ends, its tasks without an exit file
 * take its fate (cancelled, walltime, node failure). Failures are retried per the card as new
 * submissions, except input errors and a task's own time limit, which would end the same way.
 *
 * Assumes a shared filesystem: the workspace (code, node_modules, artifacts) is mounted at the same
 * path on the compute nodes. Each submission's files are in artifacts/.work/<scheduler>/<id>/:
 * job.sh, tasks.json, chunks.json, submission.json (job id, tasks, elements, time sbatch took),
 * per element element-<k>.out/.err/.exit, per task <i>.out, <i>.err and <i>.exit.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENV_NAME } from '../cards';
import { submissionFiles, TaskExit } from '../chunk';
import { Backend, OutputSink, Outcome, STDERR_TAIL_LINES, WorkerTask } from './types';

/** Tasks that become ready this close together go out in one submission. */
const PACK_WINDOW_MS = 300;
/** How long a submitted element may stay invisible to the scheduler's queue before it counts as lost. */
const VISIBILITY_GRACE_MS = 30_000;
/**
 * How long the scheduler's queue may stay unreadable (its controller restarting or unreachable, its
 * command failing) before the tasks still waiting on it fail with the command's error. Until then a
 * failed read is no news: exit files still end tasks, and no job counts as lost or is resubmitted
 * while it may still be running.
 */
const QUEUE_UNREADABLE_MS = 300_000;

/** What an adapter needs to write an array job's script. */
export interface ArrayScript {
  dir: string;
  elements: number;
  /** The most tasks one element runs (its time limit must cover them all). */
  tasksPerElement: number;
  /** Elements that may run at once. */
  throttle: number;
}

/** An element's state as the scheduler reports it, reduced to what the engine acts on. */
export type ElementState = { phase: 'waiting' | 'running' } | { phase: 'completed' } | { phase: 'failed'; why: string };

export interface ArrayScheduler {
  /** For messages: `Slurm`. */
  readonly name: string;
  /** The shell expression of the element's index inside the job, e.g. `$SLURM_ARRAY_TASK_ID`. */
  readonly indexVariable: string;
  /** The script's header: the scheduler's directives for this array. */
  directives(job: ArrayScript): string[];
  /** Submits the script; resolves to the job id. Rejects with the scheduler's words when it refuses. */
  submit(script: string): Promise<string>;
  /** The key the scheduler gives element `index` of job `jobId`, e.g. `123_4`. */
  elementKey(jobId: string, index: number): string;
  /**
   * States of every element of these jobs the scheduler still knows, by key, with `what` naming the
   * element in messages. Rejects, with the command and its words, when the queue cannot be read.
   */
  states(jobIds: string[], what: (key: string) => string): Promise<Map<string, ElementState>>;
  /** Cancels these elements. Synchronous: it runs on Ctrl-C. Throws, with the command and its words, when that fails. */
  cancel(keys: string[]): void;
  /** The largest array the cluster accepts. */
  maxArraySize(): number;
}

export interface ArrayCard {
  max_jobs: number;
  tasks_per_job: number;
  retries: number;
  poll_seconds: number;
  /** The node binary on the compute nodes; null: the one running this process (same path). */
  node: string | null;
  worker_init: string[];
  /** Environment of every worker. */
  env: Record<string, string>;
}

interface Entry {
  task: WorkerTask;
  sink: OutputSink;
  resolve: (o: Outcome) => void;
  attempt: number;
  failures: string[];
}

interface Element {
  key: string;
  jobId: string;
  index: number;
  dir: string;
  submittedAt: number;
  /** The element's tasks not yet ended, by their index in the submission. */
  open: Map<number, Entry>;
}

/** A word for the shell, single-quoted. */
export const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function readLines(path: string): string[] {
  if (!existsSync(path)) return [];
  const all = readFileSync(path, 'utf8').split('\n');
  if (all[all.length - 1] === '') all.pop();
  return all;
}

/** Tasks per element: as few as keep `room` elements busy, at most `cap`. */
export function chunkSize(tasks: number, room: number, cap: number): number {
  return Math.max(1, Math.min(cap, Math.ceil(tasks / Math.max(1, room))));
}

/**
 * The script of one array job: the scheduler's directives, then the card's `worker_init` lines
 * (shell, by design), its environment and the worker. Every other card value that reaches the
 * script is either single-quoted here or checked by the card's schema (runner/cards.ts) before it
 * gets here: variable names, and the words of the directives, which are not shell-quoted.
 */
export function jobScript(scheduler: Pick<ArrayScheduler, 'indexVariable' | 'directives'>, card: ArrayCard, workspaceRoot: string, job: ArrayScript): string {
  const { dir } = job;
  const index = scheduler.indexVariable;
  // The card's schema refuses such names; this keeps any other caller from writing shell here.
  const bad = Object.keys(card.env).filter((k) => !ENV_NAME.test(k));
  if (bad.length) throw new Error(`not environment variable names, refusing to write them into job.sh: ${bad.map((k) => JSON.stringify(k)).join(', ')}`);
  return [
    '#!/bin/bash',
    ...scheduler.directives(job),
    '# The exit status lands in a file, so it survives the scheduler forgetting the job.',
    `trap 'echo $? > ${quote(dir)}/"element-${index}.exit"' EXIT`,
    ...card.worker_init,
    ...Object.entries(card.env).map(([k, v]) => `export ${k}=${quote(v)}`),
    '# No exec: the EXIT trap above must still run to record the status.',
    `${quote(card.node ?? process.execPath)} ${quote(join(workspaceRoot, 'bin', 'lambda-hat.js'))} chunk ${quote(dir)} "${index}"`,
    '',
  ].join('\n');
}

/** `queueUnreadableMs`: QUEUE_UNREADABLE_MS unless a test shortens it. */
export function arrayJobsBackend(workspaceRoot: string, scheduler: ArrayScheduler, card: ArrayCard, name: string, { queueUnreadableMs = QUEUE_UNREADABLE_MS } = {}): Backend {
  const queue: Entry[] = [];
  const inflight = new Map<string, Element>();
  const workRoot = join(workspaceRoot, 'artifacts', '.work', scheduler.name.toLowerCase());
  let submissions = 0;
  let flushTimer: NodeJS.Timeout | undefined;
  let polling: NodeJS.Timeout | undefined;
  /** When the queue's reads began to fail, while they do. */
  let unreadableSince: number | undefined;
  let cancelled = false;

  /** `retryable`: whether running the task again could end differently. */
  const finish = (entry: Entry, outcome: Omit<Outcome, 'attempts'>, retryable: boolean) => {
    if (!outcome.ok) {
      entry.failures.push(outcome.reason!);
      if (retryable && entry.attempt <= card.retries) {
        entry.sink.stderr(`attempt ${entry.attempt} failed (${outcome.reason}); retrying, attempt ${entry.attempt + 1} of ${card.retries + 1}`);
        queue.push({ ...entry, attempt: entry.attempt + 1 });
        scheduleFlush();
        return;
      }
      if (entry.failures.length > 1) outcome = { ...outcome, reason: `${outcome.reason} (after ${entry.failures.length} attempts: ${entry.failures.join('; ')})` };
    }
    entry.resolve({ ...outcome, attempts: entry.attempt });
    scheduleFlush();
  };

  /** A task of `element` has ended: its log goes to its sink, its exit file (if any) decides; without one, `fate` says why, retried if `retryable`. */
  const settleTask = (element: Element, index: number, fate: string | null, retryable = true) => {
    const entry = element.open.get(index)!;
    element.open.delete(index);
    for (const line of readLines(submissionFiles.out(element.dir, index))) entry.sink.stdout(line);
    const err = readLines(submissionFiles.err(element.dir, index));
    for (const line of err) entry.sink.stderr(line);
    const stderrTail = err.slice(-STDERR_TAIL_LINES);
    const what = `${scheduler.name} job ${element.key}`;
    const exitFile = submissionFiles.exit(element.dir, index);
    if (existsSync(exitFile)) {
      const exit = JSON.parse(readFileSync(exitFile, 'utf8')) as TaskExit;
      if (exit.ok) return finish(entry, { ...exit, stderrTail }, false);
      const reason = exit.timedOut ? `${what} ${exit.reason}` : `${exit.reason} in ${what}`;
      return finish(entry, { ...exit, reason, stderrTail }, !exit.inputError && !exit.timedOut);
    }
    finish(entry, { ok: false, reason: fate ?? `${what} ended without running the task`, stderrTail }, retryable);
  };

  const poll = async () => {
    polling = undefined;
    if (inflight.size === 0) return;
    // Endings first: a task is done when its exit file is there, even while its chunk runs on.
    for (const element of inflight.values()) for (const index of [...element.open.keys()]) if (existsSync(submissionFiles.exit(element.dir, index))) settleTask(element, index, null);
    const jobIds = [...new Set([...inflight.values()].map((e) => e.jobId))];
    let states: Map<string, ElementState> | null = null;
    try {
      states = await scheduler.states(jobIds, (key) => `${scheduler.name} job ${key}`);
      unreadableSince = undefined;
    } catch (e) {
      unreadableSince ??= Date.now();
      const seconds = Math.round((Date.now() - unreadableSince) / 1000);
      if (Date.now() - unreadableSince >= queueUnreadableMs) {
        // Not retried: a resubmitted task could run beside the first, which may still be running.
        for (const element of [...inflight.values()]) {
          inflight.delete(element.key);
          for (const index of [...element.open.keys()]) settleTask(element, index, `the state of ${scheduler.name} job ${element.key} is unknown: the queue could not be read for ${seconds} s: ${(e as Error).message}`, false);
        }
      }
    }
    const now = Date.now();
    for (const element of [...inflight.values()]) {
      const state = states?.get(element.key);
      let fate: string | null | undefined;
      if (state) {
        if (state.phase === 'completed') fate = null;
        else if (state.phase === 'failed') fate = state.why;
      } else {
        // Forgotten by the scheduler (or not yet visible): the element's own exit file tells.
        const exitFile = join(element.dir, `element-${element.index}.exit`);
        const status = existsSync(exitFile) ? readFileSync(exitFile, 'utf8').trim() : null;
        if (status !== null) fate = status === '0' ? null : `${scheduler.name} job ${element.key} exited with status ${status}`;
        else if (states && now - element.submittedAt > VISIBILITY_GRACE_MS) fate = `${scheduler.name} job ${element.key} disappeared from the queue without an exit status`;
      }
      if (fate === undefined && element.open.size > 0) continue;
      inflight.delete(element.key);
      for (const index of [...element.open.keys()]) settleTask(element, index, fate ?? null);
    }
    // A poll that was waiting on the queue when everything was cancelled polls no more.
    if (inflight.size > 0 && !cancelled) polling = setTimeout(() => void poll(), card.poll_seconds * 1000);
  };

  const submit = async (chunks: Entry[][]) => {
    const dir = join(workRoot, `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}-${submissions++}`);
    mkdirSync(dir, { recursive: true });
    const entries = chunks.flat();
    const tasks: WorkerTask[] = entries.map((e) => e.task);
    let next = 0;
    const layout = chunks.map((c) => c.map(() => next++));
    writeFileSync(submissionFiles.tasks(dir), JSON.stringify(tasks));
    writeFileSync(submissionFiles.chunks(dir), JSON.stringify(layout));
    const script = join(dir, 'job.sh');
    writeFileSync(script, jobScript(scheduler, card, workspaceRoot, { dir, elements: chunks.length, tasksPerElement: Math.max(...chunks.map((c) => c.length)), throttle: card.max_jobs }), { mode: 0o755 });
    const started = Date.now();
    let jobId: string;
    try {
      jobId = await scheduler.submit(script);
    } catch (e) {
      // A refused submission (no such partition, bad account, …) is a configuration error: no retry.
      for (const entry of entries) entry.resolve({ ok: false, reason: `${scheduler.name} rejected the job: ${(e as Error).message}`, stderrTail: [], attempts: entry.attempt });
      return;
    }
    writeFileSync(join(dir, 'submission.json'), JSON.stringify({ job_id: jobId, tasks: entries.length, elements: chunks.length, submit_seconds: (Date.now() - started) / 1000, submitted_at: started }) + '\n');
    const submittedAt = Date.now();
    layout.forEach((indices, k) => {
      const key = scheduler.elementKey(jobId, k);
      const open = new Map(indices.map((i) => [i, entries[i]] as const));
      inflight.set(key, { key, jobId, index: k, dir, submittedAt, open });
      for (const i of indices) entries[i].sink.stdout(`submitted as ${scheduler.name} job ${key} (${indices.length} task${indices.length > 1 ? 's' : ''} in it, attempt ${entries[i].attempt})`);
    });
    polling ??= setTimeout(() => void poll(), card.poll_seconds * 1000);
  };

  /** Packs the queue into chunks for the room there is, in arrays the cluster accepts. */
  const flush = () => {
    flushTimer = undefined;
    let room = card.max_jobs - inflight.size;
    if (room <= 0 || queue.length === 0) return;
    const size = chunkSize(queue.length, room, card.tasks_per_job);
    const maxArray = scheduler.maxArraySize();
    while (room > 0 && queue.length > 0) {
      const elements = Math.min(room, maxArray, Math.ceil(queue.length / size));
      const chunks = Array.from({ length: elements }, () => queue.splice(0, size)).filter((c) => c.length > 0);
      room -= chunks.length;
      void submit(chunks);
    }
  };

  function scheduleFlush(): void {
    flushTimer ??= setTimeout(flush, PACK_WINDOW_MS);
  }

  return {
    name,
    run(task, sink) {
      return new Promise<Outcome>((resolve) => {
        queue.push({ task, sink, resolve, attempt: 1, failures: [] });
        scheduleFlush();
      });
    },
    cancelAll() {
      cancelled = true;
      queue.length = 0;
      clearTimeout(flushTimer);
      clearTimeout(polling);
      const keys = [...inflight.keys()];
      if (!keys.length) return;
      try {
        scheduler.cancel(keys);
      } catch (e) {
        // This runs in the Ctrl-C handler just before exit, and after a failed tune: thrown, the error
        // would end the process with a stack trace (or hide the tune's own error) instead of saying
        // which jobs may still be running.
        process.stderr.write(`lambda-hat: could not cancel ${scheduler.name} jobs ${keys.join(', ')}, which may still be running: ${(e as Error).message}\n`);
      }
    },
    close() {},
  };
}

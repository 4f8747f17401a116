/**
 * A pool of warm workers (`lambda-hat serve`, rules/serve.ts): at most `size` long-lived worker
 * processes, each running one task at a time, tasks queued in the order they arrive. A worker
 * is started when a task needs one and kept for the next, so a run of many short tasks pays for
 * Node and the TypeScript compile once per worker instead of once per task.
 *
 * A worker that dies mid-task (a crash, an out-of-memory kill, SIGKILL from outside) fails that
 * task alone: the pool forgets the worker and starts a fresh one for the next task. A task with a
 * time limit gets SIGTERM when it runs over and SIGKILL 5 s later; its worker is replaced too.
 * The local backend runs its tasks here; on Slurm, each job runs its chunk of tasks here (chunk.ts).
 */
import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { RunRequest, WorkerMessage } from '../rules/serve';
import { INPUT_ERROR_STATUS } from '../rules/rule';
import { OutputSink, Outcome, STDERR_TAIL_LINES, WorkerTask } from './backends/types';

/** How long a worker over its time limit has between SIGTERM and SIGKILL. */
const KILL_AFTER_MS = 5_000;
/** The longest delay setTimeout honours (about 24.8 days); a longer limit is no limit in practice. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What the pool needs of a task; the label is the caller's. */
export type PoolTask = Pick<WorkerTask, 'rule' | 'spec' | 'timeLimitSec'>;

interface Queued {
  task: PoolTask;
  sink: OutputSink;
  resolve: (o: Outcome) => void;
}

/** The task a worker is running, and how its output and ending are gathered. */
interface Current extends Queued {
  tail: string[];
  timedOut: boolean;
  timers: NodeJS.Timeout[];
  /** Partial lines per stream: the worker sends text as it was written, not line by line. */
  partial: { stdout: string; stderr: string };
}

interface Worker {
  child: ChildProcess;
  current: Current | null;
}

export interface PoolOptions {
  /** Workspace root: the workers' working directory, and where bin/lambda-hat.js is. */
  root: string;
  size: number;
  env: NodeJS.ProcessEnv;
}

export class WorkerPool {
  private readonly queue: Queued[] = [];
  private queueHead = 0;
  private readonly workers = new Set<Worker>();
  private readonly idle: Worker[] = [];
  private closed = false;

  constructor(private readonly options: PoolOptions) {}

  /** Runs one task on the next free worker. */
  run(task: PoolTask, sink: OutputSink): Promise<Outcome> {
    if (this.closed) return Promise.resolve({ ok: false, reason: 'the worker pool was shut down', stderrTail: [], attempts: 1 });
    return new Promise<Outcome>((resolve) => {
      this.queue.push({ task, sink, resolve });
      this.dispatch();
    });
  }

  /** Stops every worker now (Ctrl-C); queued tasks fail. Synchronous: it runs in signal handlers. */
  cancelAll(): void {
    this.closed = true;
    for (const q of this.queue.splice(this.queueHead)) q.resolve({ ok: false, reason: 'cancelled', stderrTail: [], attempts: 1 });
    for (const w of this.workers) w.child.kill('SIGTERM');
  }

  /** Lets idle workers exit once the queue is empty; running tasks finish first. */
  close(): void {
    this.closed = true;
    for (const w of this.idle.splice(0)) w.child.disconnect();
  }

  private dispatch(): void {
    while (this.queueHead < this.queue.length) {
      const worker = this.idle.pop() ?? (this.workers.size < this.options.size ? this.spawn() : null);
      if (!worker) return;
      const next = this.queue[this.queueHead++];
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) this.queue.splice(0, this.queueHead), (this.queueHead = 0);
      this.start(worker, next);
    }
  }

  private spawn(): Worker {
    // node:child_process's fork, not execa (which runs the Slurm commands and watch's nx). Measured
    // with 500 tiny tasks of 10 output messages each through a warm pool of one (Node 20.20, execa
    // 9.6.1's execaNode on the same IPC channel), execa costs the parent 0.20–0.21 ms of CPU per task
    // against 0.15–0.18 ms, 25 ms more to start the first worker and 60 ms to load: with --batch=false
    // every task pays the last two. And it gives nothing here: a worker's end is its task's outcome
    // already (with its stderr tail), a task's time limit is not the process's, and the IPC channel
    // ends the worker when this process dies, even by SIGKILL, which no exit hook of execa's survives.
    const child = fork(join(this.options.root, 'bin', 'lambda-hat.js'), ['serve'], {
      cwd: this.options.root,
      env: this.options.env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    const worker: Worker = { child, current: null };
    this.workers.add(worker);
    // Lines written straight to the file descriptors (native code) belong to the task running then.
    createInterface({ input: child.stdout! }).on('line', (line) => worker.current?.sink.stdout(line));
    createInterface({ input: child.stderr! }).on('line', (line) => worker.current && this.stderrLine(worker.current, line));
    child.on('message', (m: WorkerMessage) => this.message(worker, m));
    child.on('error', (e) => this.lost(worker, `could not run the worker: ${e.message}`));
    child.on('exit', (code, signal) => this.lost(worker, signal ? `worker killed by ${signal}` : `worker exited with status ${code}`));
    return worker;
  }

  private start(worker: Worker, q: Queued): void {
    const current: Current = { ...q, tail: [], timedOut: false, timers: [], partial: { stdout: '', stderr: '' } };
    worker.current = current;
    const limit = q.task.timeLimitSec;
    if (limit !== undefined && limit > 0 && limit * 1000 <= MAX_TIMER_MS) {
      current.timers.push(
        setTimeout(() => {
          if (worker.current !== current) return;
          current.timedOut = true;
          worker.child.kill('SIGTERM');
          current.timers.push(setTimeout(() => worker.child.exitCode === null && worker.child.signalCode === null && worker.child.kill('SIGKILL'), KILL_AFTER_MS));
        }, limit * 1000),
      );
    }
    const request: RunRequest = { type: 'run', rule: q.task.rule, spec: q.task.spec };
    worker.child.send(request);
  }

  private stderrLine(current: Current, line: string): void {
    current.sink.stderr(line);
    current.tail.push(line);
    if (current.tail.length > STDERR_TAIL_LINES) current.tail.shift();
  }

  private message(worker: Worker, m: WorkerMessage): void {
    const current = worker.current;
    if (!current) return;
    if (m.type === 'output') {
      const lines = (current.partial[m.stream] + m.text).split('\n');
      current.partial[m.stream] = lines.pop()!;
      for (const line of lines) m.stream === 'stdout' ? current.sink.stdout(line) : this.stderrLine(current, line);
      return;
    }
    this.flushPartial(current);
    this.end(worker, current, m.status === 0 ? { ok: true, stderrTail: current.tail, attempts: 1, cpuSeconds: m.cpuSeconds } : {
      ok: false,
      reason: m.status === INPUT_ERROR_STATUS ? 'the task failed with exit status 2 (a problem with its inputs or settings: not retried)' : `the task failed (exit status ${m.status})`,
      inputError: m.status === INPUT_ERROR_STATUS,
      stderrTail: current.tail,
      attempts: 1,
    });
    if (m.status === 1) return; // the worker leaves after a bug; its exit removes it
    this.idle.push(worker);
    if (this.closed && this.queueHead === this.queue.length) worker.child.disconnect();
    this.dispatch();
  }

  private flushPartial(current: Current): void {
    if (current.partial.stdout) current.sink.stdout(current.partial.stdout);
    if (current.partial.stderr) this.stderrLine(current, current.partial.stderr);
    current.partial = { stdout: '', stderr: '' };
  }

  private end(worker: Worker, current: Current, outcome: Outcome): void {
    current.timers.forEach(clearTimeout);
    worker.current = null;
    current.resolve(outcome);
  }

  /** The worker is gone: its task (if any) fails, and the next task gets a fresh worker. */
  private lost(worker: Worker, why: string): void {
    if (!this.workers.delete(worker)) return;
    const i = this.idle.indexOf(worker);
    if (i >= 0) this.idle.splice(i, 1);
    const current = worker.current;
    if (current) {
      this.flushPartial(current);
      const limit = current.task.timeLimitSec;
      this.end(worker, current, current.timedOut ? { ok: false, timedOut: true, reason: `exceeded its time limit of ${limit} s`, stderrTail: current.tail, attempts: 1 } : { ok: false, reason: why, stderrTail: current.tail, attempts: 1 });
    }
    if (!this.closed) this.dispatch();
  }
}

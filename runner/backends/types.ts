/**
 * A backend runs tasks somewhere and reports how they ended (Parsl's provider idea: the caller
 * never knows which backend it drives). Many `run` calls may be in flight at once; a backend is
 * free to queue them (a local pool of warm workers) or group them (Slurm job arrays).
 */
export interface WorkerTask {
  /** `project:target`, for messages and output prefixes. */
  label: string;
  rule: string;
  /** The rule's spec, exactly as the task's options hold it. */
  spec: unknown;
  /** Seconds of wall time the task may run before it is stopped (a tuning trial's budget); absent: no limit. */
  timeLimitSec?: number;
}

export interface Outcome {
  ok: boolean;
  /** Why the last attempt failed, in words. */
  reason?: string;
  /** The last lines the task wrote to stderr. */
  stderrTail: string[];
  attempts: number;
  /** True when the task was stopped for exceeding its time limit, so callers can tell over-budget from broken. */
  timedOut?: boolean;
  /** True when the worker rejected the task's input (exit status 2): running it again cannot help. */
  inputError?: boolean;
  /** CPU seconds the worker spent on the task itself, where the backend can tell. */
  cpuSeconds?: number;
}

/** Where the task's output lines go (already split into lines). */
export interface OutputSink {
  stdout(line: string): void;
  stderr(line: string): void;
}

export interface Backend {
  /** Names the backend and its settings' source, e.g. `slurm (config/cards/slurm-cpu.yaml)`. */
  readonly name: string;
  /**
   * The most seconds the scheduler lets one task run (a Slurm card's `walltime`), when it kills
   * tasks itself; absent: no limit. A tune refuses a budget longer than this (tune.ts).
   */
  readonly taskWalltimeSec?: number;
  /** The card's words for that limit, for messages: `walltime 00:00:30 (config/cards/slurm-cpu.yaml)`. */
  readonly taskWalltime?: string;
  /** Runs one task to its end, retries included. */
  run(task: WorkerTask, sink: OutputSink): Promise<Outcome>;
  /** Stops every worker or job this backend started that is still running. Synchronous: it runs on Ctrl-C. */
  cancelAll(): void;
  /** Lets the backend's workers go once their tasks are done (a process that ends calls it). */
  close(): void;
}

export const STDERR_TAIL_LINES = 20;

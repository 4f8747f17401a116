/**
 * A backend runs worker processes (`lambda-hat run <rule> <task.json>`) somewhere and reports how
 * they ended (Parsl's provider idea: the caller never knows which backend it drives). Many `run`
 * calls may be in flight at once; a backend is free to group them (Slurm job arrays).
 */
export interface WorkerTask {
  /** `project:target`, for messages and output prefixes. */
  label: string;
  rule: string;
  /** Absolute path of the task file the worker reads. */
  taskFile: string;
  /** Seconds of wall time the worker may run before it is stopped (a tuning trial's budget); absent: no limit. */
  timeLimitSec?: number;
}

export interface Outcome {
  ok: boolean;
  /** Why the last attempt failed, in words. */
  reason?: string;
  /** The last lines the worker wrote to stderr. */
  stderrTail: string[];
  attempts: number;
  /** True when the worker was stopped for exceeding its time limit, so callers can tell over-budget from broken. */
  timedOut?: boolean;
}

/** Where the worker's output lines go (already split into lines). */
export interface OutputSink {
  stdout(line: string): void;
  stderr(line: string): void;
}

export interface Backend {
  /** Names the backend and its settings' source, e.g. `slurm (config/cards/slurm-cpu.yaml)`. */
  readonly name: string;
  /** Runs one task to its end, retries included. */
  run(task: WorkerTask, sink: OutputSink): Promise<Outcome>;
  /** Stops every worker or job this backend started that is still running. Synchronous: it runs on Ctrl-C. */
  cancelAll(): void;
}

/** Exit status of `lambda-hat` for a mistake in the input: running it again cannot help. */
export const INPUT_ERROR_STATUS = 2;
export const STDERR_TAIL_LINES = 20;

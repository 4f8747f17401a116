/**
 * A backend runs worker processes (`lambda-hat run <rule> <task.json>`) somewhere and reports how
 * they ended. The executor does not know which backend it drives.
 */
export interface WorkerTask {
  /** `project:target`, for messages. */
  label: string;
  rule: string;
  /** Absolute path of the task file the worker reads. */
  taskFile: string;
}

export interface Outcome {
  ok: boolean;
  /** Why it failed, in words, when it did. */
  reason?: string;
  /** The last lines the worker wrote to stderr. */
  stderrTail: string[];
}

/** Where the worker's output lines go (already split into lines). */
export interface OutputSink {
  stdout(line: string): void;
  stderr(line: string): void;
}

export interface Backend {
  readonly name: string;
  run(task: WorkerTask, sink: OutputSink): Promise<Outcome>;
  /** Stops every worker this backend started that is still running. */
  cancelAll(): void;
}

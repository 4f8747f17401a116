/**
 * A rule is one kind of task (Snakemake style): what it reads and writes, the code it runs, and
 * `run()`. Rules run in worker processes (`lambda-hat run <rule> <task.json>`) and know nothing
 * about Nx or the backend that started them.
 */
export interface RuleContext {
  /** Absolute path of the workspace root; artifact paths are relative to it. */
  root: string;
  log(message: string): void;
}

export interface Rule<Spec> {
  name: string;
  /**
   * Source files whose import closure is the code this rule runs for `spec`. A change to any file
   * in that closure invalidates the task's cache entry.
   */
  codeEntryPoints(spec: Spec): string[];
  /** Workspace-relative directories this task writes. */
  outputs(spec: Spec): string[];
  run(spec: Spec, ctx: RuleContext): Promise<void>;
}

/** An error caused by the user's input or environment: reported as its message alone. */
export class UserError extends Error {
  override name = 'UserError';
}

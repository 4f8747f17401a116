import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArtifactWriteError } from '../packages/llc/src/atomic';
import type { Dtype } from '../packages/llc/src/mlp';
import { ConfigError } from './experiment/problems';
import { progressReporter, ProgressUpdate } from './progress';

/**
 * A rule is one kind of task (Snakemake style): what it reads and writes, the code it runs, and
 * `run()`. Rules run in worker processes (`lambda-hat run <rule> <task.json>`) and know nothing
 * about Nx or the backend that started them.
 */
export interface RuleContext {
  /** Absolute path of the workspace root; artifact paths are relative to it. */
  root: string;
  log(message: string): void;
  /** How far the rule's long phases have got; absent where nobody watches (tests, benchmarks). */
  progress?(update: ProgressUpdate): void;
}

export interface Rule<Spec> {
  name: string;
  /**
   * Source files whose import closure is the code this rule runs for `spec`. A change to any file
   * in that closure invalidates the task's cache entry.
   */
  codeEntryPoints(spec: Spec): string[];
  /**
   * Workspace-relative paths this task writes, which Nx caches and restores: files where they are
   * known in advance, folders otherwise. Nx walks a folder each time it hashes or restores it, which
   * a sweep pays for ten thousand times (docs/caching.md, "Files per run").
   */
  outputs(spec: Spec): string[];
  /**
   * Why the task's outputs are missing or unreadable, or null when they are fine: a task counts as
   * done only when this passes, whichever backend ran it.
   */
  verify(spec: Spec, root: string): string | null;
  /**
   * The precisions the task's kernel computes in, for rules that compute with one: its cache key
   * then carries the rounding of the kernel this machine would use for each (runner/kernel-keys.ts).
   */
  precisions?(spec: Spec): Dtype[];
  /** Workspace-relative folders of the upstream tasks whose arrays (`.npy`) the task reads. */
  upstream?(spec: Spec): string[];
  /**
   * For a rule that bundles tasks of another rule into one Nx task (a slice of a large sweep,
   * sample.ts): the tasks it is made of. The runner hands them to the backend one by one, so they
   * spread over its workers; `run` runs them one after another in a single process.
   */
  members?(spec: Spec): { project: string; rule: string; spec: unknown }[];
  run(spec: Spec, ctx: RuleContext): Promise<void>;
}

/** Checks that `files` exist in `dir` (workspace-relative) and that the JSON ones parse. */
export function checkFiles(root: string, dir: string, files: string[]): string | null {
  for (const f of files) {
    const path = join(root, dir, f);
    if (!existsSync(path)) return `${join(dir, f)} is missing`;
    if (f.endsWith('.json')) {
      try {
        JSON.parse(readFileSync(path, 'utf8'));
      } catch (e) {
        return `${join(dir, f)} is not valid JSON: ${(e as Error).message}`;
      }
    }
  }
  return null;
}

/** Exit status of `lambda-hat` for a mistake in the input: running it again cannot help. */
export const INPUT_ERROR_STATUS = 2;

/** An error caused by the user's input or environment: reported as its message alone. */
export class UserError extends Error {
  override name = 'UserError';
}

/**
 * Whether `e` is the user's mistake or the machine's state (a bad file or value, ConfigError or
 * UserError; a full disk or a folder without write permission, ArtifactWriteError): its message
 * alone, exit status 2, and no retry, which would end the same way.
 */
export const isInputError = (e: unknown): e is Error => e instanceof ConfigError || e instanceof UserError || e instanceof ArtifactWriteError;

/** Runs a rule in this process, its progress reported as the worker's environment asks (progress.ts). */
export async function runRule<S>(rule: Rule<S>, spec: S, root: string): Promise<void> {
  const reporter = progressReporter();
  try {
    await rule.run(spec, { root, log: (m) => reporter.log(m), progress: (u) => reporter.progress(u) });
  } finally {
    reporter.close();
  }
}

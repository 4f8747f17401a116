/**
 * The Nx executor for every lambda-hat task: writes the task file, hands it to a backend, streams
 * the worker's output with a per-task prefix, and turns a failure into a short report (the reason
 * and the tail of the worker's stderr) and a non-zero status. Independent tasks keep running: Nx
 * only skips the dependents of a failed task.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { localBackend } from './backends/local';

export interface RunOptions {
  rule: string;
  spec: { id?: string; experiment?: string };
}

export default async function runExecutor(options: RunOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  const label = `${context.projectName}:${context.targetName}`;
  const prefix = `[${context.projectName}]`;
  const taskDir = join(context.root, 'artifacts', '.work', 'tasks');
  mkdirSync(taskDir, { recursive: true });
  const taskFile = join(taskDir, `${context.projectName}.${context.targetName}.json`);
  writeFileSync(taskFile, JSON.stringify(options.spec));

  const backend = localBackend(context.root);
  const stop = () => backend.cancelAll();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const outcome = await backend.run(
      { label, rule: options.rule, taskFile },
      { stdout: (line) => console.log(`${prefix} ${line}`), stderr: (line) => console.error(`${prefix} ${line}`) },
    );
    if (outcome.ok) {
      rmSync(taskFile, { force: true });
      return { success: true };
    }
    const tail = outcome.stderrTail.length ? `\nlast lines of its stderr:\n${outcome.stderrTail.map((l) => `  ${l}`).join('\n')}` : '';
    console.error(`${prefix} FAILED on ${backend.name}: ${outcome.reason}${tail}\nrerun by hand: node bin/lambda-hat.js run ${options.rule} ${relative(context.root, taskFile)}`);
    return { success: false };
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/**
 * One task on a backend, as the executor and the batch executor both run it: write its task file,
 * run the worker, check its outputs (a task only succeeds when they exist and parse), and turn a
 * failure into a short report: the reason, the tail of the worker's stderr, and how to rerun it.
 * The worker's progress events go to a display, never to the output as they are.
 */
import { join, relative } from 'node:path';
import { writeFileAtomic } from '../../../packages/llc/src/atomic';
import { RULES } from '../../../rules';
import { parseProgressLine, ProgressDisplay } from '../../../rules/progress';
import type { Backend } from './backends/types';

export interface TaskToRun {
  project: string;
  target: string;
  rule: string;
  spec: object;
}

export type Print = (line: string, stream: 'stdout' | 'stderr') => void;

export async function runTask(root: string, backend: Backend, t: TaskToRun, print: Print, display: ProgressDisplay): Promise<boolean> {
  const prefix = `[${t.project}]`;
  const taskFile = join(root, 'artifacts', '.work', 'tasks', `${t.project}.${t.target}.json`);
  writeFileAtomic(taskFile, JSON.stringify(t.spec));
  const outcome = await backend.run(
    { label: `${t.project}:${t.target}`, rule: t.rule, taskFile },
    {
      stdout: (line) => {
        const event = parseProgressLine(line);
        if (event) display.update(t.project, event);
        else print(`${prefix} ${line}`, 'stdout');
      },
      stderr: (line) => print(`${prefix} ${line}`, 'stderr'),
    },
  );
  display.finish(t.project);
  const problem = outcome.ok ? RULES[t.rule].verify(t.spec, root) : null;
  if (outcome.ok && !problem) return true;
  const reason = outcome.reason ?? `the worker finished but its outputs are not usable: ${problem}`;
  const tail = outcome.stderrTail.length ? `\nlast lines of its stderr:\n${outcome.stderrTail.map((l) => `  ${l}`).join('\n')}` : '';
  print(`${prefix} FAILED on ${backend.name}: ${reason}${tail}\nrerun by hand: node bin/lambda-hat.js run ${t.rule} ${relative(root, taskFile)}`, 'stderr');
  return false;
}

/** Cancels the backend's work when Nx or the user stops the run, then exits. */
export function cancelOnSignals(backend: Backend): () => void {
  const stop = (signal: NodeJS.Signals) => {
    backend.cancelAll();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
}

/**
 * One task on a backend, as the executor, the batch executor and the tuner run it: run it on a
 * worker, check its outputs (a task only succeeds when they exist and parse), and turn a failure
 * into a short report: the reason, the tail of the worker's stderr, and how to rerun it by hand
 * (its spec is written to a task file then; a task that succeeds leaves no file behind). The
 * worker's progress events go to a display, never to the output as they are.
 */
import { join, relative } from 'node:path';
import { writeFileAtomic } from '../packages/llc/src/atomic';
import { RULES } from '../rules';
import { parseProgressLine, ProgressDisplay } from '../rules/progress';
import type { Backend, Outcome } from './backends/types';
import { KeptRuns } from './kept-runs';

export interface TaskToRun {
  project: string;
  target: string;
  rule: string;
  spec: object;
  /** Wall-time budget in seconds: the backend stops the worker when it is spent. */
  timeLimitSec?: number;
}

export type Print = (line: string, stream: 'stdout' | 'stderr') => void;

/** How a task ended: the backend's outcome and, when the worker succeeded, whether its outputs are usable. */
export interface TaskEnd {
  ok: boolean;
  outcome: Outcome;
  /** Why the outputs are not usable although the worker succeeded; null otherwise. */
  problem: string | null;
}

/** Runs one task's worker on the backend and checks its outputs; progress events go to `display`, other lines to `print`. */
export async function runWorker(root: string, backend: Backend, t: TaskToRun, print: Print, display: ProgressDisplay, label = t.project): Promise<TaskEnd> {
  const prefix = `[${label}]`;
  const outcome = await backend.run(
    { label: `${t.project}:${t.target}`, rule: t.rule, spec: t.spec, ...(t.timeLimitSec !== undefined && { timeLimitSec: t.timeLimitSec }) },
    {
      stdout: (line) => {
        const event = parseProgressLine(line);
        if (event) display.update(label, event);
        else print(`${prefix} ${line}`, 'stdout');
      },
      stderr: (line) => print(`${prefix} ${line}`, 'stderr'),
    },
  );
  display.finish(label);
  const problem = outcome.ok ? RULES[t.rule].verify(t.spec, root) : null;
  return { ok: outcome.ok && !problem, outcome, problem };
}

/** A failed task in words: the reason, the tail of the worker's stderr, and how to rerun it. */
export function failureReport(root: string, backend: Backend, t: TaskToRun, end: TaskEnd): string {
  const taskFile = join(root, 'artifacts', '.work', 'tasks', `${t.project}.${t.target}.json`);
  writeFileAtomic(taskFile, JSON.stringify(t.spec));
  const reason = end.outcome.reason ?? `the worker finished but its outputs are not usable: ${end.problem}`;
  const tail = end.outcome.stderrTail.length ? `\nlast lines of its stderr:\n${end.outcome.stderrTail.map((l) => `  ${l}`).join('\n')}` : '';
  return `[${t.project}] FAILED on ${backend.name}: ${reason}${tail}\nrerun by hand: node bin/lambda-hat.js run ${t.rule} ${relative(root, taskFile)}`;
}

/** One ledger of kept runs per workspace in this process: it remembers the code and kernel hashes it has made. */
const ledgers = new Map<string, KeptRuns>();
const keptRuns = (root: string) => ledgers.get(root) ?? ledgers.set(root, new KeptRuns(root)).get(root)!;
const KEPT: TaskEnd = { ok: true, outcome: { ok: true, stderrTail: [], attempts: 0, cpuSeconds: 0 }, problem: null };

/**
 * Runs a task and reports it if it failed. A task made of members (a slice of a sweep,
 * rules/sample.ts) runs as its members, all handed to the backend at once so that they spread over
 * its workers (or Slurm jobs); it succeeds when every member does, and each failed member is
 * reported on its own.
 */
export async function runTask(root: string, backend: Backend, t: TaskToRun, print: Print, display: ProgressDisplay): Promise<TaskEnd> {
  const members = RULES[t.rule]?.members?.(t.spec);
  if (members) {
    const kept = keptRuns(root);
    let keptCount = 0;
    const ends = await Promise.all(
      members.map(async (m) => {
        const member = { ...t, project: m.project, rule: m.rule, spec: m.spec as object };
        const { kept: unchanged, key } = kept.check(member);
        if (unchanged) {
          keptCount++;
          return KEPT;
        }
        const end = await runTask(root, backend, member, print, display);
        if (end.ok) kept.record(member, key);
        return end;
      }),
    );
    if (keptCount) print(`[${t.project}] ${keptCount} of its ${members.length} runs kept: computed here before from the same inputs (runner/kept-runs.ts)`, 'stdout');
    const failed = ends.filter((e) => !e.ok);
    const cpuSeconds = ends.reduce((sum, e) => sum + (e.outcome.cpuSeconds ?? 0), 0);
    const outcome: Outcome = {
      ok: failed.length === 0,
      ...(failed.length > 0 && { reason: `${failed.length} of its ${ends.length} runs failed` }),
      stderrTail: [],
      attempts: Math.max(...ends.map((e) => e.outcome.attempts)),
      cpuSeconds,
    };
    return { ok: failed.length === 0, outcome, problem: null };
  }
  const end = await runWorker(root, backend, t, print, display);
  if (!end.ok) print(failureReport(root, backend, t, end), 'stderr');
  return end;
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

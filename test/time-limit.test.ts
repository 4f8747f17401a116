/**
 * Per-task time limits on the local backend (WorkerTask.timeLimitSec, a tuning trial's budget): a
 * worker over its limit gets SIGTERM, then SIGKILL 5 s later if it ignores that, and ends as timed
 * out; a worker within its limit is untouched; the pool's slots are released either way. The
 * worker is a stand-in bin/lambda-hat.js in a scratch workspace root whose task file says how long
 * to sleep and whether to ignore SIGTERM. (The Slurm backend's limit is tested in slurm.test.ts.)
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LocalCard } from '../runner/cards';
import { localBackend } from '../runner/backends/local';
import type { Outcome, WorkerTask } from '../runner/backends/types';

/** Sleeps `sleep` seconds, then exits with `status`; with `ignoreTerm`, SIGTERM only prints a line. Writes its pid first. */
const FAKE_WORKER = `
const { readFileSync, writeFileSync } = require('node:fs');
const [, , command, rule, taskFile] = process.argv;
const task = JSON.parse(readFileSync(taskFile, 'utf8'));
writeFileSync(taskFile + '.pid', String(process.pid));
if (task.ignoreTerm) process.on('SIGTERM', () => console.error('ignoring SIGTERM'));
console.log('started ' + command + ' ' + rule);
setTimeout(() => process.exit(task.status ?? 0), task.sleep * 1000);
`;

const root = mkdtempSync(join(tmpdir(), 'lh-time-limit-'));
mkdirSync(join(root, 'bin'));
writeFileSync(join(root, 'bin', 'lambda-hat.js'), FAKE_WORKER);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const card = (maxJobs: number): LocalCard => ({ backend: 'local', max_jobs: maxJobs, threads: 1, env: {} });

let tasks = 0;
function task(behaviour: { sleep: number; status?: number; ignoreTerm?: boolean }, timeLimitSec?: number): WorkerTask {
  const taskFile = join(root, `task-${tasks++}.json`);
  writeFileSync(taskFile, JSON.stringify(behaviour));
  return { label: `fake:${tasks}`, rule: 'sample', taskFile, timeLimitSec };
}

/** Runs one task and times it, with the worker's output lines. */
async function timed(backend: ReturnType<typeof localBackend>, t: WorkerTask) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const started = Date.now();
  const outcome: Outcome = await backend.run(t, { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) });
  return { outcome, seconds: (Date.now() - started) / 1000, stdout, stderr };
}

/** Whether the process that ran a task is still alive. */
function alive(t: WorkerTask): boolean {
  const pid = Number(readFileSync(`${t.taskFile}.pid`, 'utf8'));
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('local backend time limits', () => {
  it('stops a worker over its limit with SIGTERM, near the limit, as timed out', async () => {
    const backend = localBackend(root, card(2), 'test');
    const t = task({ sleep: 30 }, 1);
    const { outcome, seconds, stdout } = await timed(backend, t);
    expect(stdout).toContain('started run sample');
    expect(outcome).toMatchObject({ ok: false, timedOut: true, reason: 'exceeded its time limit of 1 s', attempts: 1 });
    // SIGTERM at 1 s ended it, well before the 5 s SIGKILL and the 30 s sleep.
    expect(seconds).toBeGreaterThanOrEqual(0.9);
    expect(seconds).toBeLessThan(5);
    expect(alive(t)).toBe(false);
  }, 30_000);

  it('kills a worker that ignores SIGTERM with SIGKILL 5 s later', async () => {
    const backend = localBackend(root, card(2), 'test');
    const t = task({ sleep: 30, ignoreTerm: true }, 1);
    const { outcome, seconds, stderr } = await timed(backend, t);
    expect(stderr).toContain('ignoring SIGTERM');
    expect(outcome).toMatchObject({ ok: false, timedOut: true, reason: 'exceeded its time limit of 1 s' });
    expect(outcome.stderrTail).toContain('ignoring SIGTERM');
    expect(seconds).toBeGreaterThanOrEqual(5.9);
    expect(seconds).toBeLessThan(12);
    expect(alive(t)).toBe(false);
  }, 30_000);

  it('leaves a worker within its limit alone: ok, not timed out', async () => {
    const backend = localBackend(root, card(2), 'test');
    const { outcome, seconds } = await timed(backend, task({ sleep: 0.3 }, 10));
    expect(outcome).toEqual({ ok: true, stderrTail: [], attempts: 1 });
    expect(outcome.timedOut).toBeUndefined();
    expect(seconds).toBeLessThan(5);
  }, 30_000);

  it('reports a worker failing within its limit as a failure, not a timeout', async () => {
    const backend = localBackend(root, card(2), 'test');
    const { outcome } = await timed(backend, task({ sleep: 0.1, status: 3 }, 10));
    expect(outcome).toMatchObject({ ok: false, reason: 'worker exited with status 3' });
    expect(outcome.timedOut).toBeUndefined();
  }, 30_000);

  it('a task without a limit runs to its end', async () => {
    const backend = localBackend(root, card(2), 'test');
    const { outcome, seconds } = await timed(backend, task({ sleep: 2 }));
    expect(outcome).toEqual({ ok: true, stderrTail: [], attempts: 1 });
    expect(seconds).toBeGreaterThanOrEqual(1.9);
  }, 30_000);

  it('releases the slot of a timed-out task: the next queued task runs', async () => {
    const backend = localBackend(root, card(1), 'test');
    const [over, next] = await Promise.all([timed(backend, task({ sleep: 30 }, 1)), timed(backend, task({ sleep: 0.1 }, 10))]);
    expect(over.outcome.timedOut).toBe(true);
    expect(next.outcome.ok).toBe(true);
    // One slot: the second task waited for the first to be stopped.
    expect(next.seconds).toBeGreaterThanOrEqual(0.9);
    expect(next.seconds).toBeLessThan(10);
  }, 30_000);
});

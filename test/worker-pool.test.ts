/**
 * The local backend's pool of warm workers. Workers are reused: consecutive tasks run in the same
 * process. A worker that crashes mid-task (killed from outside) fails that task alone and the next
 * task gets a fresh worker. Per-task time limits (WorkerTask.timeLimitSec, a tuning trial's
 * budget): a worker over its limit gets SIGTERM, then SIGKILL 5 s later if it ignores that, and
 * the task ends as timed out; a task within its limit is untouched; slots are released either way.
 * The worker is a stand-in bin/lambda-hat.js in a scratch workspace root that speaks the `serve`
 * protocol (rules/serve.ts); each task's spec says how long to sleep, the status to end with, and
 * whether to ignore SIGTERM. (The Slurm backend's limit is tested in slurm.test.ts; the real worker's
 * crash in slurm.test.ts and nx-failures.test.ts.)
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LocalCard } from '../runner/cards';
import { localBackend } from '../runner/backends/local';
import type { Outcome, WorkerTask } from '../runner/backends/types';

/** Per task: writes its pid, sleeps `sleep` seconds, then ends with `status`; with `ignoreTerm`, SIGTERM only prints a line. */
const FAKE_WORKER = `
const { writeFileSync } = require('node:fs');
if (process.argv[2] !== 'serve') process.exit(9);
process.on('message', ({ rule, spec }) => {
  writeFileSync(spec.pidFile, String(process.pid));
  if (spec.ignoreTerm) process.on('SIGTERM', () => console.error('ignoring SIGTERM'));
  process.send({ type: 'output', stream: 'stdout', text: 'started ' + rule + '\\n' });
  setTimeout(() => process.send({ type: 'done', status: spec.status ?? 0, cpuSeconds: 0.001 }), spec.sleep * 1000);
});
`;

const root = mkdtempSync(join(tmpdir(), 'lh-time-limit-'));
mkdirSync(join(root, 'bin'));
writeFileSync(join(root, 'bin', 'lambda-hat.js'), FAKE_WORKER);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const card = (maxJobs: number): LocalCard => ({ backend: 'local', max_jobs: maxJobs, threads: 1, env: {} });
const backends: ReturnType<typeof localBackend>[] = [];
afterAll(() => backends.forEach((b) => b.close()));
/** A local backend of `slots` workers, let go after the tests. */
function pool(slots: number) {
  const backend = localBackend(root, card(slots), 'test');
  backends.push(backend);
  return backend;
}

let tasks = 0;
function task(behaviour: { sleep: number; status?: number; ignoreTerm?: boolean }, timeLimitSec?: number): WorkerTask {
  const pidFile = join(root, `task-${tasks++}.pid`);
  return { label: `fake:${tasks}`, rule: 'sample', spec: { ...behaviour, pidFile }, timeLimitSec };
}

/** The process that ran a task. */
const pidOf = (t: WorkerTask) => Number(readFileSync((t.spec as { pidFile: string }).pidFile, 'utf8'));

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
  try {
    const pid = pidOf(t);
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('local backend workers', () => {
  it('runs consecutive tasks in one warm worker', async () => {
    const backend = pool(1);
    const [a, b] = [task({ sleep: 0.05 }), task({ sleep: 0.05 })];
    expect((await timed(backend, a)).outcome.ok).toBe(true);
    expect((await timed(backend, b)).outcome.ok).toBe(true);
    expect(pidOf(b)).toBe(pidOf(a));
  }, 30_000);

  it('a worker killed mid-task fails that task alone; the next task runs on a fresh worker', async () => {
    const backend = pool(1);
    const [victim, next] = [task({ sleep: 30 }), task({ sleep: 0.05 })];
    const running = [timed(backend, victim), timed(backend, next)];
    const pidFile = (victim.spec as { pidFile: string }).pidFile;
    for (let waited = 0; !existsSync(pidFile); waited += 50) {
      if (waited > 20_000) throw new Error('the worker never started the task');
      await new Promise((r) => setTimeout(r, 50));
    }
    process.kill(pidOf(victim), 'SIGKILL');
    const [killed, after] = await Promise.all(running);
    expect(killed.outcome).toMatchObject({ ok: false, reason: 'worker killed by SIGKILL', attempts: 1 });
    expect(killed.outcome.timedOut).toBeUndefined();
    expect(killed.stdout).toEqual(['started sample']);
    expect(after.outcome).toMatchObject({ ok: true, attempts: 1 });
    expect(pidOf(next)).not.toBe(pidOf(victim));
  }, 30_000);
});

describe('local backend time limits', () => {
  it('stops a worker over its limit with SIGTERM, near the limit, as timed out', async () => {
    const backend = pool(2);
    const t = task({ sleep: 30 }, 1);
    const { outcome, seconds, stdout } = await timed(backend, t);
    expect(stdout).toContain('started sample');
    expect(outcome).toMatchObject({ ok: false, timedOut: true, reason: 'exceeded its time limit of 1 s', attempts: 1 });
    // SIGTERM at 1 s ended it, well before the 5 s SIGKILL and the 30 s sleep.
    expect(seconds).toBeGreaterThanOrEqual(0.9);
    expect(seconds).toBeLessThan(5);
    expect(alive(t)).toBe(false);
  }, 30_000);

  it('kills a worker that ignores SIGTERM with SIGKILL 5 s later', async () => {
    const backend = pool(2);
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
    const backend = pool(2);
    const { outcome, seconds } = await timed(backend, task({ sleep: 0.3 }, 10));
    expect(outcome).toEqual({ ok: true, stderrTail: [], attempts: 1, cpuSeconds: 0.001 });
    expect(outcome.timedOut).toBeUndefined();
    expect(seconds).toBeLessThan(5);
  }, 30_000);

  it('reports a worker failing within its limit as a failure, not a timeout', async () => {
    const backend = pool(2);
    const { outcome } = await timed(backend, task({ sleep: 0.1, status: 3 }, 10));
    expect(outcome).toMatchObject({ ok: false, reason: 'the task failed (exit status 3)' });
    expect(outcome.timedOut).toBeUndefined();
  }, 30_000);

  it('a task without a limit runs to its end', async () => {
    const backend = pool(2);
    const { outcome, seconds } = await timed(backend, task({ sleep: 2 }));
    expect(outcome).toEqual({ ok: true, stderrTail: [], attempts: 1, cpuSeconds: 0.001 });
    expect(seconds).toBeGreaterThanOrEqual(1.9);
  }, 30_000);

  it('releases the slot of a timed-out task: the next queued task runs', async () => {
    const backend = pool(1);
    const [over, next] = await Promise.all([timed(backend, task({ sleep: 30 }, 1)), timed(backend, task({ sleep: 0.1 }, 10))]);
    expect(over.outcome.timedOut).toBe(true);
    expect(next.outcome.ok).toBe(true);
    // One slot: the second task waited for the first to be stopped.
    expect(next.seconds).toBeGreaterThanOrEqual(0.9);
    expect(next.seconds).toBeLessThan(10);
  }, 30_000);
});

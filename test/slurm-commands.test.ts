/**
 * The Slurm commands as the backend runs them (runner/backends/slurm.ts), against stand-ins for
 * sbatch, squeue, scancel and scontrol on PATH, so that each failure can be had on demand and no
 * cluster is needed: a failed command's error names the command line and carries its stderr; a
 * queue that cannot be read is waited on, then gives up with squeue's words, without resubmitting;
 * a failed scancel on Ctrl-C says which jobs may still run instead of throwing. (The same backend
 * against a real cluster: slurm.test.ts.)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { arrayJobsBackend } from '../runner/backends/array-jobs';
import { slurmScheduler } from '../runner/backends/slurm';
import type { Outcome, WorkerTask } from '../runner/backends/types';
import { loadCard, SlurmCard } from '../runner/cards';
import { REPO } from './support/workspace';

const scratch = mkdtempSync(join(tmpdir(), 'lh-slurm-commands-'));
const bin = join(scratch, 'bin');
mkdirSync(bin);
const savedPath = process.env.PATH;
afterAll(() => {
  process.env.PATH = savedPath;
  rmSync(scratch, { recursive: true, force: true });
});

const COMMANDS = ['sbatch', 'squeue', 'scancel', 'scontrol'] as const;
type Command = (typeof COMMANDS)[number];

/**
 * Each stand-in appends its arguments to `<name>.args` and then runs `<name>.sh`, the behaviour the
 * test gave it (shell, with the arguments in "$@" and the test's folder in $FAKE).
 */
for (const name of COMMANDS) writeFileSync(join(bin, name), `#!/bin/sh\necho "$*" >> "$FAKE/${name}.args"\n. "$FAKE/${name}.sh"\n`, { mode: 0o755 });

let fake: string;
beforeEach(() => {
  fake = mkdtempSync(join(scratch, 'case-'));
  process.env.FAKE = fake;
  process.env.PATH = `${bin}:${savedPath}`;
});
afterEach(() => {
  delete process.env.FAKE;
  process.env.PATH = savedPath;
});

const behave = (name: Command, shell: string) => writeFileSync(join(fake, `${name}.sh`), `${shell}\n`);
const calls = (name: Command) => (existsSync(join(fake, `${name}.args`)) ? readFileSync(join(fake, `${name}.args`), 'utf8').trim().split('\n') : []);

const card = loadCard(REPO, { backend: 'slurm-cpu', from: 'env' }).card as SlurmCard;
const scheduler = () => slurmScheduler(card, fake);

/** The error `promise` rejects with, or `fn` throws; fails if there is none. */
async function failure(run: () => unknown): Promise<Error> {
  try {
    await run();
  } catch (e) {
    return e as Error;
  }
  throw new Error('it did not fail');
}

const UNREACHABLE = 'slurm_load_jobs error: Unable to contact slurm controller (connect failure)';

describe('a failed Slurm command names the command line and carries its stderr', () => {
  it('sbatch refusing a job', async () => {
    behave('sbatch', 'echo "sbatch: error: invalid partition specified: nosuch" >&2; exit 1');
    const e = await failure(() => scheduler().submit('/scratch/sub/job.sh'));
    expect(e.message).toBe('sbatch: error: invalid partition specified: nosuch (Command failed with exit code 1: sbatch --parsable /scratch/sub/job.sh)');
  });

  it('sbatch missing from PATH', async () => {
    process.env.PATH = join(fake, 'empty');
    const e = await failure(() => scheduler().submit('/scratch/sub/job.sh'));
    expect(e.message).toBe('Command failed with ENOENT: sbatch --parsable /scratch/sub/job.sh');
  });

  it('squeue that cannot reach the controller', async () => {
    behave('squeue', `echo "${UNREACHABLE}" >&2; exit 1`);
    const e = await failure(() => scheduler().states(['7', '8'], (key) => key));
    expect(e.message).toBe(`${UNREACHABLE} (Command failed with exit code 1: squeue -h -r -t all -j '7,8' -o '%i|%T|%r')`);
  });

  it('scancel that cannot reach the controller, synchronously', async () => {
    behave('scancel', 'echo "scancel: error: Kill job error on job id 7_0: Unable to contact slurm controller (connect failure)" >&2; exit 8');
    const e = await failure(() => scheduler().cancel(['7_0', '7_1']));
    expect(e.message).toBe('scancel: error: Kill job error on job id 7_0: Unable to contact slurm controller (connect failure) (Command failed with exit code 8: scancel 7_0 7_1)');
  });
});

describe('answers that are not failures', () => {
  it('squeue asked only about jobs Slurm has purged: no states, and no error', async () => {
    behave('squeue', 'echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1');
    expect(await scheduler().states(['7'], (key) => key)).toEqual(new Map());
  });

  it("squeue's listing, element by element", async () => {
    behave('squeue', "printf '7_0|RUNNING|None\\n7_1|CANCELLED|None\\n'");
    const states = await scheduler().states(['7'], (key) => `job ${key}`);
    expect(Object.fromEntries(states)).toEqual({ '7_0': { phase: 'running' }, '7_1': { phase: 'failed', why: 'job 7_1 was cancelled' } });
    expect(calls('squeue')).toEqual(['-h -r -t all -j 7 -o %i|%T|%r']);
  });

  it("MaxArraySize comes from scontrol; without scontrol's answer, Slurm's default", () => {
    behave('scontrol', 'echo "MaxArraySize            = 40"');
    expect(scheduler().maxArraySize()).toBe(40);
    behave('scontrol', `echo "${UNREACHABLE}" >&2; exit 1`);
    expect(scheduler().maxArraySize()).toBe(1001);
  });
});

describe('the backend when the queue cannot be read or the jobs cannot be cancelled', () => {
  /** A task for the backend; nothing runs it, the stand-ins play its job. */
  const task: WorkerTask = { label: 'fake:1', rule: 'sample', spec: {} };
  /** Job 4242, one element running the task; the submission's folder is the job script's. */
  const SBATCH = 'echo "4242;cluster"';

  function backend(queueUnreadableMs?: number) {
    return arrayJobsBackend(fake, scheduler(), { ...card, poll_seconds: 0.05, retries: 2 }, 'slurm (test)', queueUnreadableMs === undefined ? {} : { queueUnreadableMs });
  }
  /** Runs the task; the sink's lines are kept, and `submitted` resolves once the job is in flight. */
  function run(b: ReturnType<typeof backend>) {
    const stdout: string[] = [];
    let submitted!: () => void;
    const inFlight = new Promise<void>((resolve) => (submitted = resolve));
    const outcome: Promise<Outcome> = b.run(task, { stdout: (l) => (stdout.push(l), l.startsWith('submitted as') && submitted()), stderr: () => {} });
    return { outcome, inFlight, stdout };
  }

  it('waits while squeue fails, and goes on when it answers: the task ends as its job did, submitted once', async () => {
    behave('sbatch', SBATCH);
    // Three failed reads, then the job has run its task (its exit file, as chunk.ts writes it) and is done.
    behave(
      'squeue',
      `n=$(wc -l < "$FAKE/squeue.args")
if [ "$n" -le 3 ]; then echo "${UNREACHABLE}" >&2; exit 1; fi
dir=$(ls -d "$FAKE"/artifacts/.work/slurm/*)
echo '{"ok":true,"cpuSeconds":0.5}' > "$dir/0.exit"
echo "4242_0|COMPLETED|None"`,
    );
    const { outcome } = run(backend());
    expect(await outcome).toEqual({ ok: true, cpuSeconds: 0.5, stderrTail: [], attempts: 1 });
    expect(calls('squeue').length).toBeGreaterThanOrEqual(4);
    expect(calls('sbatch')).toHaveLength(1);
  });

  it("past its limit, an unreadable queue fails the task with squeue's words and the command, without resubmitting it", async () => {
    behave('sbatch', SBATCH);
    behave('squeue', `echo "${UNREACHABLE}" >&2; exit 1`);
    const { outcome } = run(backend(0));
    expect(await outcome).toEqual({
      ok: false,
      reason: `the state of Slurm job 4242_0 is unknown: the queue could not be read for 0 s: ${UNREACHABLE} (Command failed with exit code 1: squeue -h -r -t all -j 4242 -o '%i|%T|%r')`,
      stderrTail: [],
      attempts: 1,
    });
    expect(calls('sbatch')).toHaveLength(1);
  });

  it('scancel on Ctrl-C outlives the SIGTERM with which Nx ends the process tree at the same moment', () => {
    // The stand-in notes its pid, then takes a second to reach the controller; meanwhile another
    // process sends it SIGTERM, as Nx's killProcessTreeGraceful does to this batch's tree.
    behave('scancel', 'echo $$ > "$FAKE/scancel.pid"; sleep 1; echo reached > "$FAKE/scancel.done"');
    const killer = spawn('sh', ['-c', 'while [ ! -s "$FAKE/scancel.pid" ]; do sleep 0.01; done; kill -TERM "$(cat "$FAKE/scancel.pid")"'], { env: process.env, stdio: 'ignore' });
    try {
      expect(() => scheduler().cancel(['4242_0', '4242_1'])).not.toThrow();
    } finally {
      killer.kill();
    }
    expect(readFileSync(join(fake, 'scancel.done'), 'utf8').trim()).toBe('reached');
    expect(calls('scancel')).toEqual(['4242_0 4242_1']);
  });

  it('a scancel that fails on Ctrl-C is reported with the jobs it left, not thrown', async () => {
    behave('sbatch', SBATCH);
    behave('squeue', 'echo "4242_0|RUNNING|None"');
    behave('scancel', 'echo "scancel: error: Kill job error on job id 4242_0: Unable to contact slurm controller (connect failure)" >&2; exit 8');
    const b = backend();
    const { inFlight } = run(b);
    await inFlight;
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(() => b.cancelAll()).not.toThrow();
      expect(stderr.mock.calls.map(([text]) => String(text))).toEqual([
        'lambda-hat: could not cancel Slurm jobs 4242_0, which may still be running: scancel: error: Kill job error on job id 4242_0: Unable to contact slurm controller (connect failure) (Command failed with exit code 8: scancel 4242_0)\n',
      ]);
    } finally {
      stderr.mockRestore();
    }
    expect(calls('scancel')).toEqual(['4242_0']);
  });
});

/**
 * The Slurm backends against a real single-node Slurm cluster (scripts/slurm-up.sh): the default
 * experiment gives bit-identical results to the local backend, and faults (a cancelled job, a
 * walltime overrun, a rejected submission, Ctrl-C) each end clearly, retried where the card says,
 * with nothing half-written and the rest of the graph complete; a task's own time limit stops it
 * inside its job, timed out and not retried.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_PRESETS, Experiment, loadExperiment } from '../rules/experiment';
import { MACHINE_DEPENDENT_COLUMNS } from '../rules/llc-runs';
import { loadTuneConfig } from '../rules/tune/config';
import { StudyFile, studyDir } from '../rules/tune/study';
import { slurmBackend } from '../runner/backends/slurm';
import type { WorkerTask } from '../runner/backends/types';
import { loadCard } from '../runner/cards';
import { jobStates, slurm, submittedJobs, waitFor } from './support/slurm';
import { REPO, ScratchWorkspace } from './support/workspace';

const MINUTE = 60_000;

/** Everything a run computed: the targets' arrays and llc_runs without its machine-dependent columns. */
async function results(ws: ScratchWorkspace, exp: Experiment) {
  const npy = new Map<string, Buffer>();
  for (const t of exp.targets) {
    for (const f of readdirSync(ws.path(`artifacts/targets/${t.id}`)).filter((x) => x.endsWith('.npy'))) npy.set(`${t.id}/${f}`, ws.read(`artifacts/targets/${t.id}/${f}`));
  }
  const file = ws.read(`artifacts/experiments/${exp.name}/llc_runs.parquet`);
  const rows = (await parquetReadObjects({ file: new Uint8Array(file).buffer })) as Record<string, unknown>[];
  const reproducible = (row: Record<string, unknown>) => Object.fromEntries(Object.entries(row).filter(([name]) => !MACHINE_DEPENDENT_COLUMNS.includes(name)));
  const table = Object.fromEntries(rows.map((row) => [row.run_id as string, reproducible(row)]));
  return { npy, table };
}

describe.runIf(slurm)('Slurm backends', () => {
  it(
    'run the default experiment with bit-identical .npy files and llc_runs values to the local backend',
    async () => {
      const ws = new ScratchWorkspace();
      try {
        const exp = await loadExperiment({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/experiments.yaml'));
        const local = ws.nx('run-many', '-t', 'sample', '--backend', 'local');
        expect(local.status, local.output).toBe(0);
        const reference = await results(ws, exp);
        for (const backend of ['slurm-cpu', 'slurm-gpu']) {
          // The GPU card runs float32 work on WebGPU, which this cluster's fake GPU cannot: here it
          // computes on the CPU, to compare bits with the local backend (the next test covers the GPU path).
          const cpu = backend === 'slurm-gpu' ? ['--set', 'env.LAMBDA_HAT_KERNEL=auto'] : [];
          const r = ws.nx('run-many', '-t', 'sample', '--backend', backend, '--batch', ...cpu);
          expect(r.status, r.output).toBe(0);
          // Every task really ran as a Slurm job, none came from the local run's cache.
          expect(r.cached).toEqual([]);
          expect(r.output).toMatch(/submitted as Slurm job \d+_\d+ \(partition (cpu|gpu)/);
          const got = await results(ws, exp);
          expect([...got.npy.keys()].sort()).toEqual([...reference.npy.keys()].sort());
          for (const [name, bytes] of reference.npy) expect(got.npy.get(name)!.equals(bytes), `${backend}: ${name}`).toBe(true);
          expect(got.table).toEqual(reference.table);
        }
        // Slurm tasks ran with the card's CPUs as worker threads, and still gave the same numbers.
        const timing = JSON.parse(ws.read(`artifacts/runs/${exp.runs[0].id}/timing.json`).toString());
        expect(timing.threads).toBe(2);
      } finally {
        ws.dispose();
      }
    },
    10 * MINUTE,
  );

  it(
    "the GPU card fails float32 tasks with the reason on a node without a usable WebGPU adapter, and runs float64 tasks on the CPU",
    async () => {
      const ws = new ScratchWorkspace(
        'experiment: gpu\ntargets:\n  - { model: small, data: small, seed: 1, overrides: { training: { steps: 200 } } }\nsamplers:\n  - { name: sgld, overrides: { steps: 400, warmup: 100, eval_every: 20, batch_size: 32 } }\n  - { name: hmc, overrides: { draws: 20, warmup: 20 } }\n',
      );
      try {
        ws.env.VK_DRIVER_FILES = '/nonexistent/vulkan/icd.json';
        const r = ws.nx('run-many', '-t', 'sample', '--backend', 'slurm-gpu', '--batch', '--set', 'retries=0');
        expect(r.status).not.toBe(0);
        expect(r.output).toMatch(/FAILED on slurm .*LAMBDA_HAT_KERNEL=webgpu: the webgpu kernel was asked for but is not available: no usable WebGPU adapter/s);
        const exp = await loadExperiment({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/experiments.yaml'));
        const hmc = exp.runs.find((run) => run.sampler === 'hmc')!;
        expect(JSON.parse(ws.read(`artifacts/runs/${hmc.id}/analysis.json`).toString()).kernel).toMatch(/^(native|wasm)/);
        expect(ws.exists(`artifacts/runs/${exp.runs.find((run) => run.sampler === 'sgld')!.id}`)).toBe(false);
      } finally {
        ws.dispose();
      }
    },
    5 * MINUTE,
  );

  describe('faults', () => {
    const TARGET = '{ model: small, data: small, seed: 1, overrides: { training: { steps: 200 } } }';
    const SHORT = '{ name: hmc, overrides: { draws: 30, warmup: 30 } }';
    const experiment = (long: string) => `experiment: faults\ntargets:\n  - ${TARGET}\nsamplers:\n  - ${long}\n  - ${SHORT}\n`;
    /** An SGLD run of about `seconds` on this machine. */
    const longSgld = (steps: number) => `{ name: sgld, overrides: { steps: ${steps}, warmup: 0, eval_every: 1000, batch_size: 32 } }`;
    const workspaces: ScratchWorkspace[] = [];
    afterAll(() => workspaces.forEach((w) => w.dispose()));

    async function setup(long: string) {
      const ws = new ScratchWorkspace(experiment(long));
      workspaces.push(ws);
      const exp = await loadExperiment({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/experiments.yaml'));
      const longRun = exp.runs.find((r) => r.sampler === 'sgld')!;
      const shortRun = exp.runs.find((r) => r.sampler === 'hmc')!;
      return { ws, exp, longRun, shortRun };
    }

    /** Waits until the long task's job runs, and returns its key. */
    const runningJobOf = (ws: ScratchWorkspace, runId: string) =>
      waitFor(`the job of ${runId} to run`, 120, () => {
        const job = submittedJobs(ws.root).find((j) => j.taskFile.includes(runId));
        return job && jobStates([job.key]).get(job.key) === 'RUNNING' ? job.key : undefined;
      });

    it('a submission to a missing partition is a clear error; nothing is written', async () => {
      const { ws } = await setup(longSgld(1000));
      const r = ws.nx('run-many', '-t', 'sample', '--backend', 'slurm-cpu', '--batch', '--set', 'partition=nosuch');
      expect(r.status).not.toBe(0);
      expect(r.output).toMatch(/FAILED on slurm \(config\/cards\/slurm-cpu\.yaml: partition nosuch, 2 CPUs\): sbatch rejected the job: sbatch: error: invalid partition specified: nosuch/);
      expect(r.output).not.toMatch(/^\s+at \//m);
      expect(ws.exists('artifacts/targets')).toBe(false);
    }, 2 * MINUTE);

    it('a job cancelled mid-run is retried when the card allows, and the run completes', async () => {
      const { ws, exp, longRun } = await setup(longSgld(300_000));
      const { done } = ws.nxInBackground('run-many', '-t', 'sample', '--backend', 'slurm-cpu', '--batch', '--set', 'retries=1');
      const key = await runningJobOf(ws, longRun.id);
      execFileSync('scancel', [key]);
      const r = await done;
      expect(r.status, r.output).toBe(0);
      expect(r.output).toContain(`attempt 1 failed (Slurm job ${key} was cancelled`);
      expect(r.output).toContain('retrying, attempt 2 of 2');
      for (const run of exp.runs) expect(JSON.parse(ws.read(`artifacts/runs/${run.id}/analysis.json`).toString()).run_id).toBe(run.id);
      expect(ws.exists(`artifacts/experiments/${exp.name}/llc_runs.parquet`)).toBe(true);
    }, 5 * MINUTE);

    it('a job cancelled with no retries left fails clearly; the independent task completes, nothing is half-written', async () => {
      const { ws, exp, longRun, shortRun } = await setup(longSgld(300_001));
      const { done } = ws.nxInBackground('run-many', '-t', 'sample', '--backend', 'slurm-cpu', '--batch', '--set', 'retries=0');
      const key = await runningJobOf(ws, longRun.id);
      execFileSync('scancel', [key]);
      const r = await done;
      expect(r.status).not.toBe(0);
      expect(r.output).toContain(`[${longRun.id}] FAILED on slurm`);
      expect(r.output).toContain(`Slurm job ${key} was cancelled`);
      expect(ws.exists(`artifacts/runs/${shortRun.id}/analysis.json`)).toBe(true);
      expect(ws.exists(`artifacts/runs/${longRun.id}`)).toBe(false);
      expect(ws.exists(`artifacts/experiments/${exp.name}`)).toBe(false);
    }, 5 * MINUTE);

    it('a job over its walltime fails with the walltime in the message; the rest of the graph completes', async () => {
      // Slurm's walltimes are whole minutes, checked every ~30 s: this job is killed after 60–100 s.
      const { ws, longRun, shortRun } = await setup(longSgld(100_000_000));
      const r = ws.nx('run-many', '-t', 'sample', '--backend', 'slurm-cpu', '--batch', '--set', 'walltime=00:01:00', '--set', 'retries=0');
      expect(r.status).not.toBe(0);
      expect(r.output).toMatch(new RegExp(`\\[${longRun.id}\\] FAILED on slurm .*: Slurm job \\d+_\\d+ exceeded its walltime of 00:01:00`));
      expect(ws.exists(`artifacts/runs/${shortRun.id}/analysis.json`)).toBe(true);
      expect(ws.exists(`artifacts/runs/${longRun.id}`)).toBe(false);
    }, 5 * MINUTE);

    it('Ctrl-C cancels every job it submitted', async () => {
      const { ws, longRun } = await setup(longSgld(300_002));
      const { child, done } = ws.nxInBackground('run-many', '-t', 'sample', '--backend', 'slurm-cpu', '--batch');
      await runningJobOf(ws, longRun.id);
      // As a terminal does: SIGINT to the whole process group.
      process.kill(-child.pid!, 'SIGINT');
      await done;
      const keys = submittedJobs(ws.root).map((j) => j.key);
      const states = await waitFor('the jobs to end', 60, () => {
        const s = jobStates(keys);
        return [...s.values()].every((state) => !['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING'].includes(state)) ? s : undefined;
      });
      expect(states.get(submittedJobs(ws.root).find((j) => j.taskFile.includes(longRun.id))!.key)).toBe('CANCELLED');
    }, 5 * MINUTE);
  });

  describe('time limits', () => {
    // A stand-in worker (bin/lambda-hat.js of a scratch workspace root): sleeps as long as its task file says.
    const root = mkdtempSync(join(tmpdir(), 'lh-slurm-limit-'));
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    it('a task over its own time limit is stopped inside its job, ends timed out and is not retried; tasks.txt carries the limit', async () => {
      mkdirSync(join(root, 'bin'));
      writeFileSync(join(root, 'bin', 'lambda-hat.js'), `setTimeout(() => {}, Number(require('node:fs').readFileSync(process.argv[4], 'utf8')) * 1000);\n`);
      const task = (name: string, sleep: number, timeLimitSec?: number): WorkerTask => {
        const taskFile = join(root, `${name}.task`);
        writeFileSync(taskFile, String(sleep));
        return { label: `fake:${name}`, rule: 'sample', taskFile, timeLimitSec };
      };
      const { card, source } = loadCard(REPO, { backend: 'slurm-cpu', set: ['retries=1', 'poll_seconds=1', 'walltime=00:05:00'] });
      if (card.backend !== 'slurm') throw new Error('slurm-cpu is not a Slurm card');
      const backend = slurmBackend(root, card, source);
      const over = task('over', 60, 2);
      const within = task('within', 0.5);
      const stderr: string[] = [];
      const sink = { stdout: () => {}, stderr: (line: string) => stderr.push(line) };
      const started = Date.now();
      // Run in the same tick: one array, one job.sh, each task with its own limit.
      const [overOutcome, withinOutcome] = await Promise.all([backend.run(over, sink), backend.run(within, sink)]);
      expect(overOutcome).toMatchObject({ ok: false, timedOut: true, attempts: 1 });
      expect(overOutcome.reason).toMatch(/^Slurm job \d+_0 exceeded its time limit of 2 s$/);
      expect(withinOutcome).toMatchObject({ ok: true, attempts: 1 });
      expect(withinOutcome.timedOut).toBeUndefined();
      // Stopped at its 2 s limit, not after its 60 s sleep nor the 5 min walltime.
      expect((Date.now() - started) / 1000).toBeLessThan(40);
      // Not retried, although the card allows one retry: one submission, no retry message.
      expect(stderr.filter((l) => l.includes('retrying'))).toEqual([]);
      const submissions = readdirSync(join(root, 'artifacts', '.work', 'slurm'));
      expect(submissions).toHaveLength(1);
      const dir = join(root, 'artifacts', '.work', 'slurm', submissions[0]);
      expect(readFileSync(join(dir, 'tasks.txt'), 'utf8')).toBe(`sample ${over.taskFile} 2\nsample ${within.taskFile} 0\n`);
      expect(readFileSync(join(dir, '0.exit'), 'utf8').trim()).toBe('124');
      expect(readFileSync(join(dir, '1.exit'), 'utf8').trim()).toBe('0');
    }, 3 * MINUTE);
  });
  it(
    'run a tune: the reference and every trial as Slurm jobs, batch_size trials in flight',
    async () => {
      const ws = new ScratchWorkspace('experiment: none\ntargets:\n  - { model: small, data: small, seed: 1 }\nsamplers:\n  - { name: hmc }\n');
      try {
        ws.write(
          'config/tune/onslurm.yaml',
          `tune: onslurm
problems:
  - { model: small, data: small, seed: 1, overrides: { training: { steps: 200 } } }
methods:
  - { name: sgld, overrides: { warmup: 200, steps: 2000, eval_every: 10 } }
search_space:
  sgld:
    step_size: { type: float, low: 1.0e-5, high: 1.0e-3, log: true }
reference: { overrides: { draws: 200, warmup: 100 } }
max_trials_per_method: 4
batch_size: 2
budget: { hmc_sec: 120, trial_sec: 120 }
`,
        );
        const r = spawnSync(process.execPath, [ws.path('bin/lambda-hat.js'), 'tune', '--config', 'config/tune/onslurm.yaml', '--backend', 'slurm-cpu'], { cwd: ws.root, encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/on slurm \(config\/cards\/slurm-cpu\.yaml/);
        const config = await loadTuneConfig({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/tune/onslurm.yaml'));
        const study = JSON.parse(ws.read(join(studyDir(config), 'study.json')).toString()) as StudyFile;
        expect(study.trials.map((t) => t.number).sort()).toEqual([0, 1, 2, 3]);
        expect(study.trials.every((t) => t.state === 'complete' || t.state === 'pruned')).toBe(true);
        // The target, the reference and the four trials each ran as a Slurm array element.
        const jobs = submittedJobs(ws.root);
        const rules = jobs.map((j) => JSON.parse(readFileSync(j.taskFile, 'utf8')));
        expect(jobs).toHaveLength(6);
        expect(rules.filter((spec) => spec.run?.sampler === 'sgld')).toHaveLength(4);
        expect(rules.filter((spec) => spec.id === config.references[0].id)).toHaveLength(1);
      } finally {
        ws.dispose();
      }
    },
    5 * MINUTE,
  );
});

/**
 * The Slurm backends against a real single-node Slurm cluster (scripts/slurm-up.sh): the default
 * experiment gives bit-identical results to the local backend, and faults (a cancelled job, a
 * walltime overrun, a rejected submission, Ctrl-C) each end clearly, retried where the card says,
 * with nothing half-written and the rest of the graph complete; a task's own time limit stops it
 * inside its job, timed out and not retried. Short tasks are packed: a 1,000-run sweep goes out as
 * a dozen jobs, and a worker killed mid-chunk costs only its current task, which is retried.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { submissionFiles } from '../runner/chunk';
import { loadCard } from '../runner/cards';
import { jobStates, slurm, submittedTasks, tasksOf, waitFor } from './support/slurm';
import { REPO, ScratchWorkspace } from './support/workspace';

const MINUTE = 60_000;

/** Selects the card for the next nx commands as a user does, through the environment (runner/cards.ts). */
function useCard(ws: ScratchWorkspace, backend: string, ...set: string[]): void {
  ws.env.LAMBDA_HAT_BACKEND = backend;
  ws.env.LAMBDA_HAT_SET = set.join('\n');
}

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
    "share the local run's cache entries, and recompute the default experiment with bit-identical .npy files and llc_runs values",
    async () => {
      const ws = new ScratchWorkspace();
      try {
        const exp = await loadExperiment({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/experiments.yaml'));
        useCard(ws, 'local');
        const local = ws.nx('run-many', '-t', 'sample');
        expect(local.status, local.output).toBe(0);
        const reference = await results(ws, exp);
        // Where a task runs is not in its key: the cluster run of the same experiment is all cache hits.
        useCard(ws, 'slurm-cpu');
        const shared = ws.nx('run-many', '-t', 'sample');
        expect(shared.status, shared.output).toBe(0);
        expect(shared.ran).toEqual([]);
        expect(shared.cached).toEqual(expect.arrayContaining(local.ran));
        for (const backend of ['slurm-cpu', 'slurm-gpu']) {
          // The GPU card runs float32 work on WebGPU, which this cluster's fake GPU cannot: here it
          // computes on the CPU, to compare bits with the local backend (the next test covers the GPU path).
          const cpu = backend === 'slurm-gpu' ? ['env.LAMBDA_HAT_KERNEL=auto'] : [];
          useCard(ws, backend, ...cpu);
          const r = ws.nx('run-many', '-t', 'sample', '--batch', '--skip-nx-cache');
          expect(r.status, r.output).toBe(0);
          // Every task really ran as a Slurm job.
          expect(r.cached).toEqual([]);
          expect(r.output).toMatch(/lambda-hat: \d+ tasks on slurm \(config\/cards\/slurm-(cpu|gpu)\.yaml: partition (cpu|gpu)/);
          expect(r.output).toMatch(/submitted as Slurm job \d+_\d+ \(\d+ tasks? in it, attempt 1\)/);
          const got = await results(ws, exp);
          expect([...got.npy.keys()].sort()).toEqual([...reference.npy.keys()].sort());
          for (const [name, bytes] of reference.npy) expect(got.npy.get(name)!.equals(bytes), `${backend}: ${name}`).toBe(true);
          expect(got.table).toEqual(reference.table);
        }
        // Slurm tasks ran with the card's CPUs as worker threads, and still gave the same numbers.
        const { timing } = JSON.parse(ws.read(`artifacts/runs/${exp.runs[0].id}/analysis.json`).toString());
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
        useCard(ws, 'slurm-gpu', 'retries=0');
        const r = ws.nx('run-many', '-t', 'sample', '--batch');
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

  it(
    'run a 1,000-run sweep as a dozen packed jobs, bit-identical to the local backend',
    async () => {
      const ws = new ScratchWorkspace(
        'experiment: thousand\ntargets:\n  - { model: small, data: small, seed: 1, overrides: { training: { steps: 100 } } }\nsamplers:\n  - { name: sgld, sweep: { seed: { from: 1, to: 1000 } }, overrides: { steps: 60, warmup: 0, eval_every: 20, batch_size: 16 } }\n',
      );
      try {
        const exp = await loadExperiment({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/experiments.yaml'));
        expect(exp.runs).toHaveLength(1000);
        useCard(ws, 'local');
        const local = ws.nx('run-many', '-t', 'aggregate');
        expect(local.status, local.output.slice(-3000)).toBe(0);
        const reference = await results(ws, exp);
        ws.remove('artifacts');
        ws.remove('.nx');
        useCard(ws, 'slurm-cpu', 'max_jobs=10', 'tasks_per_job=100', 'cpus_per_task=1', 'mem_per_task=500M', 'poll_seconds=1');
        const r = ws.nx('run-many', '-t', 'aggregate');
        expect(r.status, r.output.slice(-3000)).toBe(0);
        expect(r.cached).toEqual([]);
        const tasks = submittedTasks(ws.root);
        // The target, the thousand runs and the aggregate: every task once, none retried.
        expect(tasks).toHaveLength(1002);
        const jobs = new Set(tasks.map((t) => t.key));
        expect(jobs.size).toBeLessThanOrEqual(20);
        // Packed: the runs went out as ten jobs of a hundred, never more than max_jobs at once.
        const sampleJobs = new Set(tasks.filter((t) => t.task.rule === 'sample').map((t) => t.key));
        expect(sampleJobs.size).toBe(10);
        const got = await results(ws, exp);
        for (const [name, bytes] of reference.npy) expect(got.npy.get(name)!.equals(bytes), name).toBe(true);
        expect(Object.keys(got.table)).toHaveLength(1000);
        expect(got.table).toEqual(reference.table);
      } finally {
        ws.dispose();
      }
    },
    10 * MINUTE,
  );

  it(
    'a worker killed mid-chunk loses only its current task, which is retried; the chunk goes on',
    async () => {
      const ws = new ScratchWorkspace(
        `experiment: killed\ntargets:\n  - { model: small, data: small, seed: 1, overrides: { training: { steps: 100 } } }\nsamplers:\n  - { name: sgld, overrides: { steps: 400000, warmup: 0, eval_every: 1000, batch_size: 32 } }\n  - { name: sgld, sweep: { seed: { from: 1, to: 5 } }, overrides: { steps: 100, warmup: 0, eval_every: 20, batch_size: 16 } }\n`,
      );
      try {
        const exp = await loadExperiment({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/experiments.yaml'));
        const long = exp.runs.find((run) => run.options.steps === 400000)!;
        // One job at a time, all six runs in it: the long one shares its warm worker with the others.
        useCard(ws, 'slurm-cpu', 'max_jobs=1', 'tasks_per_job=10', 'retries=1', 'poll_seconds=1');
        const { done } = ws.nxInBackground('run-many', '-t', 'sample');
        const victim = await waitFor('the long run to start in its job', 180, () => {
          const t = tasksOf(ws.root, long.id)[0];
          return t && existsSync(submissionFiles.out(t.dir, t.index)) ? t : undefined;
        });
        // The warm worker of this workspace's chunk (`lambda-hat.js serve`), killed as the OOM killer would.
        const worker = execFileSync('pgrep', ['-f', `${ws.root}/bin/lambda-hat.js serve`], { encoding: 'utf8' }).trim().split('\n');
        expect(worker).toHaveLength(1);
        process.kill(Number(worker[0]), 'SIGKILL');
        const r = await done;
        expect(r.status, r.output.slice(-3000)).toBe(0);
        expect(r.output).toContain(`attempt 1 failed (worker killed by SIGKILL in Slurm job ${victim.key})`);
        expect(r.output).toContain('retrying, attempt 2 of 2');
        // Its exit file says how it ended; the other runs of the chunk ran once each, on a fresh worker.
        expect(JSON.parse(readFileSync(submissionFiles.exit(victim.dir, victim.index), 'utf8'))).toEqual({ ok: false, reason: 'worker killed by SIGKILL' });
        const samples = submittedTasks(ws.root).filter((t) => t.task.rule === 'sample');
        expect(samples).toHaveLength(7);
        for (const run of exp.runs) {
          const submitted = samples.filter((t) => JSON.stringify(t.task.spec).includes(run.id));
          expect(submitted, run.id).toHaveLength(run.id === long.id ? 2 : 1);
          expect(JSON.parse(ws.read(`artifacts/runs/${run.id}/analysis.json`).toString()).run_id).toBe(run.id);
        }
      } finally {
        ws.dispose();
      }
    },
    10 * MINUTE,
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
        const job = tasksOf(ws.root, runId)[0];
        return job && jobStates([job.key]).get(job.key) === 'RUNNING' ? job.key : undefined;
      });

    it('a submission to a missing partition is a clear error; nothing is written', async () => {
      const { ws } = await setup(longSgld(1000));
      useCard(ws, 'slurm-cpu', 'partition=nosuch');
      const r = ws.nx('run-many', '-t', 'sample', '--batch');
      expect(r.status).not.toBe(0);
      expect(r.output).toMatch(/FAILED on slurm \(config\/cards\/slurm-cpu\.yaml: partition nosuch, 2 CPUs\): Slurm rejected the job: sbatch: error: invalid partition specified: nosuch$/m);
      // sbatch's further lines, then the command that failed and how.
      expect(r.output).toMatch(/^sbatch: error: Batch job submission failed: Invalid partition name specified \(Command failed with exit code 1: sbatch --parsable \S+\/job\.sh\)$/m);
      expect(r.output).not.toMatch(/^\s+at \//m);
      expect(ws.exists('artifacts/targets')).toBe(false);
    }, 2 * MINUTE);

    it('a job cancelled mid-run is retried when the card allows, and the run completes', async () => {
      const { ws, exp, longRun } = await setup(longSgld(300_000));
      useCard(ws, 'slurm-cpu', 'retries=1');
      const { done } = ws.nxInBackground('run-many', '-t', 'sample', '--batch');
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
      useCard(ws, 'slurm-cpu', 'retries=0');
      const { done } = ws.nxInBackground('run-many', '-t', 'sample', '--batch');
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
      useCard(ws, 'slurm-cpu', 'walltime=00:01:00', 'retries=0');
      const r = ws.nx('run-many', '-t', 'sample', '--batch');
      expect(r.status).not.toBe(0);
      expect(r.output).toMatch(new RegExp(`\\[${longRun.id}\\] FAILED on slurm .*: Slurm job \\d+_\\d+ exceeded its walltime \\(00:01:00 per task\\)`));
      expect(ws.exists(`artifacts/runs/${shortRun.id}/analysis.json`)).toBe(true);
      expect(ws.exists(`artifacts/runs/${longRun.id}`)).toBe(false);
    }, 5 * MINUTE);

    it('Ctrl-C cancels every job it submitted', async () => {
      // Long enough (about a minute) that it cannot end on its own before the Ctrl-C reaches it,
      // however loaded the machine: 300,000 steps once finished first under a full test run.
      const { ws, longRun } = await setup(longSgld(3_000_002));
      useCard(ws, 'slurm-cpu');
      const { child, done } = ws.nxInBackground('run-many', '-t', 'sample', '--batch');
      await runningJobOf(ws, longRun.id);
      // As a terminal does: SIGINT to the whole process group.
      process.kill(-child.pid!, 'SIGINT');
      await done;
      const keys = submittedTasks(ws.root).map((j) => j.key);
      const states = await waitFor('the jobs to end', 60, () => {
        const s = jobStates(keys);
        return [...s.values()].every((state) => !['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING'].includes(state)) ? s : undefined;
      });
      expect(states.get(tasksOf(ws.root, longRun.id)[0].key)).toBe('CANCELLED');
    }, 5 * MINUTE);
  });

  describe('time limits', () => {
    // A stand-in warm worker (bin/lambda-hat.js of a scratch workspace root, the `serve` protocol): each task sleeps as long as its spec says.
    const root = mkdtempSync(join(tmpdir(), 'lh-slurm-limit-'));
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    it('a task over its own time limit is stopped inside its job, ends timed out and is not retried; tasks.json carries the limit', async () => {
      mkdirSync(join(root, 'bin'));
      // `chunk` is the real one (it drives the pool); `serve` is the stand-in.
      writeFileSync(
        join(root, 'bin', 'lambda-hat.js'),
        `if (process.argv[2] === 'chunk') {
  process.env.SWC_NODE_PROJECT = ${JSON.stringify(join(REPO, 'tsconfig.json'))};
  require(${JSON.stringify(join(REPO, 'node_modules', '@swc-node', 'register'))});
  require(${JSON.stringify(join(REPO, 'runner', 'chunk.ts'))}).runChunk(${JSON.stringify(root)}, process.argv[3], Number(process.argv[4])).then(() => process.exit(0));
} else {
  process.on('message', ({ spec }) => setTimeout(() => process.send({ type: 'done', status: 0, cpuSeconds: 0 }), spec.sleep * 1000));
}
`,
      );
      const task = (name: string, sleep: number, timeLimitSec?: number): WorkerTask => ({ label: `fake:${name}`, rule: 'sample', spec: { sleep }, timeLimitSec });
      const { card, source } = loadCard(REPO, { backend: 'slurm-cpu', set: ['retries=1', 'poll_seconds=1', 'walltime=00:05:00'], from: 'flags' });
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
      expect(JSON.parse(readFileSync(join(dir, 'tasks.json'), 'utf8'))).toEqual([
        { label: 'fake:over', rule: 'sample', spec: { sleep: 60 }, timeLimitSec: 2 },
        { label: 'fake:within', rule: 'sample', spec: { sleep: 0.5 } },
      ]);
      expect(JSON.parse(readFileSync(join(dir, '0.exit'), 'utf8'))).toEqual({ ok: false, timedOut: true, reason: 'exceeded its time limit of 2 s' });
      expect(JSON.parse(readFileSync(join(dir, '1.exit'), 'utf8'))).toEqual({ ok: true, cpuSeconds: 0 });
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
        const jobs = submittedTasks(ws.root);
        const rules = jobs.map((j) => j.task.spec as { id?: string; run?: { sampler: string } });
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

/**
 * The Slurm backends against a real single-node Slurm cluster (scripts/slurm-up.sh): the default
 * experiment gives bit-identical results to the local backend, and faults (a cancelled job, a
 * walltime overrun, a rejected submission, Ctrl-C) each end clearly, retried where the card says,
 * with nothing half-written and the rest of the graph complete.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_PRESETS, Experiment, loadExperiment } from '../rules/experiment';
import { MACHINE_DEPENDENT_COLUMNS } from '../rules/llc-runs';
import { jobStates, slurm, submittedJobs, waitFor } from './support/slurm';
import { ScratchWorkspace } from './support/workspace';

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
          const r = ws.nx('run-many', '-t', 'sample', '--backend', backend, '--batch');
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
});

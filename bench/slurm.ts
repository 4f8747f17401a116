/**
 * Submission overhead on Slurm: the same 200 short sample tasks (one target, 200 SGLD entries)
 * through the local backend and through the Slurm CPU backend, both in Nx's batch mode with the
 * same number of tasks at once, in scratch workspaces. Prints one JSON line per backend and one with
 * the overhead per task. Needs the local cluster of scripts/slurm-up.sh.
 *
 *   npm run bench:slurm
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { submittedTasks } from '../test/support/slurm';
import { ScratchWorkspace } from '../test/support/workspace';

const TASKS = 200;
/** Tasks at once on both backends: the test cluster advertises 16 CPUs. */
const AT_ONCE = 16;

const experiment = `experiment: slurmbench
targets:
  - { model: small, data: small, seed: 1, overrides: { training: { steps: 200 } } }
samplers:
${Array.from({ length: TASKS }, (_, i) => `  - { name: sgld, seed: ${i + 1}, overrides: { steps: 400, warmup: 0, eval_every: 20, batch_size: 32 } }`).join('\n')}
`;

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const seconds = (slurmTime: string) => new Date(slurmTime).getTime() / 1000;

/** The card is chosen as users do under Nx: LAMBDA_HAT_BACKEND, and LAMBDA_HAT_SET one setting per line. */
function timeSamples(backend: string, set: string[]): { ws: ScratchWorkspace; wall_s: number } {
  const ws = new ScratchWorkspace(experiment);
  ws.env.LAMBDA_HAT_BACKEND = backend;
  ws.env.LAMBDA_HAT_SET = set.join('\n');
  // Train the target first, so that only the 200 sample tasks (and the aggregate) are timed.
  const build = ws.nx('run-many', '-t', 'build-target', '--batch');
  if (build.status !== 0) throw new Error(`building the target failed:\n${build.output}`);
  const started = performance.now();
  const r = ws.nx('run-many', '-t', 'sample', '--batch');
  const wall_s = (performance.now() - started) / 1000;
  if (r.status !== 0) throw new Error(`the ${backend} run failed:\n${r.output.slice(-3000)}`);
  return { ws, wall_s };
}

function main(): void {
  const local = timeSamples('local', [`max_jobs=${AT_ONCE}`]);
  console.log(JSON.stringify({ bench: 'slurm', backend: 'local', tasks: TASKS, at_once: AT_ONCE, wall_s: local.wall_s }));
  local.ws.dispose();

  const slurm = timeSamples('slurm-cpu', [`max_jobs=${AT_ONCE}`, 'cpus_per_task=1', 'mem_per_task=500M', 'poll_seconds=1']);
  try {
    const dir = join(slurm.ws.root, 'artifacts', '.work', 'slurm');
    const submissions = readdirSync(dir)
      .map((d) => join(dir, d, 'submission.json'))
      .filter(existsSync)
      .map((f) => JSON.parse(readFileSync(f, 'utf8')) as { job_id: string; tasks: number; elements: number; submit_seconds: number });
    const sampleJobs = [...new Set(submittedTasks(slurm.ws.root).filter((t) => t.task.rule === 'sample').map((t) => t.key))];
    const ids = [...new Set(sampleJobs.map((k) => k.split('_')[0]))];
    const times = execFileSync('squeue', ['-h', '-r', '-t', 'all', '-j', ids.join(','), '-o', '%i|%V|%S|%e'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => l.split('|'))
      .filter(([key]) => sampleJobs.includes(key))
      .map(([, submit, start, end]) => ({ wait: seconds(start) - seconds(submit), run: seconds(end) - seconds(start) }));
    const sbatch = submissions.reduce((s, x) => s + x.submit_seconds, 0);
    console.log(
      JSON.stringify({
        bench: 'slurm',
        backend: 'slurm-cpu',
        tasks: TASKS,
        at_once: AT_ONCE,
        wall_s: slurm.wall_s,
        submissions: submissions.length,
        jobs: submissions.reduce((n, s) => n + s.elements, 0),
        largest_array: Math.max(...submissions.map((s) => s.tasks)),
        sbatch_s_total: sbatch,
        sbatch_s_per_task: sbatch / submissions.reduce((s, x) => s + x.tasks, 0),
        queue_wait_s_mean: mean(times.map((t) => t.wait)),
        queue_wait_s_p95: percentile(times.map((t) => t.wait), 0.95),
        job_run_s_mean: mean(times.map((t) => t.run)),
      }),
    );
    console.log(JSON.stringify({ bench: 'slurm', summary: 'overhead per task of Slurm over local', tasks: TASKS, overhead_s_per_task: (slurm.wall_s - local.wall_s) / TASKS }));
  } finally {
    slurm.ws.dispose();
  }
}

main();

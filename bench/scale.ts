/**
 * Sweeps at scale: N × N grids of tiny SGLD tasks (N targets × N seeds, written with `sweep:`)
 * through the real `nx` in a scratch workspace, beside Snakemake running a grid of the same shape
 * (N builds, N² samples, an aggregate and a report) of trivial jobs, in the same run.
 *
 *   npm run bench:scale             # grids 10, 30 and 100
 *   npm run bench:scale -- 10 30    # chosen sizes
 *
 * Per grid and tool, one JSON line per phase: the graph (`nx show projects`, cold and with the
 * plugin's cache; Snakemake's dry run), the full run, and the fully cached rerun (Snakemake's no-op
 * run), without and with Nx's daemon (whose CPU is added to the client's), each with wall and CPU seconds of the whole process tree and the peak memory of its
 * largest process (GNU time). For our full run, `overhead_ms_per_task` is the CPU of the whole
 * tree minus the CPU the workers spent inside tasks (the batch executor reports it), per task. The
 * 10 × 10 grid also runs with `--batch=false` (one Nx executor per task), the mode batch mode
 * replaced. Snakemake runs on 2 cores with its greedy scheduler (its default ILP scheduler takes
 * minutes to place a thousand jobs). A summary line per grid gives the ratios. Needs Debian's
 * `snakemake` and `time`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScratchWorkspace } from '../test/support/workspace';

const TIME = '/usr/bin/time';
/** No single command may run longer: the bench reports it and goes on. */
const LIMIT_S = 900;

class TimedOut extends Error {}

interface Measured {
  wall_s: number;
  cpu_s: number;
  peak_mb: number;
  output: string;
}

/**
 * Runs a command under GNU time: wall and CPU of the process tree, the largest process's peak RSS.
 * Its stdin is /dev/null: on a socket (Node's default pipe), Debian's bash takes itself for a
 * remote shell and reads ~/.bashrc, which cost every Snakemake `shell:` job a tenth of a second here.
 */
function timed(cwd: string, env: NodeJS.ProcessEnv, command: string[]): Measured {
  const stats = join(mkdtempSync(join(tmpdir(), 'lh-scale-')), 'time.txt');
  const r = spawnSync(TIME, ['-o', stats, '-f', '%e %U %S %M', 'timeout', String(LIMIT_S), ...command], { cwd, env, encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = `${r.stdout}${r.stderr}`;
  if (r.status === 124) throw new TimedOut(`${command.join(' ')} ran past ${LIMIT_S} s`);
  if (r.status !== 0) throw new Error(`${command.join(' ')} failed (status ${r.status}):\n${output.slice(-4000)}`);
  const [wall, user, sys, rssKb] = readFileSync(stats, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  rmSync(join(stats, '..'), { recursive: true, force: true });
  return { wall_s: wall, cpu_s: user + sys, peak_mb: rssKb / 1024, output };
}

const round = (x: number, digits = 3) => Number(x.toFixed(digits));
const line = (o: Record<string, unknown>) => console.log(JSON.stringify(o));

function experiment(n: number): string {
  return `experiment: grid
targets:
  - { model: small, data: small, sweep: { seed: { from: 1, to: ${n} } }, overrides: { training: { steps: 200 } } }
samplers:
  - { name: sgld, sweep: { seed: { from: 1, to: ${n} } }, overrides: { steps: 100, warmup: 0, eval_every: 1, batch_size: 32, chains: 1 } }
`;
}

/** Sums the batch executor's `… CPU-s of work inside the tasks` over every batch of a run. */
function workSeconds(output: string): number {
  return [...output.matchAll(/; ([\d.]+) CPU-s of work inside the tasks/g)].reduce((s, m) => s + Number(m[1]), 0);
}

/** Nx's own count of the tasks of a run: `… for <p> projects and <t> tasks they depend on`. */
function nxTasks(output: string): number | undefined {
  const m = /target sample for (\d+) projects?(?: and (\d+) tasks? they depend on)?/.exec(output);
  return m ? Number(m[1]) + Number(m[2] ?? 0) : undefined;
}

/** CPU seconds the Nx daemon of the workspace has used so far (/proc/<pid>/stat: utime + stime). */
function daemonCpuSeconds(root: string): number {
  const { processId } = JSON.parse(readFileSync(join(root, '.nx', 'workspace-data', 'd', 'server-process.json'), 'utf8')) as { processId: number };
  const fields = readFileSync(`/proc/${processId}/stat`, 'utf8').split(') ')[1].split(' ');
  // After "pid (comm) ", utime and stime are the 12th and 13th fields, in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function ours(n: number): { graph: number; cached: number; cachedDaemon: number } {
  const ws = new ScratchWorkspace(experiment(n));
  const env = { ...process.env, ...ws.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', FORCE_COLOR: '0' };
  const nxIn = (e: NodeJS.ProcessEnv, ...args: string[]) => timed(ws.root, e, [join(ws.root, 'node_modules', '.bin', 'nx'), ...args, '--outputStyle=static']);
  const nx = (...args: string[]) => nxIn(env, ...args);
  // Units of work, as Snakemake's jobs: N builds, N² runs, the aggregate and the run table.
  const tasks = n * n + n + 2;
  const base = { bench: 'scale', grid: `${n}x${n}`, tool: 'lambda-hat', tasks };
  try {
    const cold = nx('show', 'projects');
    line({ ...base, phase: 'graph-cold', wall_s: cold.wall_s, cpu_s: round(cold.cpu_s), peak_mb: round(cold.peak_mb, 0) });
    const graph = nx('show', 'projects');
    line({ ...base, phase: 'graph', wall_s: graph.wall_s, cpu_s: round(graph.cpu_s), peak_mb: round(graph.peak_mb, 0) });
    const full = nx('run-many', '-t', 'sample');
    const work = workSeconds(full.output);
    line({ ...base, phase: 'full', nx_tasks: nxTasks(full.output), wall_s: full.wall_s, cpu_s: round(full.cpu_s), work_cpu_s: round(work), overhead_ms_per_task: round(((full.cpu_s - work) / tasks) * 1000, 1), peak_mb: round(full.peak_mb, 0) });
    const cached = nx('run-many', '-t', 'sample');
    if (/tasks on local/.test(cached.output)) throw new Error(`the rerun ran tasks:\n${cached.output.slice(-4000)}`);
    line({ ...base, phase: 'cached', nx_tasks: nxTasks(cached.output), wall_s: cached.wall_s, cpu_s: round(cached.cpu_s), peak_mb: round(cached.peak_mb, 0) });
    // With Nx's daemon, as on a workstation outside CI: it keeps the graph, and it checks that the
    // outputs on disk still match the cache instead of copying them back. A first run starts it.
    const withDaemon = { ...env, NX_DAEMON: 'true' };
    nxIn(withDaemon, 'run-many', '-t', 'sample');
    const daemonBefore = daemonCpuSeconds(ws.root);
    const cachedDaemon = nxIn(withDaemon, 'run-many', '-t', 'sample');
    const daemonCpu = daemonCpuSeconds(ws.root) - daemonBefore;
    nxIn(withDaemon, 'daemon', '--stop');
    if (/tasks on local/.test(cachedDaemon.output)) throw new Error(`the rerun ran tasks:\n${cachedDaemon.output.slice(-4000)}`);
    line({ ...base, phase: 'cached-daemon', wall_s: cachedDaemon.wall_s, cpu_s: round(cachedDaemon.cpu_s + daemonCpu), daemon_cpu_s: round(daemonCpu), peak_mb: round(cachedDaemon.peak_mb, 0) });
    if (n <= 10) {
      // The mode batch mode replaced: one Nx executor (and one warm worker) per task.
      ws.remove('artifacts');
      const perTask = nx('run-many', '-t', 'sample', '--batch=false', '--skip-nx-cache');
      line({ ...base, phase: 'full-per-task-executors', wall_s: perTask.wall_s, cpu_s: round(perTask.cpu_s), overhead_ms_per_task: round((perTask.cpu_s / tasks) * 1000, 1), peak_mb: round(perTask.peak_mb, 0) });
    }
    return { graph: graph.wall_s, cached: cached.wall_s, cachedDaemon: cachedDaemon.wall_s };
  } finally {
    ws.dispose();
  }
}

/**
 * The same shape of grid for Snakemake, every job touching its output. (A \`run:\` block, Python in
 * Snakemake's own process, measured far slower per job with 7.21 than \`shell:\`.)
 */
function snakefile(n: number): string {
  const touch = '    shell: "touch {output}"\n';
  return `N = ${n}
RUNS = expand("runs/{t}_{s}/analysis", t=range(N), s=range(N))

rule all:
    input: "experiment/llc_runs", "experiment/report.html"

rule build:
    output: "targets/{t}/params"
${touch}
rule sample:
    input: "targets/{t}/params"
    output: "runs/{t}_{s}/analysis"
${touch}
rule aggregate:
    input: RUNS
    output: "experiment/llc_runs"
${touch}
rule report:
    input: RUNS
    output: "experiment/report.html"
${touch}`;
}

function snakemake(n: number): { graph: number; cached: number } {
  const dir = mkdtempSync(join(tmpdir(), 'lh-snakemake-'));
  writeFileSync(join(dir, 'Snakefile'), snakefile(n));
  const base = { bench: 'scale', grid: `${n}x${n}`, tool: 'snakemake', tasks: n * n + n + 2 };
  const env = process.env;
  const run = (...args: string[]) => timed(dir, env, ['snakemake', '--cores', '2', '--scheduler', 'greedy', '--quiet', ...args]);
  try {
    const dry = run('--dry-run');
    line({ ...base, phase: 'graph', wall_s: dry.wall_s, cpu_s: round(dry.cpu_s), peak_mb: round(dry.peak_mb, 0) });
    try {
      const full = run();
      line({ ...base, phase: 'full', wall_s: full.wall_s, cpu_s: round(full.cpu_s), overhead_ms_per_task: round((full.cpu_s / base.tasks) * 1000, 1), peak_mb: round(full.peak_mb, 0) });
    } catch (e) {
      if (!(e instanceof TimedOut)) throw e;
      // The no-op rerun needs every output: let Snakemake finish without the clock.
      line({ ...base, phase: 'full', timed_out_after_s: LIMIT_S });
      spawnSync('snakemake', ['--cores', '2', '--scheduler', 'greedy', '--quiet'], { cwd: dir, env, stdio: 'ignore' });
    }
    const noop = run();
    line({ ...base, phase: 'cached', wall_s: noop.wall_s, cpu_s: round(noop.cpu_s), peak_mb: round(noop.peak_mb, 0) });
    return { graph: dry.wall_s, cached: noop.wall_s };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  for (const [what, command] of [
    ['GNU time (Debian: apt-get install time)', [TIME, '--version']],
    ["Debian's snakemake (apt-get install snakemake)", ['snakemake', '--version']],
  ]) {
    const r = spawnSync(command[0] as string, command.slice(1) as string[], { encoding: 'utf8' });
    if (r.status !== 0) {
      console.error(`bench:scale needs ${what}`);
      process.exit(2);
    }
    if (command[0] === 'snakemake') line({ bench: 'scale', peer: 'snakemake', version: r.stdout.trim() });
  }
  const grids = process.argv.slice(2).map(Number);
  const sizes = grids.length ? grids : [10, 30, 100];
  const peer = sizes.map((n) => snakemake(n));
  sizes.forEach((n, i) => {
    const a = ours(n);
    line({ bench: 'scale', grid: `${n}x${n}`, summary: 'lambda-hat over snakemake', graph_ratio: round(a.graph / peer[i].graph, 2), cached_ratio: round(a.cached / peer[i].cached, 2), cached_daemon_ratio: round(a.cachedDaemon / peer[i].cached, 2) });
  });
}

main();

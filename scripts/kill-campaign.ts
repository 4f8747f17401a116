/**
 * Kills a small experiment with SIGKILL at random moments, again and again, and checks after each
 * kill that nothing on disk is half-written: every target and run folder is complete (its rule's
 * check passes) or absent, the experiment's folder is complete (llc_runs in all three formats, the
 * report and its target pages) or absent, and every JSON, Arrow and Parquet file reads. Then it
 * lets a run finish and checks that no temporary leftovers remain and that the results are
 * identical to those of a run that was never interrupted.
 *
 *   npm run kill-campaign            # 100 kills
 *   npm run kill-campaign -- 20      # another number
 *
 * Prints one JSON line per kill and a summary line. The moments are drawn from a fixed seed over
 * the length of an uninterrupted run, so kills land in training, sampling and the aggregate.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { parquetReadObjects } from 'hyparquet';
import { buildTargetRule } from '../rules/build-target';
import { aggregateRule } from '../rules/aggregate';
import { DEFAULT_PRESETS, Experiment, loadExperiment } from '../rules/experiment';
import { experimentRuns, MACHINE_DEPENDENT_COLUMNS } from '../rules/llc-runs';
import { sampleRule } from '../rules/sample';
import { mulberry32 } from '../test/support/random';
import { ScratchWorkspace } from '../test/support/workspace';

const KILLS = Number(process.argv[2] ?? 100);
const EXPERIMENT = `experiment: killed
targets:
  - { model: small, data: small, seed: 1, overrides: { training: { steps: 400 } } }
  - { model: small, data: small, seed: 2, overrides: { training: { steps: 400 } } }
samplers:
  - { name: sgld, overrides: { steps: 3000, warmup: 300, eval_every: 10, batch_size: 32 } }
  - { name: hmc, overrides: { draws: 200, warmup: 100 } }
`;


const nxArgs = (ws: ScratchWorkspace) => [join(ws.root, 'node_modules', '.bin', 'nx'), ['run-many', '-t', 'sample', '--outputStyle=static', '--skip-nx-cache']] as const;
const env = { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false', NX_NO_CLOUD: 'true', FORCE_COLOR: '0' };

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? [path, ...filesUnder(path)] : [path];
  });
}

/** What is wrong on disk after a kill: half-written artifacts and unreadable files. */
async function problems(ws: ScratchWorkspace, exp: Experiment): Promise<string[]> {
  const found: string[] = [];
  const temp = /\.tmp-\d+-\d+$/;
  for (const t of exp.targets) {
    const dir = ws.path(`artifacts/targets/${t.id}`);
    if (existsSync(dir) && buildTargetRule.verify(t, ws.root)) found.push(`partial target ${t.id}: ${buildTargetRule.verify(t, ws.root)}`);
  }
  for (const r of exp.runs) {
    const dir = ws.path(`artifacts/runs/${r.id}`);
    if (existsSync(dir) && sampleRule.verify(r, ws.root)) found.push(`partial run ${r.id}: ${sampleRule.verify(r, ws.root)}`);
  }
  const spec = { ...experimentRuns(exp), file: 'config/experiments.yaml' };
  if (existsSync(ws.path(`artifacts/experiments/${exp.name}`)) && aggregateRule.verify(spec, ws.root)) found.push(`partial experiment folder: ${aggregateRule.verify(spec, ws.root)}`);
  for (const file of filesUnder(ws.path('artifacts'))) {
    if (file.includes('/.work/') || file.split('/').some((part) => temp.test(part))) continue;
    try {
      if (file.endsWith('.json')) JSON.parse(readFileSync(file, 'utf8'));
      else if (file.endsWith('.arrow')) tableFromIPC(readFileSync(file));
      else if (file.endsWith('.parquet')) await parquetReadObjects({ file: new Uint8Array(readFileSync(file)).buffer });
    } catch (e) {
      found.push(`unreadable ${relative(ws.root, file)}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return found;
}

/** Everything the run computed that does not depend on the machine: arrays, traces and llc_runs rows. */
async function results(ws: ScratchWorkspace, exp: Experiment): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const t of exp.targets) for (const f of ['params.npy', 'X.npy', 'Y.npy']) out.set(`${t.id}/${f}`, readFileSync(ws.path(`artifacts/targets/${t.id}/${f}`)).toString('base64'));
  for (const r of exp.runs) out.set(`${r.id}/traces.arrow`, readFileSync(ws.path(`artifacts/runs/${r.id}/traces.arrow`)).toString('base64'));
  const rows = (await parquetReadObjects({ file: new Uint8Array(readFileSync(ws.path(`artifacts/experiments/${exp.name}/llc_runs.parquet`))).buffer })) as Record<string, unknown>[];
  for (const row of rows) out.set(`row ${row.run_id}`, JSON.stringify(Object.entries(row).filter(([k]) => !MACHINE_DEPENDENT_COLUMNS.includes(k)), (_, v) => (typeof v === 'bigint' ? String(v) : v)));
  return out;
}

async function main(): Promise<void> {
  const reference = new ScratchWorkspace(EXPERIMENT);
  const ws = new ScratchWorkspace(EXPERIMENT);
  try {
    const exp = await loadExperiment({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/experiments.yaml'));
    const [command, args] = nxArgs(reference);
    const started = performance.now();
    const clean = spawnSync(command, args, { cwd: reference.root, env, encoding: 'utf8' });
    if (clean.status !== 0) throw new Error(`the uninterrupted run failed:\n${clean.stdout}${clean.stderr}`);
    const fullS = (performance.now() - started) / 1000;
    const expected = await results(reference, exp);
    const next = mulberry32(17);
    let bad = 0;
    for (let k = 0; k < KILLS; k++) {
      const atS = next() * fullS;
      const [cmd, argv] = nxArgs(ws);
      const child = spawn(cmd, argv, { cwd: ws.root, env, detached: true, stdio: 'ignore' });
      const ended = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
      const finished = await Promise.race([ended.then(() => true), new Promise<boolean>((done) => setTimeout(() => done(false), atS * 1000))]);
      if (!finished) {
        process.kill(-child.pid!, 'SIGKILL');
        await ended;
      }
      // Workers die with their process group; give the kernel a moment to reap them.
      await new Promise((r) => setTimeout(r, 200));
      const found = await problems(ws, exp);
      if (found.length) bad++;
      console.log(JSON.stringify({ kill: k + 1, at_s: Number(atS.toFixed(2)), finished_first: finished, problems: found }));
    }
    const last = spawnSync(command, ['run-many', '-t', 'sample', '--outputStyle=static'], { cwd: ws.root, env, encoding: 'utf8' });
    if (last.status !== 0) throw new Error(`the final run failed:\n${last.stdout}${last.stderr}`);
    const leftovers = filesUnder(ws.path('artifacts')).filter((f) => /\.tmp-\d+-\d+/.test(f)).map((f) => relative(ws.root, f));
    const got = await results(ws, exp);
    const differing = [...expected.keys()].filter((k) => got.get(k) !== expected.get(k));
    console.log(JSON.stringify({ summary: 'kill-campaign', kills: KILLS, uninterrupted_run_s: Number(fullS.toFixed(1)), kills_with_problems: bad, leftovers_after_next_run: leftovers, results_differing: differing, results_compared: expected.size }));
    if (bad || leftovers.length || differing.length) process.exitCode = 1;
  } finally {
    reference.dispose();
    ws.dispose();
  }
}

void main();

/**
 * `lambda-hat plan` and `lambda-hat clean`: what the experiment and tuning files of the workspace
 * refer to, against what is on disk.
 *
 *   lambda-hat plan [file]...    every target and run of the files (default: all of them) as done,
 *                                to run or failed last time, like `snakemake -n`; runs nothing
 *   lambda-hat clean [--yes]     the artifacts no current file refers to; removed only with --yes
 *
 * "Done" means the artifact is on disk and passes its rule's check; a task "to run" may still be
 * restored from Nx's cache instead of computed. A failed task leaves its spec in
 * artifacts/.work/tasks/ (runner/tasks.ts), which is how "failed last time" is known.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { artifactPath, ARTIFACTS_DIR } from '../packages/llc/src/artifacts';
import { withInputErrors } from '../rules/cli';
import { DEFAULT_PRESETS, Experiment, loadExperiment } from '../rules/experiment';
import { buildTargetRule } from '../rules/build-target';
import { UserError } from '../rules/rule';
import { sampleRule } from '../rules/sample';
import { loadTuneConfig, TuneConfig } from '../rules/tune/config';

const ROOT = resolve(__dirname, '..');

/** The files the Nx plugin makes projects from (plugins/lambda-hat/index.ts, EXPERIMENT_FILES). */
export function workspaceFiles(root: string): { experiments: string[]; tunes: string[] } {
  const yamlIn = (dir: string) => (existsSync(join(root, dir)) ? readdirSync(join(root, dir)).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(dir, f)) : []);
  return {
    experiments: [...(existsSync(join(root, 'config/experiments.yaml')) ? ['config/experiments.yaml'] : []), ...yamlIn('config/experiments')],
    tunes: yamlIn('config/tune'),
  };
}

type Loaded = { kind: 'experiment'; exp: Experiment } | { kind: 'tune'; config: TuneConfig };

async function load(root: string, file: string, tune: boolean): Promise<Loaded> {
  const ws = { root, presets: DEFAULT_PRESETS };
  return tune ? { kind: 'tune', config: await loadTuneConfig(ws, join(root, file)) } : { kind: 'experiment', exp: await loadExperiment(ws, join(root, file)) };
}

type State = 'done' | 'to run' | 'failed last time';

function stateOf(root: string, project: string, target: string, problem: string | null): State {
  if (!problem) return 'done';
  return existsSync(join(root, ARTIFACTS_DIR, '.work', 'tasks', `${project}.${target}.json`)) ? 'failed last time' : 'to run';
}

/** The plan of one loaded file, as lines, and its counts. */
function planOf(root: string, loaded: Loaded, counts: Record<State, number>): string[] {
  const targets = loaded.kind === 'experiment' ? loaded.exp.targets : loaded.config.problems;
  const runs = loaded.kind === 'experiment' ? loaded.exp.runs : loaded.config.references;
  const label = (id: string) => (loaded.kind === 'experiment' ? loaded.exp.labels[id] : undefined) ?? '';
  const lines: string[] = [];
  const note = (state: State) => {
    counts[state]++;
    return state;
  };
  for (const t of targets) lines.push(`  target ${t.id.padEnd(20)} ${label(t.id).padEnd(20)} ${note(stateOf(root, t.id, 'build-target', buildTargetRule.verify(t, root)))}`);
  let pending = 0;
  for (const r of runs) {
    const state = note(stateOf(root, r.id, 'sample', sampleRule.verify(r, root)));
    if (state !== 'done') pending++;
    lines.push(`  run    ${r.id.padEnd(20)} ${label(r.id).padEnd(20)} on ${r.target}  ${state}`);
  }
  if (loaded.kind === 'experiment') {
    const out = artifactPath.experiment(loaded.exp.name);
    const tables = existsSync(join(root, out, 'llc_runs.parquet')) && existsSync(join(root, out, 'report.html'));
    lines.push(`  table and report ${out}/  ${tables && !pending ? 'done' : 'to run'}`);
  } else {
    lines.push(`  tune ${loaded.config.name}: see lambda-hat tune --config ${loaded.config.file} --dry-run for its trials`);
  }
  return lines;
}

async function planCommand(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true });
  const all = workspaceFiles(ROOT);
  const files = positionals.length ? positionals.map((f) => relative(ROOT, resolve(f))) : [...all.experiments, ...all.tunes];
  const counts: Record<State, number> = { done: 0, 'to run': 0, 'failed last time': 0 };
  for (const file of files) {
    const loaded = await load(ROOT, file, file.startsWith('config/tune/'));
    const head = loaded.kind === 'experiment' ? `experiment ${loaded.exp.name}` : `tuning ${loaded.config.name} (its targets and HMC references)`;
    console.log(`${file}: ${head}`);
    for (const line of planOf(ROOT, loaded, counts)) console.log(line);
  }
  console.log(`${counts.done} done, ${counts['to run']} to run (Nx restores any its cache holds), ${counts['failed last time']} failed last time; nothing was run`);
  return 0;
}

/** Every artifact folder some current experiment or tuning file refers to; a file with errors stops the clean. */
async function referenced(root: string): Promise<Set<string>> {
  const keep = new Set<string>();
  const { experiments, tunes } = workspaceFiles(root);
  for (const file of [...experiments, ...tunes]) {
    let loaded: Loaded;
    try {
      loaded = await load(root, file, tunes.includes(file));
    } catch (e) {
      throw new UserError(`${file} does not load, so what it refers to is unknown; nothing was removed. Fix it first:\n${(e as Error).message}`);
    }
    if (loaded.kind === 'experiment') {
      keep.add(artifactPath.experiment(loaded.exp.name));
      for (const t of loaded.exp.targets) keep.add(artifactPath.target(t.id));
      for (const r of loaded.exp.runs) keep.add(artifactPath.run(r.id));
    } else {
      keep.add(artifactPath.tune(loaded.config.name));
      for (const t of loaded.config.problems) keep.add(artifactPath.target(t.id));
      for (const r of loaded.config.references) keep.add(artifactPath.run(r.id));
    }
  }
  return keep;
}

function bytesIn(path: string): number {
  const st = statSync(path);
  return st.isDirectory() ? readdirSync(path).reduce((n, f) => n + bytesIn(join(path, f)), 0) : st.size;
}

async function cleanCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { yes: { type: 'boolean' } }, strict: true });
  const keep = await referenced(ROOT);
  const found = ['targets', 'runs', 'experiments', 'tune'].flatMap((kind) => {
    const dir = join(ARTIFACTS_DIR, kind);
    return existsSync(join(ROOT, dir)) ? readdirSync(join(ROOT, dir)).map((name) => join(dir, name)) : [];
  });
  const stale = found.filter((p) => !keep.has(p));
  let total = 0;
  for (const p of stale) {
    const bytes = bytesIn(join(ROOT, p));
    total += bytes;
    console.log(`${values.yes ? 'removing' : 'would remove'} ${p}  (${(bytes / 1e6).toFixed(1)} MB)`);
    if (values.yes) {
      rmSync(join(ROOT, p), { recursive: true, force: true });
      // A removed run's entry in the ledger of kept runs (kept-runs.ts) goes with it.
      rmSync(join(ROOT, ARTIFACTS_DIR, '.work', 'kept', `${p.split('/').pop()}.json`), { force: true });
    }
  }
  console.log(
    stale.length
      ? `${values.yes ? 'removed' : 'would remove'} ${stale.length} artifact${stale.length > 1 ? 's' : ''}, ${(total / 1e6).toFixed(1)} MB${values.yes ? '' : '; run lambda-hat clean --yes to remove them'}`
      : 'nothing to remove: every artifact belongs to a current experiment or tuning file',
  );
  return 0;
}

/** Entry point from bin/lambda-hat.js, for `plan` and `clean`. */
export function main([command, ...argv]: string[]): Promise<number> {
  return withInputErrors(() => (command === 'clean' ? cleanCommand(argv) : planCommand(argv)));
}

/**
 * `lambda-hat watch` (runner/watch.ts) with the real nx and chokidar: it runs once, then a saved
 * edit of one sampler entry reruns exactly that entry's runs and the aggregate (and the summary,
 * which always runs), and it says what changed and what re-ran. The same through an experiment's Nx
 * target `watch` (lambda-hat watch -p <experiment>), which leaves other experiments alone and stops,
 * with everything it started, on Ctrl-C.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_PRESETS, loadExperiment } from '../rules/experiment';
import { reaches } from '../runner/watch';
import { ScratchWorkspace } from './support/workspace';

const YAML = (steps: number) => `experiment: watched
targets:
  - { model: small, data: small, seed: 1, overrides: { training: { steps: 50 } } }
  - { model: small, data: small, seed: 2, overrides: { training: { steps: 50 } } }
samplers:
  - { name: sgld, overrides: { steps: ${steps}, warmup: 20, eval_every: 20, batch_size: 32 } }
  - { name: hmc, overrides: { draws: 20, warmup: 20, num_integration_steps: 4 } }
`;

const ws = new ScratchWorkspace(YAML(200));
let child: ChildProcess | undefined;
/** Waits until `test` holds, failing with the output so far if the child exits first or the time runs out. */
const waiter =
  (child: ChildProcess, output: () => string) =>
  async (what: string, test: () => boolean, seconds = 120): Promise<void> => {
    const deadline = Date.now() + seconds * 1000;
    while (!test()) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${what} in:\n${output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

afterAll(() => {
  child?.kill('SIGKILL');
  ws.dispose();
});

it('reruns exactly what a saved edit reaches, and says what changed and what re-ran', async () => {
  child = spawn(process.execPath, [ws.path('bin/lambda-hat.js'), 'watch', '--debounce', '200'], { cwd: ws.root, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (out += b));
  const waitFor = waiter(child, () => out);
  const doneLines = () => out.match(/^lambda-hat watch: done: .*$/gm) ?? [];

  await waitFor('first run', () => doneLines().length === 1 && out.includes('lambda-hat watch: watching config/'));
  expect(out).toContain('lambda-hat watch: running nx run-many -t sample');

  const before = await loadExperiment({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/experiments.yaml'));
  ws.write('config/experiments.yaml', YAML(300));
  const after = await loadExperiment({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/experiments.yaml'));
  const edited = after.runs.filter((r) => !before.runs.some((b) => b.id === r.id));
  expect(edited.map((r) => r.sampler)).toEqual(['sgld', 'sgld']);

  await waitFor('second run', () => doneLines().length === 2);
  expect(out).toContain('lambda-hat watch: changed config/experiments.yaml; running nx run-many -t sample');
  const reran = /re-ran (.*); (\d+) cached$/.exec(doneLines()[1])!;
  expect(reran[1].split(', ').sort()).toEqual([...edited.map((r) => `${r.id}:sample`), 'watched:aggregate', 'watched:sample'].sort());
  // The targets and the HMC runs: cache hits.
  expect(Number(reran[2])).toBe(4);

  child.kill('SIGINT');
  const code = await new Promise((done) => child!.on('exit', done));
  expect(code).toBe(130);
}, 300_000);

const OTHER = `experiment: other
targets:
  - { model: small, data: small, seed: 3, overrides: { training: { steps: 50 } } }
samplers:
  - { name: sgld, overrides: { steps: 100, warmup: 20, eval_every: 20, batch_size: 32 } }
`;

describe('reaches: which saves can reach one experiment (lambda-hat watch -p)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lh-watch-'));
  const files = {
    root: dir,
    write: (rel: string, text: string) => {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), text);
    },
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  files.write('config/experiments.yaml', YAML(200));
  files.write('config/experiments/other.yaml', OTHER);
  files.write('config/tune/t.yaml', 'tune: t\n');

  it('its own file, presets and cards do; other experiments’ files and tuning files do not', () => {
    const own = new Set<string>();
    expect(reaches(files.root, 'config/experiments.yaml', 'watched', own)).toBe(true);
    expect(reaches(files.root, 'config/experiments/other.yaml', 'watched', own)).toBe(false);
    expect(reaches(files.root, 'config/tune/t.yaml', 'watched', own)).toBe(false);
    expect(reaches(files.root, 'config/sampler/sgld.yaml', 'watched', own)).toBe(true);
    expect(reaches(files.root, 'config/cards/local.yaml', 'watched', own)).toBe(true);
    // The save that renames the experiment still runs (Nx then says the project is gone); later saves of the file do not.
    files.write('config/experiments.yaml', YAML(200).replace('experiment: watched', 'experiment: renamed'));
    expect(reaches(files.root, 'config/experiments.yaml', 'watched', own)).toBe(true);
    expect(reaches(files.root, 'config/experiments.yaml', 'watched', own)).toBe(false);
    // A file that comes to declare it is its own from then on.
    files.write('config/experiments/other.yaml', OTHER.replace('experiment: other', 'experiment: watched'));
    expect(reaches(files.root, 'config/experiments/other.yaml', 'watched', own)).toBe(true);
  });
});

describe('the Nx target <experiment>:watch', () => {
  const nxWs = new ScratchWorkspace(YAML(200));
  nxWs.write('config/experiments/other.yaml', OTHER);
  let started: ReturnType<ScratchWorkspace['nxInBackground']> | undefined;
  afterAll(() => {
    if (started?.child.exitCode === null) process.kill(-started.child.pid!, 'SIGKILL');
    nxWs.dispose();
  });

  it('is continuous, never cached, and no part of run-many -t sample', () => {
    const shown = nxWs.nx('show', 'project', 'watched', '--json');
    expect(shown.status, shown.output).toBe(0);
    const watch = JSON.parse(shown.output.slice(shown.output.indexOf('{'))).targets.watch;
    expect(watch).toMatchObject({ executor: './plugins/lambda-hat:watch', options: { experiment: 'watched' }, continuous: true, cache: false });
    const graph = nxWs.nx('run-many', '-t', 'sample', '--graph=stdout');
    expect(graph.status, graph.output).toBe(0);
    const tasks = Object.keys(JSON.parse(graph.output.slice(graph.output.indexOf('{'))).tasks.tasks);
    expect(tasks).toContain('watched:sample');
    expect(tasks.filter((t) => t.endsWith(':watch'))).toEqual([]);
  });

  it('refuses command-line flags, as every lambda-hat task does, and runs nothing', () => {
    const refused = nxWs.nx('run', 'watched:watch', '--steps=5');
    // Its status is no witness: Nx counts a continuous task that exits, however, as done when no
    // other task needs it (node_modules/nx/dist/src/tasks-runner/task-orchestrator.js, handleContinuousTaskExit).
    expect(refused.output).toContain('unknown option --steps: lambda-hat tasks take no command-line options\nNothing was run.');
    expect(refused.output).not.toContain('lambda-hat watch:');
    expect(nxWs.exists('artifacts/experiments/watched')).toBe(false);
  });

  it('reruns exactly what a save of its experiment’s file reaches, ignores other experiments, and stops on Ctrl-C', async () => {
    // The workspace's style (.env), which nxInBackground would otherwise replace with static: static
    // prints a continuous task's output only when it ends.
    started = nxWs.nxInBackground('run', 'watched:watch', '--outputStyle=stream');
    const { child, done } = started;
    let out = '';
    child.stdout!.on('data', (b) => (out += b));
    child.stderr!.on('data', (b) => (out += b));
    const waitFor = waiter(child, () => out);
    const doneLines = (): string[] => out.match(/lambda-hat watch: done: .*$/gm) ?? [];
    const reran = (line: string): [string, number] => {
      const [, tasks, cached] = /re-ran (.*); (\d+) cached$/.exec(line)!;
      return [tasks, Number(cached)];
    };

    await waitFor('first run', () => doneLines().length === 1 && /lambda-hat watch: watching config\/ for experiment watched/.test(out));
    expect(out).toContain('lambda-hat watch: running nx run-many -t sample -p watched');
    // The first run: the watched experiment's tasks, and none of the other experiment's.
    const before = await loadExperiment({ root: nxWs.root, presets: DEFAULT_PRESETS }, nxWs.path('config/experiments.yaml'));
    const all = [...before.targets.map((t) => `${t.id}:build-target`), ...before.runs.map((r) => `${r.id}:sample`), 'watched:aggregate', 'watched:sample'];
    expect(reran(doneLines()[0])[0].split(', ').sort()).toEqual(all.sort());

    // A save of the other experiment's file, then of this one's: one run, for this one's alone.
    nxWs.write('config/experiments/other.yaml', OTHER.replace('steps: 100', 'steps: 120'));
    nxWs.write('config/experiments.yaml', YAML(300));
    const after = await loadExperiment({ root: nxWs.root, presets: DEFAULT_PRESETS }, nxWs.path('config/experiments.yaml'));
    const edited = after.runs.filter((r) => !before.runs.some((b) => b.id === r.id));
    expect(edited.map((r) => r.sampler)).toEqual(['sgld', 'sgld']);

    await waitFor('second run', () => doneLines().length === 2);
    expect(out).toMatch(/lambda-hat watch: changed config\/experiments\.yaml; running nx run-many -t sample -p watched$/m);
    const [tasks, cached] = reran(doneLines()[1]);
    expect(tasks.split(', ').sort()).toEqual([...edited.map((r) => `${r.id}:sample`), 'watched:aggregate', 'watched:sample'].sort());
    // The targets and the HMC runs: cache hits.
    expect(cached).toBe(4);
    expect(out).not.toMatch(/nx run other:/);

    // Ctrl-C in a terminal: SIGINT to the process group. Nx stops the watch, which stops the nx it started.
    process.kill(-child.pid!, 'SIGINT');
    expect((await done).status).toBe(130);
    await waitFor('every process of the group to end', () => !groupAlive(child.pid!), 30);
  }, 300_000);
});

/** Whether any process of the group is left. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

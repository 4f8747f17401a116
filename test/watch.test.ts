/**
 * `lambda-hat watch` (runner/watch.ts) with the real nx and chokidar: it runs once, then a saved
 * edit of one sampler entry reruns exactly that entry's runs and the aggregate (and the summary,
 * which always runs), and it says what changed and what re-ran.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { afterAll, expect, it } from 'vitest';
import { DEFAULT_PRESETS, loadExperiment } from '../rules/experiment';
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
afterAll(() => {
  child?.kill('SIGKILL');
  ws.dispose();
});

it('reruns exactly what a saved edit reaches, and says what changed and what re-ran', async () => {
  child = spawn(process.execPath, [ws.path('bin/lambda-hat.js'), 'watch', '--debounce', '200'], { cwd: ws.root, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (out += b));
  const waitFor = async (what: string, test: () => boolean, seconds = 120) => {
    const deadline = Date.now() + seconds * 1000;
    while (!test()) {
      if (Date.now() > deadline || child!.exitCode !== null) throw new Error(`no ${what} in:\n${out.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
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

/**
 * The `lambda-hat` command's conventions (bin/lambda-hat.js): `npx lambda-hat`, --help on stdout
 * with status 0 and one line per command, --version, per-command help, unknown commands refused;
 * and the two workspace tools, `plan` (a preview that runs nothing) and `clean` (what no current
 * file refers to, removed only with --yes).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_PRESETS, loadExperiment } from '../rules/experiment';
import { REPO, ScratchWorkspace } from './support/workspace';

const version = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version as string;

describe('npx lambda-hat', () => {
  const run = (...args: string[]) => spawnSync('npx', ['lambda-hat', ...args], { cwd: REPO, encoding: 'utf8' });

  it('--help prints every command on a line of its own to stdout, status 0', () => {
    const r = run('--help');
    expect(r.status, r.stderr).toBe(0);
    for (const command of ['validate', 'plan', 'tune', 'clean', 'cache', 'doctor', 'run']) expect(r.stdout).toMatch(new RegExp(`^  ${command} +\\S`, 'm'));
    expect(r.stderr).toBe('');
  });

  it('--version prints the version', () => {
    const r = run('--version');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('<command> --help prints its usage, status 0', () => {
    const r = run('tune', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: lambda-hat tune --config <tune\.yaml>/);
  });

  it('an unknown command is status 2 with the list of commands on stderr', () => {
    const r = run('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown command "frobnicate"');
    expect(r.stdout).toBe('');
  });
});

describe('plan and clean', () => {
  const ws = new ScratchWorkspace(`experiment: planned
targets:
  - { model: small, data: small, seed: 1, overrides: { training: { steps: 50 } } }
  - { model: small, data: small, seed: 2, overrides: { training: { steps: 50 } } }
samplers:
  - { name: sgld, label: quick, overrides: { steps: 200, warmup: 20, eval_every: 20, batch_size: 32 } }
`);
  afterAll(() => ws.dispose());
  const lh = (...args: string[]) => spawnSync(process.execPath, [ws.path('bin/lambda-hat.js'), ...args], { cwd: ws.root, encoding: 'utf8' });

  it('plan on a partially done experiment: done, to run and failed last time, and nothing runs', async () => {
    const exp = await loadExperiment({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/experiments.yaml'));
    const [first, second] = exp.targets;
    const built = ws.nx('run', `${first.id}:build-target`);
    expect(built.status, built.output).toBe(0);
    // A task that failed leaves its spec behind (runner/tasks.ts).
    const failed = exp.runs.find((r) => r.target === first.id)!;
    mkdirSync(ws.path('artifacts/.work/tasks'), { recursive: true });
    writeFileSync(ws.path(`artifacts/.work/tasks/${failed.id}.sample.json`), '{}');
    const r = lh('plan');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`target ${first.id} .* done`));
    expect(r.stdout).toMatch(new RegExp(`target ${second.id} .* to run`));
    expect(r.stdout).toMatch(new RegExp(`run +${failed.id} +quick +on ${first.id} +failed last time`));
    expect(r.stdout).toContain('1 done, 2 to run (Nx restores any its cache holds), 1 failed last time; nothing was run');
    expect(ws.exists(`artifacts/targets/${second.id}`)).toBe(false);
    expect(ws.exists('artifacts/runs')).toBe(false);
  });

  it('clean lists what no file refers to, and removes it only with --yes', () => {
    mkdirSync(ws.path('artifacts/runs/sgld_000000000000'), { recursive: true });
    writeFileSync(ws.path('artifacts/runs/sgld_000000000000/analysis.json'), '{}');
    const dry = lh('clean');
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('would remove artifacts/runs/sgld_000000000000');
    expect(dry.stdout).not.toMatch(/would remove artifacts\/targets/);
    expect(ws.exists('artifacts/runs/sgld_000000000000')).toBe(true);
    const wet = lh('clean', '--yes');
    expect(wet.status, wet.stderr).toBe(0);
    expect(ws.exists('artifacts/runs/sgld_000000000000')).toBe(false);
    expect(lh('clean').stdout).toContain('nothing to remove');
  });

  it('clean refuses while a file does not load, and removes nothing', () => {
    mkdirSync(ws.path('artifacts/runs/sgld_111111111111'), { recursive: true });
    ws.write('config/experiments/broken.yaml', 'experiment: broken\ntargets: 3\n');
    const r = lh('clean', '--yes');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('config/experiments/broken.yaml does not load');
    expect(ws.exists('artifacts/runs/sgld_111111111111')).toBe(true);
    ws.remove('config/experiments/broken.yaml');
  });
});

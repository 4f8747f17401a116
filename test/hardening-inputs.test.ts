/**
 * Hardening of inputs that used to pass validation and then fail late or badly: experiment names
 * that clash with other projects (A), sizes beyond what the machine can hold (B), search spaces of
 * the wrong type and tunes whose every trial failed (C), config paths that are not regular files
 * (D), and Slurm walltimes shorter than a tune's budget (E). Each is refused early with the file,
 * line where known, YAML path and what was expected, a non-zero status and no stack trace. Also
 * (F) what YAML may hold: unknown tags and bytes that are not UTF-8 are refused rather than read as
 * strings and U+FFFD, and a problem found in a preset names the entry that uses the preset.
 */
import { spawnSync } from 'node:child_process';
import { isUtf8 } from 'node:buffer';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadExperiment } from '../rules/experiment';
import { invalidUtf8At } from '../rules/experiment/source';
import { mulberry32 } from './support/random';
import { ScratchWorkspace } from './support/workspace';

const STACK_LINE = /^\s+at \S+ \(|^\s+at \//m;
const repo = join(__dirname, '..');

/** `lambda-hat <args>` run in `cwd` (the workspace is the one `bin` is in: `repo` unless given), stopped after 20 s. */
function lambdaHat(cwd: string, ...args: string[]) {
  return lambdaHatIn(repo, cwd, {}, ...args);
}

function lambdaHatIn(workspace: string, cwd: string, env: Record<string, string>, ...args: string[]) {
  const p = spawnSync(process.execPath, [join(workspace, 'bin/lambda-hat.js'), ...args], { cwd, encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...env } });
  return { status: p.status, stdout: p.stdout, stderr: p.stderr, timedOut: p.error !== undefined };
}

const TINY_TARGET = '{ model: small, data: small, seed: 1, overrides: { training: { steps: 20 } } }';
const TINY_SGLD = '{ name: sgld, overrides: { steps: 20, warmup: 2, eval_every: 2, batch_size: 8 } }';
const experiment = (name: string, target = TINY_TARGET) => `experiment: ${name}\ntargets:\n  - ${target}\nsamplers:\n  - ${TINY_SGLD}\n`;

describe('A: experiment names that clash with other projects or other files', () => {
  const ws = new ScratchWorkspace(experiment('tune-dev'));
  ws.write('config/tune/dev.yaml', readFileSync(join(repo, 'config/tune/dev.yaml'), 'utf8'));
  // Two valid files declaring one name, and a third that is fine.
  ws.write('config/experiments/dup1.yaml', experiment('dup'));
  ws.write('config/experiments/dup2.yaml', experiment('dup', '{ model: small, data: small, seed: 2, overrides: { training: { steps: 20 } } }'));
  ws.write('config/experiments/fine.yaml', experiment('fine'));
  // A broken file declaring the name of a valid one, sorted before it.
  ws.write('config/experiments/a-broken.yaml', experiment('solo', '{ model: small, data: small, seed: 3, overrides: { training: { stepz: 20 } } }'));
  ws.write('config/experiments/b-valid.yaml', experiment('solo', '{ model: small, data: small, seed: 4, overrides: { training: { steps: 20 } } }'));
  afterAll(() => ws.dispose());

  it('Nx still builds the graph: every file is a project, the offending ones under names made from their paths', () => {
    const r = ws.nx('show', 'projects');
    expect(r.output).not.toContain('Failed to process project graph');
    expect(r.status).toBe(0);
    const projects = r.output.trim().split('\n');
    expect(projects).toEqual(expect.arrayContaining(['tune-dev', 'config-experiments.yaml', 'dup', 'fine', 'solo', 'config-experiments-a-broken.yaml']));
  });

  it('an experiment named tune-<x> fails its own tasks with the reason; the tuning file keeps its project', () => {
    const r = ws.nx('run', 'config-experiments.yaml:sample');
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('config/experiments.yaml:1:1: experiment: "tune-dev" is reserved: tune-<name> is the Nx project of a tuning file');
    expect(r.output).not.toMatch(STACK_LINE);
    const tune = ws.nx('show', 'project', 'tune-dev', '--json');
    expect(JSON.parse(tune.output.slice(tune.output.indexOf('{'))).targets.tune.executor).toMatch(/:tune$/);
  });

  it('two valid files declaring one name fail as one project whose message names both; other files still run', () => {
    const r = ws.nx('run', 'dup:sample');
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('experiment name "dup" is declared by config/experiments/dup1.yaml and config/experiments/dup2.yaml; experiment names must be unique');
    expect(r.output).not.toMatch(STACK_LINE);
    const fine = ws.nx('run', 'fine:sample');
    expect(fine.status).toBe(0);
    expect(fine.summaries).toEqual(['fine:sample']);
  });

  it('a broken file declaring the name of a valid one neither blocks it nor hides its own error', () => {
    const valid = ws.nx('run', 'solo:sample');
    expect(valid.status).toBe(0);
    const broken = ws.nx('run', 'config-experiments-a-broken.yaml:sample');
    expect(broken.status).not.toBe(0);
    expect(broken.output).toContain('targets[0].overrides.training.stepz: unknown key "stepz"');
    expect(broken.output).toContain('experiment name "solo" is also declared by config/experiments/b-valid.yaml');
    expect(broken.output).not.toMatch(STACK_LINE);
  });

  it('an experiment named like a target or run id is refused by validate (status 2) and kept off that project by the plugin', async () => {
    const exp = await loadExperiment({ root: ws.root, presets: 'config' }, ws.path('config/experiments/fine.yaml'));
    for (const name of [exp.targets[0].id, exp.runs[0].id, 'tune-x']) {
      ws.write('config/experiments/id.yaml', experiment(name));
      const v = lambdaHat(ws.root, 'validate', 'config/experiments/id.yaml');
      expect(v.status).toBe(2);
      expect(v.stderr).toContain(`config/experiments/id.yaml:1:1: experiment: "${name}" is reserved`);
      expect(v.stderr).not.toMatch(STACK_LINE);
    }
    ws.write('config/experiments/id.yaml', experiment(exp.targets[0].id));
    const r = ws.nx('show', 'projects');
    expect(r.status).toBe(0);
    expect(r.output).toContain('config-experiments-id.yaml');
    const run = ws.nx('run', 'config-experiments-id.yaml:sample');
    expect(run.output).toContain(`"${exp.targets[0].id}" is reserved: tgt_<12 hex digits> is the Nx project of a target`);
    ws.remove('config/experiments/id.yaml');
  });
});

describe('D: config and task paths that are not regular files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lh-paths-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'a-directory.yaml'));
  spawnSync('mkfifo', [join(dir, 'fifo.yaml')]);
  writeFileSync(join(dir, 'huge.yaml'), `experiment: huge\n#${'x'.repeat(11 * 1024 * 1024)}\n`);

  it.each([
    ['a directory', 'a-directory.yaml', 'is a directory: expected a YAML file'],
    ['a FIFO (it used to block forever)', 'fifo.yaml', 'is not a regular file (a FIFO): expected a YAML file'],
    ['/dev/zero (it used to grow memory without end)', '/dev/zero', 'is not a regular file (a device): expected a YAML file'],
    ['a file over 10 MB', 'huge.yaml', 'is 11.0 MiB: expected a config file of at most 10.0 MiB'],
  ])('validate refuses %s with status 2, the path and the reason, no stack trace', (_, name, reason) => {
    const r = lambdaHat(dir, 'validate', name);
    expect(r.timedOut).toBe(false);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${name.startsWith('/') ? '' : '/'}${name.replace(/^\//, '')}:1:1: ${reason}`);
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it.each([
    ['a directory', 'a-directory.yaml', 'is a directory: expected a JSON file'],
    ['a FIFO', 'fifo.yaml', 'is not a regular file (a FIFO, socket or device): expected a JSON file'],
    ['/dev/zero', '/dev/zero', 'is not a regular file (a FIFO, socket or device): expected a JSON file'],
  ])('`lambda-hat run` refuses %s as a task file with status 2', (_, name, reason) => {
    const r = lambdaHat(dir, 'run', 'sample', name);
    expect(r.timedOut).toBe(false);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`cannot read task file ${name}: it ${reason}`);
    expect(r.stderr).not.toMatch(STACK_LINE);
  });
});

describe('E: a Slurm walltime shorter than the tune budget', () => {
  const ws = new ScratchWorkspace();
  afterAll(() => ws.dispose());
  const slurm = (walltime: string) => ({ LAMBDA_HAT_BACKEND: 'slurm-cpu', LAMBDA_HAT_SET: `walltime=${walltime}` });

  it('lambda-hat tune refuses budget.trial_sec over the walltime before running anything, with status 2', () => {
    const r = lambdaHatIn(ws.root, ws.root, slurm('00:00:30'), 'tune', '--config', 'config/tune/dev.yaml', '--set', 'budget.trial_sec=60', '--set', 'budget.hmc_sec=20');
    expect(r.timedOut).toBe(false);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("config/tune/dev.yaml: budget.trial_sec = 60 s is longer than the card's walltime 00:00:30 (config/cards/slurm-cpu.yaml), 30 s per task: every trial would be killed by Slurm");
    expect(r.stderr).not.toContain('budget.hmc_sec');
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(ws.exists('artifacts/targets')).toBe(false);
  });

  it('and budget.hmc_sec over the walltime while the reference is still to compute', () => {
    const r = lambdaHatIn(ws.root, ws.root, slurm('00:02:00'), 'tune', '--config', 'config/tune/dev.yaml', '--set', 'budget.trial_sec=60', '--set', 'budget.hmc_sec=600');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("config/tune/dev.yaml: budget.hmc_sec = 600 s is longer than the card's walltime 00:02:00 (config/cards/slurm-cpu.yaml), 120 s per task: the HMC reference hmc_");
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('the Nx tune executor fails the same way', async () => {
    const { default: tuneExecutor } = await import('../plugins/lambda-hat/src/tune-executor');
    const saved = { ...process.env };
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      Object.assign(process.env, slurm('00:00:30'));
      writeFileSync(ws.path('config/tune/short.yaml'), readFileSync(ws.path('config/tune/dev.yaml'), 'utf8').replace(/^tune: .*$/m, 'tune: short').replace(/^budget: .*$/m, 'budget: { hmc_sec: 20, trial_sec: 60 }'));
      const r = await tuneExecutor({ config: 'config/tune/short.yaml' }, { root: ws.root } as never);
      expect(r.success).toBe(false);
    } finally {
      process.stderr.write = write;
      process.env = saved;
    }
    expect(lines.join('')).toContain('config/tune/short.yaml: budget.trial_sec = 60 s is longer than the card');
  });
});

describe('C: search spaces of the wrong type, and tunes whose every trial failed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lh-space-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const tuneFile = (space: string) => `tune: c
problems:
  - { model: small, data: small, seed: 1, overrides: { training: { steps: 20 } } }
methods:
  - { name: sgld, overrides: { steps: 40, warmup: 4, eval_every: 4 } }
search_space:
  sgld:
${space}
reference: { overrides: { draws: 40, warmup: 20 } }
max_trials_per_method: 3
batch_size: 3
`;
  const problemsOf = async (space: string) => {
    const { loadTuneConfig } = await import('../rules/tune/config');
    const { ConfigError } = await import('../rules/experiment');
    writeFileSync(join(dir, 'c.yaml'), tuneFile(space));
    try {
      await loadTuneConfig({ root: repo, presets: 'config' }, join(dir, 'c.yaml'));
    } catch (e) {
      if (e instanceof ConfigError) return e.message;
      throw e;
    }
    return 'accepted';
  };

  it('a float range on an integer option is refused at its type, though both ends are integers', async () => {
    const message = await problemsOf('    batch_size: { type: float, low: 8, high: 64 }');
    expect(message).toMatch(/c\.yaml:8:\d+: search_space\.sgld\.batch_size\.type: sgld batch_size is an integer option: expected \{ type: int, low, high, step \} or \{ type: categorical, choices \}, got a float range/);
  });

  it('a numeric range on a string option is refused; int ranges on float options and choices stay valid', async () => {
    expect(await problemsOf('    precond: { type: int, low: 0, high: 2 }')).toContain('search_space.sgld.precond.type: sgld precond is not a numeric option: expected { type: categorical, choices: [...] }, got an int range');
    expect(await problemsOf('    batch_size: { type: int, low: 8, high: 64, step: 8 }\n    step_size: { type: int, low: 1, high: 2 }\n    precond: { type: categorical, choices: [none, adam] }')).toBe('accepted');
  });

  it('a tune whose every trial failed fails with each reason, without stack frames', async () => {
    const ws = new ScratchWorkspace();
    try {
      ws.write('config/tune/c.yaml', tuneFile('    step_size: { type: float, low: 1.0e-6, high: 1.0e-4, log: true }'));
      const [{ loadTuneConfig }, { backendFor }, { runTune }, { ProgressDisplay }, { Writable }] = await Promise.all([
        import('../rules/tune/config'),
        import('../runner/backends'),
        import('../runner/tune'),
        import('../rules/progress'),
        import('node:stream'),
      ]);
      const config = await loadTuneConfig({ root: ws.root, presets: 'config' }, ws.path('config/tune/c.yaml'));
      const local = backendFor(ws.root, { from: 'flags' });
      // Targets and the reference run for real; every trial crashes as a RangeError did.
      const backend = {
        ...local,
        run: (task: Parameters<typeof local.run>[0], sink: Parameters<typeof local.run>[1]) =>
          task.rule === 'trial'
            ? Promise.resolve({ ok: false, reason: 'the task failed with exit status 1', attempts: 1, stderrTail: ['RangeError: Invalid typed array length: 1000000000000', '    at new Float64Array (<anonymous>)', '    at sgld (/w/packages/llc/src/samplers/sgld.ts:60:5)', '    at /w/rules/trial.ts:40:3'] })
            : local.run(task, sink),
      };
      const out: string[] = [];
      const sinkStream = new Writable({ write: (_c, _e, cb) => cb() });
      const run = runTune({ root: ws.root, config, backend, display: new ProgressDisplay(sinkStream as never), print: (line) => out.push(line) });
      await expect(run).rejects.toThrow(/every trial of sgld on tgt_\w+ failed \(3\):\n  trials 0, 1, 2: the task failed with exit status 1 \| RangeError: Invalid typed array length: 1000000000000\n/);
      await run.catch((e: Error) => expect(e.message).not.toMatch(STACK_LINE));
      local.close();
    } finally {
      ws.dispose();
    }
  });
});

describe('B: sizes beyond what the machine can hold are refused at validation, naming the bound', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lh-bounds-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const validate = (name: string, yaml: string) => {
    writeFileSync(join(dir, name), yaml);
    return lambdaHat(dir, 'validate', name);
  };
  const refused = (r: ReturnType<typeof lambdaHat>, text: string | RegExp) => {
    expect(r.status).toBe(2);
    if (typeof text === 'string') expect(r.stderr).toContain(text);
    else expect(r.stderr).toMatch(text);
    expect(r.stderr).not.toMatch(STACK_LINE);
  };

  it('n_data: 1e12', () =>
    refused(validate('n.yaml', experiment('n', '{ model: small, data: small, seed: 1, overrides: { data: { n_data: 1.0e12 } } }')), /n\.yaml:3:\d+: targets\[0\]\.overrides\.data\.n_data: must be <= 536870912, got/));

  it('widths: [1e7, 1e7]', () =>
    refused(validate('w.yaml', experiment('w', '{ model: small, data: small, seed: 1, overrides: { model: { depth: 2, widths: [10000000, 10000000] } } }')), /w\.yaml:3:\d+: targets\[0\]\.overrides\.model\.widths\[0\]: must be <= 1000000, got the integer 10000000/));

  it('a model whose chains would not fit in memory', () =>
    refused(
      validate('m.yaml', `experiment: m\ntargets:\n  - { model: small, data: small, seed: 1, overrides: { model: { depth: 3, widths: [20000, 20000, 20000] } } }\nsamplers:\n  - { name: sgld, overrides: { chains: 1024 } }\n`),
      /parameters × 1024 chains × 8 bytes = [\d.]+ TiB: expected at most [\d.]+ GiB \(half of this machine's memory\)/,
    ));

  it('batch_size: 1e12', () =>
    refused(validate('b.yaml', `experiment: b\ntargets:\n  - ${TINY_TARGET}\nsamplers:\n  - { name: sgld, overrides: { batch_size: 1.0e12 } }\n`), /b\.yaml:5:\d+: samplers\[0\]\.overrides\.batch_size: must be <= 536870912, got the integer 1000000000000/));

  it('an experiment name of 300 characters (it used to fail with ENAMETOOLONG after the samples ran)', () =>
    refused(validate('long.yaml', experiment(`e${'x'.repeat(299)}`)), 'long.yaml:1:1: experiment: is 300 characters long: expected at most 100 (experiment names become directory and Nx project names)'));
});

describe('F: YAML tags, bytes that are not UTF-8, and problems found in a preset', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lh-yaml-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // The repository's presets, copied so that some can be broken.
  cpSync(join(repo, 'config'), join(dir, 'config'), { recursive: true });
  const ws = { root: dir, presets: 'config' };
  /** The lines of the ConfigError loading `content` as `name` gives, or 'accepted'. */
  const problemsOf = async (name: string, content: string | Buffer) => {
    writeFileSync(join(dir, name), content);
    try {
      await loadExperiment(ws, join(dir, name));
    } catch (e) {
      if (e instanceof ConfigError) return e.message.split('\n');
      throw e;
    }
    return 'accepted';
  };
  const TAGS = 'expected no tag, or one of !!str, !!int, !!float, !!bool, !!null, !!map, !!seq';

  it.each([
    // Each used to load: as the string "1", as a Buffer, as an empty mapping, or with the tag dropped.
    ['an application tag on a value', '{ model: small, data: small, seed: !foo 1 }', '{ name: sgld }', `t.yaml:3:34: targets[0].seed: unknown YAML tag !foo: ${TAGS}`],
    ['!!binary', '{ model: small, data: small, seed: 1, label: !!binary aGVsbG8= }', '{ name: sgld }', `t.yaml:3:43: targets[0].label: unknown YAML tag !!binary: ${TAGS}`],
    ['!!set', '{ model: small, data: small, seed: 1 }', '{ name: sgld, overrides: !!set { steps } }', `t.yaml:5:19: samplers[0].overrides: unknown YAML tag !!set: ${TAGS}`],
    ['!!timestamp', '{ model: small, data: small, seed: 1, label: !!timestamp 2001-12-14 }', '{ name: sgld }', `t.yaml:3:43: targets[0].label: unknown YAML tag !!timestamp: ${TAGS}`],
    ['a tag on a key', '{ model: small, data: small, seed: 1 }', '{ !foo name: sgld }', `t.yaml:5:12: samplers[0].name: unknown YAML tag !foo: ${TAGS}`],
    ['a core tag its value does not fit', '{ model: small, data: small, seed: !!int 1.5 }', '{ name: sgld }', 't.yaml:3:34: targets[0].seed: the YAML tag !!int does not fit the value written after it: expected an integer, or no tag'],
  ])('%s is refused at its file, line and YAML path', async (_, target, sampler, line) => {
    expect(await problemsOf('t.yaml', `experiment: t\ntargets:\n  - ${target}\nsamplers:\n  - ${sampler}\n`)).toEqual([line]);
  });

  it('a tag on the whole document is refused too', async () => {
    expect(await problemsOf('t.yaml', `!experiment\nexperiment: t\ntargets:\n  - ${TINY_TARGET}\nsamplers:\n  - ${TINY_SGLD}\n`)).toEqual([`t.yaml:2:1: unknown YAML tag !experiment: ${TAGS}`]);
  });

  it('core tags that fit their values are fine: !!str 5 is the string "5"', async () => {
    expect(await problemsOf('t.yaml', `experiment: t\ntargets:\n  - { model: small, data: small, seed: !!int 1, label: !!str 5 }\nsamplers:\n  - ${TINY_SGLD}\n`)).toBe('accepted');
    const exp = await loadExperiment(ws, join(dir, 't.yaml'));
    expect(exp.labels[exp.targets[0].id]).toBe('5');
  });

  it('a %YAML 1.1 document is still read with the YAML 1.2 core schema: `no` is not false', async () => {
    expect(await problemsOf('t.yaml', `%YAML 1.1\n---\nexperiment: t\ntargets:\n  - ${TINY_TARGET}\nsamplers:\n  - { name: sgld, overrides: { bias_correction: no } }\n`)).toEqual([
      't.yaml:7:32: samplers[0].overrides.bias_correction: expected true or false, got the string "no"',
    ]);
  });

  it('validate refuses an unknown tag with status 2 and no stack trace', () => {
    writeFileSync(join(dir, 'tag.yaml'), `experiment: t\ntargets:\n  - ${TINY_TARGET}\nsamplers:\n  - { name: sgld, overrides: { steps: !!python/object:os.system ls } }\n`);
    const r = lambdaHat(dir, 'validate', 'tag.yaml');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`tag.yaml:5:32: samplers[0].overrides.steps: unknown YAML tag !!python/object:os.system: ${TAGS}`);
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('a byte that is not UTF-8 (a label saved in Latin-1) is refused at its line, column and byte offset, not read as U+FFFD', async () => {
    const latin1 = Buffer.concat([Buffer.from('experiment: t\ntargets:\n  - { label: caf'), Buffer.from([0xe9]), Buffer.from(`, model: small, data: small, seed: 1 }\nsamplers:\n  - ${TINY_SGLD}\n`)]);
    expect(await problemsOf('latin1.yaml', latin1)).toEqual([
      'latin1.yaml:3:17: invalid UTF-8 at byte offset 39 (byte 0xe9): expected a text file in UTF-8 (was it saved in another encoding, such as Latin-1?)',
    ]);
    // Columns count characters: "ü" before the bad byte is two bytes but one column.
    const after = Buffer.concat([Buffer.from('experiment: t\ndescription: "ü '), Buffer.from([0xff]), Buffer.from(`"\ntargets:\n  - ${TINY_TARGET}\nsamplers:\n  - ${TINY_SGLD}\n`)]);
    expect(await problemsOf('ff.yaml', after)).toEqual([
      'ff.yaml:2:17: invalid UTF-8 at byte offset 31 (byte 0xff): expected a text file in UTF-8 (was it saved in another encoding, such as Latin-1?)',
    ]);
    const r = lambdaHat(dir, 'validate', 'latin1.yaml');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('latin1.yaml:3:17: invalid UTF-8 at byte offset 39');
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('the first invalid byte is found where Node finds the text invalid: seeded random bytes, truncated sequences, surrogates, overlong forms', () => {
    const rand = mulberry32(17);
    const samples: Buffer[] = [
      Buffer.from('ünïcödé ✓ 𝄞'),
      Buffer.from([0xed, 0xa0, 0x80]), // a UTF-16 surrogate, U+D800
      Buffer.from([0xc0, 0xaf]), // an overlong "/"
      Buffer.from([0xf4, 0x90, 0x80, 0x80]), // past U+10FFFF
      Buffer.from([0x61, 0xe2, 0x82]), // a sequence cut by the end of the file
    ];
    const pieces = [[0x61], [0x0a], [0xc3, 0xa9], [0xe2, 0x9c, 0x93], [0xf0, 0x9d, 0x84, 0x9e], [0x80], [0xc3], [0xe2, 0x9c], [0xff], [0xed, 0xbf, 0xbf], [0xe0, 0x80, 0x80]];
    for (let n = 0; n < 2000; n++) samples.push(Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 8) }, () => pieces[Math.floor(rand() * pieces.length)]).flat()));
    for (const b of samples) {
      const at = invalidUtf8At(b);
      expect(at === -1, b.toString('hex')).toBe(isUtf8(b));
      if (at >= 0) expect(isUtf8(b.subarray(0, at)), b.toString('hex')).toBe(true);
    }
  });

  describe('a problem found in a preset names the preset and the entries that use it', () => {
    const exp = `experiment: t\ntargets:\n  - ${TINY_TARGET}\nsamplers:\n  - { name: sgld }\n  - { name: hmc }\n  - { name: sgld, seed: 3 }\n`;
    afterAll(() => cpSync(join(repo, 'config'), join(dir, 'config'), { recursive: true }));

    it('an unknown key and a YAML syntax error in sampler presets, each at its line in the preset and at the entry that names it', async () => {
      writeFileSync(join(dir, 'config/sampler/sgld.yaml'), readFileSync(join(repo, 'config/sampler/sgld.yaml'), 'utf8').replace(/^beta2:/m, 'beta2x:'));
      writeFileSync(join(dir, 'config/sampler/hmc.yaml'), 'draws: 100\nwarmup: [1\n');
      expect(await problemsOf('p.yaml', exp)).toEqual([
        'config/sampler/hmc.yaml:3:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ] (a preset, used at p.yaml:6:7: samplers[1].name)',
        'config/sampler/sgld.yaml:1:1: missing required key "beta2" in sgld options (a preset, used at p.yaml:5:7: samplers[0].name and 1 other place)',
        expect.stringMatching(/^config\/sampler\/sgld\.yaml:8:1: beta2x: unknown key "beta2x" in sgld options; did you mean "beta2"\? \(allowed: [^)]*\) \(a preset, used at p\.yaml:5:7: samplers\[0\]\.name and 1 other place\)$/),
      ]);
    });

    it('a setting missing from a model preset names the key, the preset and the target', async () => {
      cpSync(join(repo, 'config/sampler'), join(dir, 'config/sampler'), { recursive: true });
      writeFileSync(join(dir, 'config/model/small.yaml'), readFileSync(join(repo, 'config/model/small.yaml'), 'utf8').replace(/^activation:.*\n/m, ''));
      expect(await problemsOf('p.yaml', exp)).toEqual([
        'config/model/small.yaml:1:1: missing required key "activation" in a target config (one of relu, tanh, gelu, identity) (a preset, used at p.yaml:3:7: targets[0].model)',
      ]);
    });

    it('in a tuning file too: the preset problem names the method that uses it', async () => {
      cpSync(join(repo, 'config/model'), join(dir, 'config/model'), { recursive: true });
      writeFileSync(join(dir, 'config/sampler/vi.yaml'), `${readFileSync(join(repo, 'config/sampler/vi.yaml'), 'utf8')}bogus: 1\n`);
      writeFileSync(join(dir, 'tune.yaml'), `tune: t\nproblems:\n  - ${TINY_TARGET}\nmethods:\n  - { name: vi }\nsearch_space: { vi: { lr: { type: float, low: 1.0e-4, high: 1.0e-2 } } }\nmax_trials_per_method: 8\n`);
      const { loadTuneConfig } = await import('../rules/tune/config');
      await expect(loadTuneConfig(ws, join(dir, 'tune.yaml'))).rejects.toThrow(/^config\/sampler\/vi\.yaml:\d+:1: bogus: unknown key "bogus" in vi options.* \(a preset, used at tune\.yaml:5:7: methods\[0\]\.name\)$/m);
    });
  });
});

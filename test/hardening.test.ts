/**
 * Hardening of what users write: keys JavaScript objects treat specially are refused rather than
 * silently dropped, YAML aliases take their anchors' values (and cannot multiply without bound), and
 * a card cannot put shell lines into job.sh or load code into workers through its environment.
 * And of what the command gives back: output through a slowly read pipe arrives whole, and
 * validating thousands of entries costs in proportion to them, not to their square.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadExperiment, Presets } from '../rules/experiment';
import { fromAssignment, loadYaml, MAX_ALIASED_VALUES, merge, Sourced } from '../rules/experiment/source';
import { loadTuneConfig } from '../rules/tune/config';
import { jobScript } from '../runner/backends/array-jobs';
import { slurmScheduler } from '../runner/backends/slurm';
import { CardSelection, loadCard, SlurmCard } from '../runner/cards';
import { experimentFile as file, experimentProblems, SAMPLER, TARGET } from './support/experiment-files';

const repo = join(__dirname, '..');
const root = mkdtempSync(join(tmpdir(), 'lh-hardening-'));
symlinkSync(join(repo, 'config'), join(root, 'config'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const ws = { root, presets: 'config' };

const problems = (yaml: string) => experimentProblems(ws, yaml);

/** The messages of the ConfigError `fn` throws; fails if it throws nothing or something else. */
function configProblems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.message.split('\n');
    throw e;
  }
  throw new Error('accepted');
}

/** Writes `yaml` to `name` under the scratch root; returns its absolute path. */
function write(name: string, yaml: string): string {
  const path = join(root, name);
  writeFileSync(path, yaml);
  return path;
}

const REFUSED = '"__proto__" cannot be a key: expected a setting name (__proto__, constructor, prototype are refused in every mapping, as JavaScript objects treat them specially)';

describe('keys JavaScript treats specially (__proto__, constructor, prototype)', () => {
  it('a sampler entry with overrides: { __proto__: { steps: 3 } } is refused at its file, line and YAML path, not run with the preset steps', async () => {
    expect(await problems(file([TARGET], ['{ name: sgld, overrides: { __proto__: { steps: 3 } } }']))).toEqual([`exp.yaml:5:32: samplers[0].overrides.__proto__: ${REFUSED}`]);
  });

  it('constructor and prototype are refused in any mapping, nested or at the top, each problem listed', async () => {
    const lines = await problems(file(['{ model: small, data: small, seed: 1, overrides: { training: { constructor: 1 } } }'], [SAMPLER], 'experiment: t\nprototype: 1'));
    expect(lines).toEqual([
      'exp.yaml:2:1: prototype: "prototype" cannot be a key: expected a setting name (__proto__, constructor, prototype are refused in every mapping, as JavaScript objects treat them specially)',
      'exp.yaml:4:68: targets[0].overrides.training.constructor: "constructor" cannot be a key: expected a setting name (__proto__, constructor, prototype are refused in every mapping, as JavaScript objects treat them specially)',
    ]);
  });

  it('a --set path through __proto__ is refused, naming the assignment and the key', () => {
    expect(configProblems(() => fromAssignment('__proto__.x=1'))).toEqual([`--set __proto__.x=1: __proto__: ${REFUSED}`]);
    expect(configProblems(() => fromAssignment('env.constructor=1', 'LAMBDA_HAT_SET'))[0]).toMatch(/^LAMBDA_HAT_SET env\.constructor=1: env\.constructor: "constructor" cannot be a key/);
  });

  it('a __proto__ key inside the YAML value of a --set is refused at its path', () => {
    expect(configProblems(() => fromAssignment('overrides={__proto__: {steps: 3}}'))).toEqual([`--set overrides={__proto__: {steps: 3}}: overrides.__proto__: ${REFUSED}`]);
  });

  it('a tuning file edited with --set __proto__.… is refused, not loaded without the edit', async () => {
    const tune = write('tune.yaml', 'tune: t\nproblems: [{ model: small, data: small, seed: 1 }]\nmethods: [sgld]\nsearch_space: { sgld: { step_size: { type: float, low: 1.0e-6, high: 1.0e-2 } } }\nmax_trials_per_method: 8\n');
    await expect(loadTuneConfig(ws, tune, ['__proto__.max_trials_per_method=3'])).rejects.toThrow(/--set __proto__\.max_trials_per_method=3: __proto__: "__proto__" cannot be a key/);
  });

  it('a swept path through __proto__ is refused at its place in the sweep', async () => {
    expect(await problems(file([TARGET], ['{ name: sgld, sweep: { overrides.__proto__.steps: [1, 2] } }']))).toEqual([
      `exp.yaml:5:28: samplers[0].sweep.overrides.__proto__.steps: ${REFUSED}`,
    ]);
  });

  it('merge refuses a __proto__ key in a value that was not read from YAML (JSON.parse keeps it as an own key)', () => {
    const origin = { file: 'built', path: [], line: 0, col: 0 };
    const over = Sourced.of(JSON.parse('{"overrides": {"__proto__": {"steps": 3}}}'), origin);
    expect(configProblems(() => merge(Sourced.of({ overrides: {} }, origin), over))).toEqual([`built: ${REFUSED}`]);
  });

  it('keys that merely resemble them (proto, __proto) are ordinary keys', async () => {
    expect(await problems(file([TARGET], ['{ name: sgld, overrides: { proto: 1, __proto: 2 } }']))).toEqual([
      expect.stringMatching(/^exp\.yaml:5:32: samplers\[0\]\.overrides\.proto: unknown key "proto" in sgld options/),
      expect.stringMatching(/^exp\.yaml:5:42: samplers\[0\]\.overrides\.__proto: unknown key "__proto" in sgld options/),
    ]);
  });
});

describe('YAML aliases', () => {
  it('seed: *s takes the integer its anchor names', async () => {
    const exp = await loadExperiment(ws, write('alias.yaml', file([TARGET], ['{ name: sgld, seed: &s 7 }', '{ name: vi, seed: *s }'])));
    expect(exp.runs.map((r) => [r.sampler, r.seed])).toEqual([
      ['sgld', 7],
      ['vi', 7],
    ]);
  });

  it('an aliased mapping is its anchor’s mapping, key for key', async () => {
    const exp = await loadExperiment(ws, write('alias.yaml', file([TARGET], ['{ name: sgld, overrides: &o { steps: 300 } }', '{ name: sgld, seed: 2, overrides: *o }'])));
    expect(exp.runs.map((r) => r.options.steps)).toEqual([300, 300]);
  });

  it('a card with env: *p, where &p anchors a string, is refused as not a mapping (it used to set source=p)', () => {
    const card = write('alias-card.yaml', readFileSync(join(repo, 'config/cards/slurm-cpu.yaml'), 'utf8').replace('partition: cpu', 'partition: &p cpu').replace('env: {}', 'env: *p'));
    expect(configProblems(() => loadCard(root, { card, from: 'flags' }))).toEqual(['alias-card.yaml:20:1: env: expected a mapping, got the string "cpu"']);
  });

  it('a problem inside an aliased value is reported where the alias is used, with that YAML path', async () => {
    expect(await problems(file([TARGET], ['{ name: sgld, seed: *d }'], 'experiment: t\ndescription: &d hello'))).toEqual([
      'exp.yaml:6:19: samplers[0].seed: expected an integer, got the string "hello"',
    ]);
  });

  it('an alias with no anchor before it is an error naming it', async () => {
    expect(await problems(file([TARGET], ['{ name: sgld, seed: *nope }']))).toEqual(['exp.yaml:5:19: samplers[0].seed: unknown alias *nope: expected an anchor &nope before it']);
  });

  it('an alias inside its own anchor is refused, not expanded forever', () => {
    const path = write('cycle.yaml', 'a: &x [1, *x]\n');
    expect(configProblems(() => loadYaml(path, 'cycle.yaml'))).toEqual(['cycle.yaml:1:11: a[1]: the alias *x is inside the value its anchor &x names, so that value would never end']);
  });

  it('a billion-laughs document is refused at once with a clear error', () => {
    const levels = ['l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let i = 1; i <= 9; i++) levels.push(`l${i}: &l${i} [${Array.from({ length: 10 }, () => `*l${i - 1}`).join(', ')}]`);
    const path = write('bomb.yaml', levels.join('\n') + '\n');
    const started = Date.now();
    const lines = configProblems(() => loadYaml(path, 'bomb.yaml'));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^bomb\\.yaml:\\d+:\\d+: l\\d\\[\\d+\\]: the aliases expand to more than ${MAX_ALIASED_VALUES} values \\(refused as an alias bomb\\)`));
  });

  it('aliases work in a --set value as in a file', () => {
    expect(fromAssignment('a=[&x {b: 1}, *x]').value).toEqual({ a: [{ b: 1 }, { b: 1 }] });
  });
});

describe('cards: no shell through Slurm fields or env, no code loaded through env', () => {
  const slurm = (...set: string[]): CardSelection => ({ backend: 'slurm-cpu', set, from: 'env' });

  it.each(['partition', 'account', 'qos', 'constraint', 'gpu_type'])('a newline or other control character in %s is refused, naming the field', (field) => {
    for (const value of ['"cpu\\nrm -rf ~"', '"cpu\\r"', '"cpu\\e[2J"', '"cpu\\tx"']) {
      const lines = configProblems(() => loadCard(repo, slurm(`${field}=${value}`)));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^LAMBDA_HAT_SET ${field}=.*: ${field}: the string ".*" is not allowed here: expected a single word, without spaces, newlines or other control characters \\(it is written into an #SBATCH line of job\\.sh\\)$`));
    }
  });

  it('a space in partition is refused too: sbatch would read the rest as more options', () => {
    expect(configProblems(() => loadCard(repo, slurm('partition=cpu --chdir=/tmp')))[0]).toMatch(/partition: the string "cpu --chdir=\/tmp" is not allowed here: expected a single word/);
  });

  it('an sbatch_extra entry with a newline is refused', () => {
    expect(configProblems(() => loadCard(repo, slurm('sbatch_extra=["--exclusive\\nrm -rf ~"]')))).toEqual([
      'LAMBDA_HAT_SET sbatch_extra=["--exclusive\\nrm -rf ~"]: sbatch_extra[0]: the string "--exclusive\\nrm -rf ~" is not allowed here: expected one sbatch option without newlines or other control characters (each entry is one #SBATCH line of job.sh; worker_init takes shell lines)',
    ]);
  });

  it('env names must be shell variable names, on local and Slurm cards', () => {
    for (const backend of ['local', 'slurm-cpu']) {
      let error: unknown;
      try {
        loadCard(repo, { backend, set: ['env={"A; touch pwned": "1", "1A": "1", "A\\nB": "1", OK_1: "fine"}'], from: 'flags' });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const found = (error as ConfigError).problems.map((p) => [p.origin.path, p.message]);
      const message = (name: string) => `${JSON.stringify(name)} is not an environment variable name: expected letters, digits and _, not starting with a digit`;
      expect(found).toEqual(expect.arrayContaining([['env', 'A; touch pwned'], ['env', '1A'], ['env', 'A\nB']].map((path) => [path, message(path[1])])));
      expect(found).toHaveLength(3);
    }
  });

  it.each(['NODE_OPTIONS', 'LD_PRELOAD', 'LD_AUDIT'])('%s in a card’s env is refused, saying why', (name) => {
    for (const backend of ['local', 'slurm-gpu']) {
      const lines = configProblems(() => loadCard(repo, { backend, set: [`env.${name}=--require /tmp/x.js`], from: 'env' }));
      expect(lines).toEqual([expect.stringMatching(new RegExp(`^LAMBDA_HAT_SET env\\.${name}=.*: env\\.${name}: ${name} cannot be set in a card's env: .+; set it in the environment lambda-hat starts from, or on Slurm write deliberate shell in worker_init$`))]);
    }
  });

  it('the shipped cards still load, and ordinary env settings pass', () => {
    for (const backend of ['local', 'slurm-cpu', 'slurm-gpu']) expect(loadCard(repo, { backend, from: 'env' }).card.backend).toBeDefined();
    expect(loadCard(repo, slurm('env.LAMBDA_HAT_KERNEL=wasm', 'account=proj-1', 'constraint=a100&intel', 'sbatch_extra=["--exclusive", "--comment=two words"]')).card.env).toEqual({ LAMBDA_HAT_KERNEL: 'wasm' });
  });

  /** job.sh for `card` as the Slurm backend writes it, for one element of one task. */
  function script(card: SlurmCard, dir: string): string {
    return jobScript(slurmScheduler(card, repo), card, repo, { dir, elements: 1, tasksPerElement: 1, throttle: 1 });
  }

  it('job.sh run by bash exports every env value unchanged and runs nothing written in one', () => {
    const dir = mkdtempSync(join(root, 'job-'));
    // The "node" the script starts records what it was given, in place of a worker.
    const fakeNode = join(dir, 'fake-node.sh');
    writeFileSync(fakeNode, '#!/bin/sh\nprintf %s "$V" > "$3/value"\n', { mode: 0o755 });
    const value = `it's $(touch ${dir}/pwned1)\n\`touch ${dir}/pwned2\`; touch ${dir}/pwned3 '"\\`;
    const { card } = loadCard(repo, slurm(`node=${JSON.stringify(fakeNode)}`));
    const text = script({ ...(card as SlurmCard), env: { V: value } }, dir);
    writeFileSync(join(dir, 'job.sh'), text);
    const run = spawnSync('bash', [join(dir, 'job.sh')], { env: { PATH: process.env.PATH, SLURM_ARRAY_TASK_ID: '0' }, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(readFileSync(join(dir, 'value'), 'utf8')).toBe(value);
    for (const n of [1, 2, 3]) expect(existsSync(join(dir, `pwned${n}`))).toBe(false);
    expect(readFileSync(join(dir, 'element-0.exit'), 'utf8').trim()).toBe('0');
  });

  it('job.sh has one #SBATCH line per directive for a card with every Slurm field set', () => {
    const { card } = loadCard(repo, slurm('gpus=1', 'gpu_type=a100', 'account=proj', 'qos=high', 'constraint=a100&intel', 'sbatch_extra=["--exclusive"]'));
    const lines = script(card as SlurmCard, '/scratch/sub').split('\n');
    expect(lines.filter((l) => l.startsWith('#SBATCH'))).toEqual(
      expect.arrayContaining(['#SBATCH --partition=cpu', '#SBATCH --gpus-per-node=a100:1', '#SBATCH --account=proj', '#SBATCH --qos=high', '#SBATCH --constraint=a100&intel', '#SBATCH --exclusive']),
    );
    // Between the shebang and the trap, every line is a directive: nothing of a field became shell.
    const trap = lines.findIndex((l) => l.startsWith('trap '));
    expect(lines.slice(1, trap - 1).every((l) => l.startsWith('#SBATCH '))).toBe(true);
  });

  it('jobScript refuses an env name that is not a shell name even when no card schema checked it', () => {
    const { card } = loadCard(repo, slurm());
    expect(() => script({ ...(card as SlurmCard), env: { 'X=1; touch /tmp/pwned; Y': 'v' } }, '/scratch/sub')).toThrow(/refusing to write them into job\.sh: "X=1; touch \/tmp\/pwned; Y"/);
  });
});

/**
 * Runs `lambda-hat <args>` with stdout and stderr on pipes that are not read until the process
 * has exited, or until HOLD_MS after it began to write: a slow reader (`… 2>&1 | less`, a busy log
 * collector). A process that exits with writes still pending loses them, so its output arrives
 * cut; one that waits for its writes before exiting is read in full once the hold ends.
 */
function throughSlowPipe(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const HOLD_MS = 1500;
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(repo, 'bin/lambda-hat.js'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = { stdout: '', stderr: '' };
    let reading = false;
    const read = () => {
      if (reading) return;
      reading = true;
      for (const name of ['stdout', 'stderr'] as const) {
        const stream = child[name];
        stream.removeAllListeners('readable');
        stream.setEncoding('utf8');
        stream.on('data', (d: string) => (out[name] += d));
        stream.resume();
      }
    };
    // A 'readable' listener says that output has begun without taking any of it.
    for (const name of ['stdout', 'stderr'] as const) child[name].once('readable', () => setTimeout(read, HOLD_MS));
    child.on('exit', read);
    child.on('close', (status) => done({ status, ...out }));
  });
}

describe('output through a pipe arrives whole, however much there is and however slowly it is read', () => {
  // Each entry has its own problem, one line of about 300 characters: 2,000 lines are ~600 KB,
  // ten times what a pipe holds.
  const entries = 2000;
  const broken = file(
    [TARGET],
    Array.from({ length: entries }, (_, i) => `{ name: sgld, seed: ${i}, overrides: { stepz: ${i} } }`),
  );

  it('validate: every problem of a file with thousands of them, through to the last line, then status 2', async () => {
    const expected = await problems(broken);
    expect(expected).toHaveLength(entries);
    const r = await throughSlowPipe(['validate', write('many-problems.yaml', broken)]);
    expect(r.stderr.length).toBeGreaterThan(128 * 1024);
    const lines = r.stderr.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(entries);
    expect(lines[entries - 1]).toMatch(/samplers\[1999\]\.overrides\.stepz: unknown key "stepz" in sgld options; did you mean "steps"\? \(allowed: .*\)$/);
    expect(lines.map((l) => l.replace(/^.*many-problems\.yaml:/, 'exp.yaml:'))).toEqual(expected);
    expect(r.status).toBe(2);
  });

  it('validate: the listing of a valid 5,000-run experiment on stdout, every run, status 0', async () => {
    const path = write('many-runs.yaml', file([TARGET], ['{ name: sgld, overrides: { steps: 1000 }, sweep: { seed: { from: 1, to: 5000 } } }']));
    const r = await throughSlowPipe(['validate', path]);
    expect(r.stderr).toBe('');
    expect(r.stdout.length).toBeGreaterThan(128 * 1024);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/1 targets × 5000 samplers = 5000 runs$/);
    // The heading, the target, then one line per run in order, the last one whole.
    expect(lines).toHaveLength(2 + 5000);
    expect(lines[2 + 4999]).toMatch(/^ {2}sgld_[0-9a-f]{12} {2}sgld seed=5000 {2}on tgt_[0-9a-f]{12}$/);
    expect(r.status).toBe(0);
  });

  it('tune: every problem of a tuning file with thousands of them, then status 2', async () => {
    const tune = [
      'tune: many',
      'problems:',
      ...Array.from({ length: entries }, (_, i) => `  - { model: small, data: small, seed: ${i}, overrides: { training: { stepz: ${i} } } }`),
      'methods: [sgld]',
      'search_space: { sgld: { step_size: { type: float, low: 1.0e-6, high: 1.0e-2 } } }',
      'max_trials_per_method: 8',
      '',
    ].join('\n');
    const r = await throughSlowPipe(['tune', '--config', write('many-problems-tune.yaml', tune), '--dry-run']);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(entries);
    expect(lines[entries - 1]).toMatch(/many-problems-tune\.yaml:\d+:\d+: problems\[1999\]\.overrides\.training\.stepz: unknown key "stepz" in a target config; did you mean "steps"\? \(allowed: [^)]*\)$/);
    expect(r.status).toBe(2);
  });
});

describe('validation cost grows with the entries, not with their square', () => {
  /** A Map whose entries cannot be listed: a lookup in it is fine, a scan of it throws. */
  class NoScan<K, V> extends Map<K, V> {
    override [Symbol.iterator](): MapIterator<[K, V]> {
      throw new Error('scanned every entry');
    }
    override entries(): MapIterator<[K, V]> {
      throw new Error('scanned every entry');
    }
    override keys(): MapIterator<K> {
      throw new Error('scanned every entry');
    }
    override values(): MapIterator<V> {
      throw new Error('scanned every entry');
    }
    override forEach(): void {
      throw new Error('scanned every entry');
    }
  }

  it('taking one entry of a long list and finding its origins looks up its path, without scanning the origins of the other entries', () => {
    // Scanning every origin of the file for each entry made 4,000 entries take 40 s.
    const n = 4000;
    const path = write('long.yaml', file([TARGET], Array.from({ length: n }, (_, i) => `{ name: sgld, seed: ${i} }`)));
    const doc = loadYaml(path, 'long.yaml');
    const samplers = doc.origins.children!.get('samplers')!;
    const children = new Map(doc.origins.children!);
    children.set('samplers', { origin: samplers.origin, children: new NoScan(samplers.children!) });
    const guarded = Sourced.withOrigins(doc.value, { origin: doc.origins.origin, children });
    const entry = guarded.at(['samplers', n - 1]);
    expect(entry.value).toEqual({ name: 'sgld', seed: n - 1 });
    expect(entry.originOf(['seed'])).toEqual({ file: 'long.yaml', path: ['samplers', n - 1, 'seed'], line: 4 + n, col: 19 });
    expect(entry.originOf(['overrides', 'steps'])).toEqual({ file: 'long.yaml', path: ['samplers', n - 1], line: 4 + n, col: 5 });
    expect(() => [...guarded.origins.children!.get('samplers')!.children!]).toThrow('scanned every entry');
  });

  it('a load reads and parses each preset once, however many entries name it', () => {
    // Reading sgld.yaml and the posterior preset again for each of 100,000 swept settings was most of validating them.
    const presets = new Presets(ws);
    const entry = Sourced.of({ name: 'sgld' }, { file: 'exp.yaml', path: ['samplers', 0], line: 5, col: 5 });
    const first = presets.load('sampler', 'sgld', entry.at(['name']), [], new Map());
    const again = presets.load('sampler', 'sgld', entry.at(['name']), [], new Map());
    expect(again.value).toBe(first.value);
    expect(first.value).toMatchObject({ steps: expect.any(Number), precond: 'none' });
  });
});

/**
 * The tuning workflow end to end, with real worker processes on the local backend in a scratch
 * workspace: a dry run, a tune interrupted mid-batch and resumed (no trial lost or asked twice),
 * the trials table against the study, the tuned SGLD against the default one, best.yaml pasted
 * into an experiment reproducing its trial, trial_sec killing slow trials, the HMC reference
 * computed once and reused, Nx's `tune` target, and a bad file.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { artifactPath } from '../packages/llc/src/artifacts';
import { readAnalysis } from '../packages/llc/src/run-artifact';
import { DEFAULT_PRESETS, loadExperiment } from '../rules/experiment';
import { sampleOnTarget } from '../rules/sample';
import { TrialResult, trialRule, TrialSpec } from '../rules/trial';
import { loadTuneConfig, TuneConfig } from '../rules/tune/config';
import { historyFile, StudyFile, studyDir } from '../rules/tune/study';
import { ScratchWorkspace } from './support/workspace';

const PROBLEM = '{ model: small, data: small, seed: 1, overrides: { training: { steps: 300 } } }';
const REFERENCE = 'reference: { overrides: { draws: 1000, warmup: 300 } }';
const SMOKE = `tune: smoke
problems:
  - ${PROBLEM}
methods:
  - { name: sgld, overrides: { warmup: 500, steps: 5000, eval_every: 10 } }
search_space:
  sgld:
    step_size: { type: float, low: 1.0e-6, high: 1.0e-2, log: true }
    batch_size: { type: categorical, choices: [8, 16, 32] }
${REFERENCE}
max_trials_per_method: 8
batch_size: 2
sampler: { type: tpe, seed: 0, n_startup_trials: 4 }
pruner: { type: median, n_startup_trials: 3, n_warmup_steps: 2 }
budget: { hmc_sec: 120, trial_sec: 60 }
`;
/** The same problem and reference, with trials far longer than their budget. */
const SLOW = `tune: slow
problems:
  - ${PROBLEM}
methods:
  - { name: sgld, overrides: { warmup: 0, steps: 50000000, eval_every: 1000 } }
search_space:
  sgld:
    step_size: { type: float, low: 1.0e-5, high: 1.0e-4, log: true }
${REFERENCE}
max_trials_per_method: 2
batch_size: 2
budget: { hmc_sec: 120, trial_sec: 2 }
`;

describe('tuning', () => {
  let ws: ScratchWorkspace;
  let config: TuneConfig;
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, [ws.path('bin/lambda-hat.js'), 'tune', ...args], { cwd: ws.root, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const study = (): StudyFile => JSON.parse(ws.read(join(studyDir(config), 'study.json')).toString());
  const reference = () => config.references[0];
  /**
   * How a finished tune ends (runner/tune.ts, tuneSummaryLines): the best trial of its one study,
   * and where best.yaml is. Under the `stream` style (the workspace's .env) each line is headed by
   * the project's name, `prefix`.
   */
  const expectTuneSummary = (printed: string, prefix = '') => {
    const output = printed
      .split('\n')
      .map((l) => (l.startsWith(prefix) ? l.slice(prefix.length) : l))
      .join('\n');
    const s = study();
    const best = s.trials.filter((t) => t.state === 'complete').sort((a, b) => a.objective! - b.objective!)[0];
    expect(output).toContain('tune smoke: the best trial of each study (objective |λ̂ − λ_ref|), 8 of 8 trials finished');
    expect(output).toMatch(/^method +problem +best trial +objective +λ̂ +λ_ref ± MCSE +parameters$/m);
    const row = output.split('\n').find((line) => line.startsWith(`sgld    ${config.problems[0].id}  #${best.number} of 8 `));
    expect(row, output).toBeDefined();
    expect(row!.split(/ {2,}/).slice(3, 5).map(Number)).toEqual([Number(best.objective!.toPrecision(3)), Number(best.llc!.toPrecision(4))]);
    expect(row).toMatch(new RegExp(`step_size=\\S+ batch_size=${best.params.batch_size}$`));
    expect(output).toContain(`best.yaml  ${ws.path(join(artifactPath.tune('smoke'), 'best.yaml'))} `);
    expect(output).toContain(`trials     ${ws.path(join(artifactPath.tune('smoke'), 'trials.parquet'))} `);
  };

  beforeAll(async () => {
    ws = new ScratchWorkspace();
    ws.write('config/tune/smoke.yaml', SMOKE);
    ws.write('config/tune/slow.yaml', SLOW);
    config = await loadTuneConfig({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/tune/smoke.yaml'));
  });
  afterAll(() => ws.dispose());

  it('--dry-run prints the resolved config and the planned trials, and runs nothing', () => {
    const r = cli('--config', 'config/tune/smoke.yaml', '--dry-run', '--set', 'batch_size=3');
    expect(r.status).toBe(0);
    const [yamlPart, planPart] = r.stdout.split(/^plan /m);
    const resolved = parseYaml(yamlPart);
    expect(resolved).toMatchObject({ tune: 'smoke', study: config.study, batch_size: 3, max_trials_per_method: 8 });
    expect(resolved.methods[0].options).toMatchObject({ steps: 5000, warmup: 500, step_size: 1e-6 });
    expect(resolved.references[0].id).toBe(reference().id);
    expect(planPart).toContain(`target ${config.problems[0].id}: to build`);
    expect(planPart).toContain(`reference ${reference().id} on ${config.problems[0].id}: to compute`);
    const planned = [...planPart.matchAll(/^ {2}sgld on tgt_\w+ #(\d+): (\{.*\})$/gm)];
    expect(planned.map((m) => Number(m[1]))).toEqual([0, 1, 2]);
    for (const m of planned) expect(Object.keys(JSON.parse(m[2])).sort()).toEqual(['batch_size', 'step_size']);
    expect(ws.exists(artifactPath.tune('smoke'))).toBe(false);
    expect(ws.exists(artifactPath.run(reference().id))).toBe(false);
  });

  it('resumes an interrupted tune with no trial lost or asked twice', async () => {
    const child = spawn(process.execPath, [ws.path('bin/lambda-hat.js'), 'tune', '--config', 'config/tune/smoke.yaml'], { cwd: ws.root, detached: true, stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    const studyPath = ws.path(join(studyDir(config), 'study.json'));
    // Interrupt once some trials have finished and others are in flight.
    for (let waited = 0; ; waited += 50) {
      const s = ws.exists(join(studyDir(config), 'study.json')) ? (JSON.parse(readFileSync(studyPath, 'utf8')) as StudyFile) : undefined;
      const finished = s?.trials.filter((t) => t.state !== 'running').length ?? 0;
      const running = s?.trials.filter((t) => t.state === 'running').length ?? 0;
      if (finished >= 2 && running >= 1) break;
      if (waited > 120_000) throw new Error('the tune never had finished and running trials at once');
      await new Promise((r) => setTimeout(r, 50));
    }
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
    const interrupted = study();
    const running = interrupted.trials.filter((t) => t.state === 'running');
    expect(running.length).toBeGreaterThan(0);
    expect(interrupted.trials.length).toBeLessThan(8);
    const referenceWritten = statSync(ws.path(join(artifactPath.run(reference().id), 'analysis.json'))).mtimeMs;

    const r = cli('--config', 'config/tune/smoke.yaml');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/resuming study study_\w+: \d+ trials finished while away, \d+ to run again/);
    expect(r.stdout).not.toContain('computing');
    expect(statSync(ws.path(join(artifactPath.run(reference().id), 'analysis.json'))).mtimeMs).toBe(referenceWritten);

    const final = study();
    expect(final.trials.map((t) => t.number).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(final.trials.every((t) => t.state !== 'running')).toBe(true);
    for (const t of interrupted.trials) expect(final.trials.find((f) => f.number === t.number)!.params).toEqual(t.params);
    for (const t of interrupted.trials.filter((x) => x.state !== 'running')) expect(final.trials.find((f) => f.number === t.number)).toEqual(t);
    expectTuneSummary(r.stdout);
  }, 300_000);

  it('writes a trials table with the values of the study', async () => {
    const s = study();
    const ref = readAnalysis(ws.path(artifactPath.run(reference().id))).llc;
    const buf = ws.read(join(artifactPath.tune('smoke'), 'trials.parquet'));
    const rows = (await parquetReadObjects({ file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer })) as Record<string, unknown>[];
    const arrow = tableFromIPC(ws.read(join(artifactPath.tune('smoke'), 'trials.arrow')));
    expect(rows).toHaveLength(8);
    expect(arrow.numRows).toBe(8);
    rows.forEach((row, i) => {
      const t = s.trials.find((x) => x.number === row.number)!;
      expect(row).toMatchObject({ tune: 'smoke', study: config.study, problem: config.problems[0].id, method: 'sgld', state: t.state, llc: t.llc, objective: t.objective, llc_ref: ref.mean, llc_ref_mcse: ref.mcse });
      expect(JSON.parse(row.params as string)).toEqual(t.params);
      expect(row['param.step_size']).toBe(t.params.step_size);
      expect(row['param.batch_size']).toBe(t.params.batch_size);
      if (t.llc !== null) expect(row.error).toBeCloseTo(t.llc - ref.mean, 12);
      expect(arrow.get(i)!.toJSON()).toEqual(row);
    });
    expect(rows.filter((r) => r.state === 'complete').length).toBeGreaterThanOrEqual(4);
  });

  it('finds SGLD settings closer to the HMC reference than the default ones', async () => {
    const s = study();
    const best = s.trials.filter((t) => t.state === 'complete').sort((a, b) => a.objective! - b.objective!)[0];
    // The default: the method's options (preset + fixed overrides) with no parameter changed, scored like a trial.
    const method = config.methods[0];
    const spec: TrialSpec = {
      dir: 'artifacts/default-trial',
      number: -1,
      params: {},
      run: { target: config.problems[0].id, sampler: 'sgld', seed: method.seed, options: method.options, posterior: config.posterior },
      llc_ref: readAnalysis(ws.path(artifactPath.run(reference().id))).llc.mean,
      objective: config.objective,
      pruner: { type: 'none' },
      history: historyFile(config, config.problems[0].id, 'sgld'),
    };
    await trialRule.run(spec, { root: ws.root, log: () => {} });
    const byDefault = JSON.parse(ws.read('artifacts/default-trial/result.json').toString()) as TrialResult;
    expect(byDefault.state).toBe('complete');
    expect(best.objective!).toBeLessThan(byDefault.objective!);
    expect(best.objective!).toBeLessThan(0.25 * byDefault.objective!);
  }, 120_000);

  it('writes best.yaml as a sampler entry that reproduces its trial in an experiment', async () => {
    const s = study();
    const best = s.trials.filter((t) => t.state === 'complete').sort((a, b) => a.objective! - b.objective!)[0];
    const text = ws.read(join(artifactPath.tune('smoke'), 'best.yaml')).toString();
    expect(text).toContain(`trial ${best.number}, the best of 8 finished`);
    const entries = parseYaml(text).samplers;
    expect(entries).toHaveLength(1);
    ws.write('config/experiments/pasted.yaml', `experiment: pasted\ntargets:\n  - ${PROBLEM}\nsamplers:\n${text.slice(text.indexOf('\nsamplers:\n') + '\nsamplers:\n'.length)}`);
    const exp = await loadExperiment({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/experiments/pasted.yaml'));
    expect(exp.runs).toHaveLength(1);
    expect(exp.runs[0].options).toEqual({ ...config.methods[0].options, ...best.params });
    const sampled = await sampleOnTarget(exp.runs[0], { root: ws.root, log: () => {} });
    expect(sampled.summary.mean).toBe(best.llc);
    ws.remove('config/experiments/pasted.yaml');
  }, 120_000);

  it('kills trials that exceed trial_sec, and reuses the reference across tuning files', async () => {
    const slow = await loadTuneConfig({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/tune/slow.yaml'));
    expect(slow.references[0].id).toBe(reference().id);
    const started = Date.now();
    const r = cli('--config', 'config/tune/slow.yaml');
    const seconds = (Date.now() - started) / 1000;
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('computing');
    expect(r.stdout).toContain(`reference ${reference().id}`);
    const s = JSON.parse(ws.read(join(studyDir(slow), 'study.json')).toString()) as StudyFile;
    expect(s.trials).toHaveLength(2);
    for (const t of s.trials) expect(t).toMatchObject({ state: 'timeout', reason: 'exceeded budget.trial_sec = 2 s', llc: null, objective: null });
    // Two trials at once, each stopped at 2 s (the process start included), well before 50M steps.
    expect(seconds).toBeLessThan(30);
  }, 120_000);

  it('stops with a clear message when the HMC reference runs past hmc_sec, leaving no half-written run', async () => {
    const sets = ['reference.seed=99', 'reference.overrides.draws=2000000', 'budget.hmc_sec=1'];
    const long = await loadTuneConfig({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/tune/smoke.yaml'), sets);
    const started = Date.now();
    const r = cli('--config', 'config/tune/smoke.yaml', ...sets.flatMap((s) => ['--set', s]));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`the HMC reference ${long.references[0].id} for ${long.problems[0].id} did not finish within budget.hmc_sec = 1 s; raise the budget or lower reference.overrides.draws`);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect((Date.now() - started) / 1000).toBeLessThan(30);
    expect(ws.exists(artifactPath.run(long.references[0].id))).toBe(false);
  }, 60_000);

  it('runs as the tune target of an Nx project that depends on its targets and on its HMC references, cached sample tasks', () => {
    const graph = ws.nx('show', 'project', 'tune-smoke', '--json');
    expect(graph.status).toBe(0);
    const project = JSON.parse(graph.output.slice(graph.output.indexOf('{')));
    expect(project.targets.tune).toMatchObject({ executor: './plugins/lambda-hat:tune', options: { config: 'config/tune/smoke.yaml' }, cache: false });
    expect(project.metadata.lambdaHat.dependsOn).toEqual([config.problems[0].id, reference().id]);
    const refProject = ws.nx('show', 'project', reference().id, '--json');
    expect(JSON.parse(refProject.output.slice(refProject.output.indexOf('{'))).targets.sample).toMatchObject({ cache: true, options: { rule: 'sample' } });
    const r = ws.nx('run', 'tune-smoke:tune');
    expect(r.status, r.output).toBe(0);
    expect(r.ran).toContain('tune-smoke:tune');
    // The reference is an ordinary cached task: it runs under Nx before the tune, and is a cache hit next time.
    expect(r.output).toContain(`${reference().id}:sample`);
    const again = ws.nx('run', 'tune-smoke:tune');
    expect(again.ran).not.toContain(`${reference().id}:sample`);
    // The study is complete: the target reports the reference and asks nothing more.
    expect(r.output).toContain(`reference ${reference().id}`);
    expect(r.output).not.toMatch(/trial \d+:/);
    // And ends with the best trials and where best.yaml is, under the output Nx gives when none is named.
    const typed = ws.nxAsTyped(['run', 'tune-smoke:tune']);
    expect(typed.status, typed.output).toBe(0);
    expectTuneSummary(typed.output, 'tune-smoke: ');
  }, 120_000);

  it('rejects a bad tuning file with its location, exit status 2 and no stack trace', () => {
    ws.write('config/tune/bad.yaml', SMOKE.replace('tune: smoke', 'tune: bad').replace('    batch_size: {', '    batchsize: {'));
    const r = cli('--config', 'config/tune/bad.yaml');
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(
      'config/tune/bad.yaml:9:5: search_space.sgld.batchsize: unknown sgld option "batchsize"; did you mean "batch_size"? (options: batch_size, beta1, beta2, bias_correction, chains, dtype, eps, eval_every, mala_every, precond, step_size, steps, warmup)',
    );
    expect(ws.exists(artifactPath.tune('bad'))).toBe(false);
    ws.remove('config/tune/bad.yaml');
  });
});

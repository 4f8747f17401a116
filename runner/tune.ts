/**
 * The tuner (README, "Tuning"): an ask/tell loop that keeps `batch_size` trials in flight on the selected
 * backend, across every (problem, method) of a tuning file.
 *
 *   1. Targets: each problem's target is built unless its artifact is already there.
 *   2. References: each problem's HMC reference is an ordinary run (artifacts/runs/<hmc_…>), so it
 *      is computed once per content id and shared with experiments that sample the same settings;
 *      it must finish within budget.hmc_sec.
 *   3. Trials: each (problem, method) is its own study with its own sampler; trials are asked from
 *      whichever study has the fewest, run as `trial` tasks killed after budget.trial_sec, and told
 *      as they end. study.json is rewritten at every ask and every result (study.ts), and the tables
 *      at every result (outputs.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readAnalysis } from '../packages/llc/src/run-artifact';
import { createSampler } from '../packages/llc/src/tune/tpe';
import type { Params } from '../packages/llc/src/tune/space';
import { artifactPath } from '../packages/llc/src/artifacts';
import { buildTargetRule } from '../rules/build-target';
import { ProgressDisplay } from '../rules/progress';
import { UserError } from '../rules/rule';
import { sampleRule } from '../rules/sample';
import { TrialResult, TrialSpec } from '../rules/trial';
import type { TuneConfig, TuneMethod } from '../rules/tune/config';
import { bestTrial, Reference, writeTuneOutputs } from '../rules/tune/outputs';
import { historyFile, isFinished, loadStudy, saveStudy, StudyFile, StudyTrial, trialDir, trialRecord, trialsOf, writeHistory } from '../rules/tune/study';
import type { Backend } from './backends/types';
import { failureReport, Print, runTask, runWorker, TaskToRun } from './tasks';

export interface TuneRun {
  root: string;
  config: TuneConfig;
  backend: Backend;
  print: Print;
  display: ProgressDisplay;
}

/** One (problem, method) pair: a study of its own. */
interface Pair {
  problem: string;
  method: TuneMethod;
}

const pairsOf = (config: TuneConfig): Pair[] => config.problems.flatMap((p) => config.methods.map((method) => ({ problem: p.id, method })));
const pairName = (p: { problem: string; method: TuneMethod | string }) => `${typeof p.method === 'string' ? p.method : p.method.sampler} on ${p.problem}`;

/** Builds the targets that are missing. */
async function ensureTargets(run: TuneRun): Promise<void> {
  const missing = run.config.problems.filter((t) => buildTargetRule.verify(t, run.root) !== null);
  const built = await Promise.all(missing.map(async (t) => (await runTask(run.root, run.backend, { project: t.id, target: 'build-target', rule: buildTargetRule.name, spec: t }, run.print, run.display)).ok));
  const failed = missing.filter((_, i) => !built[i]);
  if (failed.length) throw new UserError(`could not build target${failed.length > 1 ? 's' : ''} ${failed.map((t) => t.id).join(', ')} (see above)`);
}

/** The HMC reference of every problem, computing those not yet on disk within budget.hmc_sec. */
export async function ensureReferences(run: TuneRun): Promise<Map<string, Reference>> {
  const { root, config } = run;
  const refs = new Map<string, Reference>();
  await Promise.all(
    config.references.map(async (spec) => {
      if (sampleRule.verify(spec, root) !== null) {
        run.print(`reference ${spec.id} for ${spec.target}: computing (budget.hmc_sec = ${config.budget.hmc_sec} s)`, 'stdout');
        const task: TaskToRun = { project: spec.id, target: 'sample', rule: sampleRule.name, spec, timeLimitSec: config.budget.hmc_sec };
        const end = await runWorker(root, run.backend, task, run.print, run.display);
        if (!end.ok) {
          if (end.outcome.timedOut) throw new UserError(`the HMC reference ${spec.id} for ${spec.target} did not finish within budget.hmc_sec = ${config.budget.hmc_sec} s; raise the budget or lower reference.overrides.draws`);
          run.print(failureReport(root, run.backend, task, end), 'stderr');
          throw new UserError(`the HMC reference ${spec.id} for ${spec.target} failed (see above)`);
        }
      }
      const a = readAnalysis(join(root, artifactPath.run(spec.id)));
      if (a.status.state === 'diverged' || !Number.isFinite(a.llc.mean)) {
        throw new UserError(`the HMC reference ${spec.id} for ${spec.target} diverged (${a.status.reasons.join('; ')}): it cannot serve as λ_ref; change reference.overrides`);
      }
      const note = a.status.state === 'check' ? ` — check: ${a.status.reasons.join('; ')}` : '';
      run.print(`reference ${spec.id} for ${spec.target}: λ_ref = ${a.llc.mean.toPrecision(5)} ± ${a.llc.mcse.toPrecision(2)} (MCSE), R̂ ${a.llc.r_hat.toFixed(3)}${note}`, 'stdout');
      refs.set(spec.target, { run_id: spec.id, llc: a.llc.mean, mcse: a.llc.mcse, status: a.status.state });
    }),
  );
  return refs;
}

/** Parameters for the next trial of a pair: a pure function of the sampler's seed, the pair's trials and the number. */
function ask(config: TuneConfig, study: StudyFile, pair: Pair): { number: number; params: Params } {
  const trials = trialsOf(study, pair.problem, pair.method.sampler);
  const number = trials.length === 0 ? 0 : trials[trials.length - 1].number + 1;
  return { number, params: createSampler(config.sampler).suggest(pair.method.space, trials.map(trialRecord), number) };
}

/** The next asks of each pair, as a dry run shows them: each ask sees the earlier ones as running. */
export function plannedTrials(config: TuneConfig, study: StudyFile): { pair: string; number: number; params: Params }[] {
  const scratch: StudyFile = { ...study, trials: [...study.trials] };
  const planned: { pair: string; number: number; params: Params }[] = [];
  for (const pair of pairsOf(config)) {
    const trials = trialsOf(scratch, pair.problem, pair.method.sampler);
    const room = Math.min(config.batch_size, config.max_trials_per_method - trials.length);
    for (let i = 0; i < room; i++) {
      const { number, params } = ask(config, scratch, pair);
      scratch.trials.push(newTrial(pair, number, params));
      planned.push({ pair: pairName(pair), number, params });
    }
  }
  return planned;
}

function newTrial(pair: Pair, number: number, params: Params): StudyTrial {
  return {
    problem: pair.problem,
    method: pair.method.sampler,
    number,
    params,
    state: 'running',
    objective: null,
    llc: null,
    intermediate: [],
    pruned_at: null,
    wall_time_s: null,
    reason: null,
    asked_at: new Date().toISOString(),
    finished_at: null,
  };
}

function trialSpec(run: TuneRun, pair: Pair, t: StudyTrial, refs: Map<string, Reference>): TrialSpec {
  const { config } = run;
  return {
    dir: trialDir(config, t),
    number: t.number,
    params: t.params,
    run: { target: pair.problem, sampler: pair.method.sampler, seed: pair.method.seed, options: { ...pair.method.options, ...t.params }, posterior: config.posterior },
    llc_ref: refs.get(pair.problem)!.llc,
    objective: config.objective,
    pruner: config.pruner,
    history: historyFile(config, pair.problem, pair.method.sampler),
  };
}

/** The result a trial left on disk, if it wrote one (a trial that ended while the tuner was away included). */
function readResult(root: string, spec: TrialSpec): TrialResult | undefined {
  const path = join(root, spec.dir, 'result.json');
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as TrialResult;
  } catch {
    return undefined;
  }
}

function tell(t: StudyTrial, result: TrialResult | undefined, failure: { timedOut: boolean; reason: string } | undefined, trialSec: number): void {
  t.finished_at = new Date().toISOString();
  if (result) {
    Object.assign(t, { state: result.state, objective: result.objective, llc: result.llc, intermediate: result.intermediate, pruned_at: result.pruned_at, wall_time_s: result.wall_time_s, reason: result.reason });
  } else if (failure?.timedOut) {
    Object.assign(t, { state: 'timeout', wall_time_s: trialSec, reason: `exceeded budget.trial_sec = ${trialSec} s` });
  } else {
    Object.assign(t, { state: 'failed', reason: failure?.reason ?? 'no result' });
  }
}

function describeEnd(t: StudyTrial, best: StudyTrial | undefined): string {
  const what =
    t.state === 'complete' ? `λ̂ ${t.llc!.toPrecision(4)}, objective ${t.objective!.toPrecision(3)}`
    : t.state === 'pruned' ? `pruned at checkpoint ${t.pruned_at}`
    : `${t.state}: ${t.reason}`;
  return `${what}; best ${best ? `${best.objective!.toPrecision(3)} (trial ${best.number})` : '—'}`;
}

/**
 * Runs the tune to its end: every pair reaches max_trials_per_method finished trials. Resumes the
 * study on disk; returns the study and the references.
 */
export async function runTune(run: TuneRun): Promise<{ study: StudyFile; references: Map<string, Reference> }> {
  try {
    return await tuneLoop(run);
  } catch (e) {
    // A failed build or reference ends the tune: stop whatever else is still running for it.
    run.backend.cancelAll();
    throw e;
  }
}

/**
 * Refuses a budget the backend's own time limit would cut short (a Slurm card's walltime per task):
 * every trial, or the reference, would then be killed by the scheduler instead of ending at its
 * budget, recorded as a failure rather than a timeout. `budget.hmc_sec` matters only while a
 * reference is still to compute.
 */
export function checkBudgetFitsBackend(root: string, config: TuneConfig, backend: Backend): void {
  const limit = backend.taskWalltimeSec;
  if (limit === undefined) return;
  const problems: string[] = [];
  const where = backend.taskWalltime ?? `the backend's limit of ${limit} s per task`;
  const fix = 'lower the budget (in the tuning file, or --set budget.<key>=<seconds>) or raise the card\'s walltime (LAMBDA_HAT_SET=walltime=HH:MM:SS)';
  if (config.budget.trial_sec > limit)
    problems.push(`${config.file}: budget.trial_sec = ${config.budget.trial_sec} s is longer than the card's ${where}, ${limit} s per task: every trial would be killed by Slurm rather than stopped at its budget; ${fix}`);
  const toCompute = config.references.filter((r) => sampleRule.verify(r, root) !== null);
  if (toCompute.length && config.budget.hmc_sec > limit)
    problems.push(`${config.file}: budget.hmc_sec = ${config.budget.hmc_sec} s is longer than the card's ${where}, ${limit} s per task: the HMC reference ${toCompute[0].id} would be killed by Slurm rather than stopped at its budget; ${fix}`);
  if (problems.length) throw new UserError(problems.join('\n'));
}

async function tuneLoop(run: TuneRun): Promise<{ study: StudyFile; references: Map<string, Reference> }> {
  const { root, config } = run;
  checkBudgetFitsBackend(root, config, run.backend);
  await ensureTargets(run);
  const refs = await ensureReferences(run);
  const study = loadStudy(root, config);
  const pairs = pairsOf(config);
  const save = () => saveStudy(root, config, study);
  for (const p of pairs) writeHistory(root, config, study, p.problem, p.method.sampler);

  const inflight = new Map<StudyTrial, Promise<StudyTrial>>();
  const pairOf = (t: StudyTrial) => pairs.find((p) => p.problem === t.problem && p.method.sampler === t.method)!;
  const start = (t: StudyTrial) => {
    const pair = pairOf(t);
    const spec = trialSpec(run, pair, t, refs);
    const label = `${t.method}#${t.number} ${t.problem}`;
    const task: TaskToRun = { project: `${config.name}.${t.problem}.${t.method}.${t.number}`, target: 'trial', rule: 'trial', spec, timeLimitSec: config.budget.trial_sec };
    inflight.set(
      t,
      runWorker(root, run.backend, task, () => {}, run.display, label).then((end) => {
        const result = end.ok ? readResult(root, spec) : undefined;
        const reason = end.outcome.reason ?? end.problem ?? 'no result';
        // The last lines of stderr that are not stack frames: the error itself, not where it was thrown.
        const said = end.outcome.stderrTail.filter((line) => line.trim() !== '' && !STACK_FRAME.test(line)).slice(-3);
        tell(t, result, result ? undefined : { timedOut: end.outcome.timedOut === true, reason: [reason, ...said].join(' | ') }, config.budget.trial_sec);
        return t;
      }),
    );
  };

  // Trials left running by an interrupted tune: recorded if they finished meanwhile, else run again as they were.
  const leftRunning = study.trials.filter((t) => t.state === 'running');
  for (const t of leftRunning) {
    const result = readResult(root, trialSpec(run, pairOf(t), t, refs));
    if (result) tell(t, result, undefined, config.budget.trial_sec);
  }
  const rerun = leftRunning.filter((t) => t.state === 'running');
  if (leftRunning.length) run.print(`resuming study ${config.study}: ${leftRunning.length - rerun.length} trials finished while away, ${rerun.length} to run again`, 'stdout');
  save();
  const waiting = [...rerun];

  const asked = (p: Pair) => trialsOf(study, p.problem, p.method.sampler).length;
  for (;;) {
    while (inflight.size < config.batch_size) {
      // Trials left running go first, as they were.
      const resumed = waiting.shift();
      if (resumed) {
        start(resumed);
        continue;
      }
      // The pair with the fewest trials asked, so every pair advances together.
      const open = pairs.filter((p) => asked(p) < config.max_trials_per_method).sort((a, b) => asked(a) - asked(b));
      if (open.length === 0) break;
      const { number, params } = ask(config, study, open[0]);
      const t = newTrial(open[0], number, params);
      study.trials.push(t);
      save();
      start(t);
    }
    if (inflight.size === 0) break;
    const done = await Promise.race(inflight.values());
    inflight.delete(done);
    save();
    writeHistory(root, config, study, done.problem, done.method);
    writeTuneOutputs(root, config, study, refs);
    const trials = trialsOf(study, done.problem, done.method);
    run.print(`${pairName(done)} trial ${done.number}: ${describeEnd(done, bestTrial(trials))} [${trials.filter(isFinished).length}/${config.max_trials_per_method}]`, 'stdout');
  }
  writeTuneOutputs(root, config, study, refs);
  failIfNoTrialRan(config, study);
  return { study, references: refs };
}

const significant = (x: number, digits: number) => String(Number(x.toPrecision(digits)));
const paramValue = (v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? significant(v, 3) : String(v));

/**
 * How a tune ends, in lines: the best trial of each (problem, method) study, as best.yaml holds it
 * (parameters to three significant digits; best.yaml has them exactly), and the absolute paths of
 * best.yaml and the trials table. Printed by `lambda-hat tune` and by the `tune` target.
 */
export function tuneSummaryLines(root: string, config: TuneConfig, study: StudyFile, references: Map<string, Reference>): string[] {
  const pairs = pairsOf(config);
  const rows = pairs.map((pair) => {
    const trials = trialsOf(study, pair.problem, pair.method.sampler);
    const finished = trials.filter(isFinished).length;
    const best = bestTrial(trials);
    const ref = references.get(pair.problem);
    const refCell = ref ? `${significant(ref.llc, 4)} ± ${significant(ref.mcse, 2)}` : '–';
    if (!best) return [pair.method.sampler, pair.problem, '–', '–', '–', refCell, `no complete trial (${finished} finished)`];
    const params = Object.entries(best.params).map(([k, v]) => `${k}=${paramValue(v)}`).join(' ');
    return [pair.method.sampler, pair.problem, `#${best.number} of ${finished}`, significant(best.objective!, 3), significant(best.llc!, 4), refCell, params];
  });
  const head = ['method', 'problem', 'best trial', 'objective', 'λ̂', 'λ_ref ± MCSE', 'parameters'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  // The parameters are last and not padded, as in the run table (rules/summary.ts).
  const line = (c: string[]) => c.map((x, i) => (i < c.length - 1 ? x.padEnd(widths[i]) : x)).join('  ');
  const finished = study.trials.filter(isFinished).length;
  const dir = resolve(root, artifactPath.tune(config.name));
  const objective = config.objective.type === 'abs' ? '|λ̂ − λ_ref|' : `huber(λ̂ − λ_ref, δ = ${config.objective.delta})`;
  return [
    `tune ${config.name}: the best trial of each study (objective ${objective}), ${finished} of ${pairs.length * config.max_trials_per_method} trials finished`,
    line(head),
    ...rows.map(line),
    `best.yaml  ${join(dir, 'best.yaml')} (sampler entries to paste under samplers: in an experiment file)`,
    `trials     ${join(dir, 'trials.parquet')} (also .arrow)`,
  ];
}

/** A stack frame line of a Node.js error (`    at f (file:1:2)`, `    at file:1:2`). */
const STACK_FRAME = /^\s+at\s/;

/**
 * A (problem, method) whose every trial failed has no result at all: a broken method or a space
 * the sampler cannot run, never a tuning outcome. The tune then fails with each pair's reasons
 * (its tables are written first, to look at).
 */
function failIfNoTrialRan(config: TuneConfig, study: StudyFile): void {
  const lines: string[] = [];
  for (const pair of pairsOf(config)) {
    const trials = trialsOf(study, pair.problem, pair.method.sampler);
    if (trials.length === 0 || trials.some((t) => t.state !== 'failed')) continue;
    const byReason = new Map<string, number[]>();
    for (const t of trials) byReason.set(t.reason ?? 'no result', [...(byReason.get(t.reason ?? 'no result') ?? []), t.number]);
    lines.push(`every trial of ${pairName(pair)} failed (${trials.length}):`);
    for (const [reason, numbers] of byReason) lines.push(`  trial${numbers.length > 1 ? 's' : ''} ${numbers.join(', ')}: ${reason}`);
  }
  if (lines.length) throw new UserError(`${config.file}: ${lines.join('\n')}\n(trials in ${artifactPath.tune(config.name)}/trials.parquet)`);
}

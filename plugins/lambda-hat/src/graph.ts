/**
 * From a resolved experiment to Nx projects (docs/caching.md, "The Nx projects"):
 *
 *   <tgt_…>        build-target                      one per target
 *   <sampler_…>    sample    dependsOn ^build-target one per (target, sampler entry)
 *   slice_…        sample    dependsOn ^build-target where a target has more than SLICE_RUNS runs of
 *                                                one sampler (a large sweep): ~SLICE_RUNS of them per task
 *   <experiment>   aggregate dependsOn ^sample       writes llc_runs and report.html, as one folder
 *                  sample    dependsOn aggregate     so `run-many -t sample` yields them, then prints the run table
 *                  watch     continuous              reruns its `sample` after each save that reaches it
 *   tune-<name>    tune      dependsOn ^build-target, ^sample   one per tuning file (config/tune/*.yaml),
 *                                                on its problems' targets and HMC reference runs
 *
 *   _lambda-hat-code  (no targets)                the code tasks run, as named inputs
 *
 * Cache keys: a task's options hold its canonical resolved spec (which contains its content id),
 * its inputs are the import closure of the code it runs (a named input of the code project), the
 * upstream artifacts it reads and, for tasks that compute, the kernel's numeric identity. So a
 * comment or key-order edit changes nothing, and an edit reruns exactly the tasks it reaches.
 * Where tasks run is chosen through the environment and is not in any key (executor.ts). Project roots are the artifact directories; they need not
 * exist, so every target lists its inputs explicitly.
 */
import { createHash } from 'node:crypto';
import type { ProjectConfiguration, TargetConfiguration } from '@nx/devkit';
import { sortKeys } from '../../../packages/llc/src/canonical';
import { artifactPath } from '../../../packages/llc/src/artifacts';
import { aggregateRule, aggregateSpec } from '../../../rules/aggregate';
import { buildTargetRule } from '../../../rules/build-target';
import type { Experiment, RunSpec, TargetSpec } from '../../../rules/experiment';
import type { Rule } from '../../../rules/rule';
import { sampleSliceRule, sampleRule } from '../../../rules/sample';
import type { TuneConfig } from '../../../rules/tune/config';
import type { CodeInputScanner } from '../../../runner/code-inputs';
import { tuneProjectName } from './project-names';

export type Projects = Record<string, ProjectConfiguration>;

/**
 * Depending on `target` of this project's dependencies, with the command line's extra flags passed
 * on, so that every task sees a flag the executors refuse (options.ts) and none runs.
 */
const upstreamOf = (target: string): TargetConfiguration['dependsOn'] => [{ target, dependencies: true, params: 'forward' }];

/**
 * The project that holds the code every task runs, as one named input per import closure
 * (`code-sample-…`): tasks refer to the closure by name instead of listing its files, which keeps
 * a 10,000-run graph small. Its name cannot be an experiment's (those start with a letter).
 */
export const CODE_PROJECT = '_lambda-hat-code';
const CODE_ROOT = '.lambda-hat/code';
/** Where slices' projects have their roots: a slice writes only into its runs' folders, so its root need not exist. */
const SLICE_ROOT = '.lambda-hat/slices';

/** Named inputs of the code project, gathered while the projects of a file are made. */
type CodeInputs = Map<string, (string | { externalDependencies: string[] })[]>;

function codeInput({ scanner, inputs, byEntryPoints }: CodeContext, rule: Rule<unknown>, entryPoints: string[]): string {
  const key = `${rule.name}\0${entryPoints.join('\0')}`;
  let name = byEntryPoints.get(key);
  if (name) return name;
  const closure = scanner.closure(entryPoints);
  name = `code-${rule.name}-${createHash('sha256').update(JSON.stringify(closure)).digest('hex').slice(0, 12)}`;
  if (!inputs.has(name)) inputs.set(name, [...closure.files.map((f) => `{workspaceRoot}/${f}`), ...(closure.packages.length ? [{ externalDependencies: closure.packages }] : [])]);
  byEntryPoints.set(key, name);
  return name;
}

/**
 * Training has an executor of its own (`build`; every other rule runs under `run`) because Nx's
 * batch mode makes one batch per executor. The builds then end before the samples' batch starts,
 * so Nx hashes each sample against the parameters on disk and still restores it from the cache
 * when a rebuild gave byte-identical parameters (in one batch, a task behind a rebuilt one runs
 * without a cache lookup).
 */
const executorOf = (rule: Rule<unknown>) => (rule.name === buildTargetRule.name ? 'build' : 'run');

/**
 * The rounding of the kernel a computing task would use here (runner/kernel-keys.ts), as a runtime
 * input: Nx runs the command once or a few times per invocation and hashes what it prints, so a
 * shared cache never serves results rounded otherwise than this machine would round them.
 */
const kernelKey = (precisions: string[]) => ({ runtime: `node bin/lambda-hat.js kernel-key ${precisions.join(' ')}` });

function ruleTarget<S>(executor: string, code: CodeContext, rule: Rule<S>, spec: S, upstream: TargetConfiguration['inputs'], dependsOn: TargetConfiguration['dependsOn'], description: string): TargetConfiguration {
  const input = codeInput(code, rule as Rule<unknown>, rule.codeEntryPoints(spec));
  const precisions = rule.precisions?.(spec) ?? [];
  return {
    executor: `${executor}:${executorOf(rule as Rule<unknown>)}`,
    options: { rule: rule.name, spec: sortKeys(spec) },
    cache: true,
    inputs: [{ input, projects: CODE_PROJECT }, ...(precisions.length ? [kernelKey(precisions)] : []), ...(upstream ?? [])],
    outputs: rule.outputs(spec).map((o) => `{workspaceRoot}/${o}`),
    dependsOn,
    metadata: { description },
  };
}

/** The code scanner and the named inputs it has produced so far. */
export interface CodeContext {
  scanner: CodeInputScanner;
  /** Each rule's entry points, by the named input their closure became (thousands of tasks share a few). */
  byEntryPoints: Map<string, string>;
  inputs: CodeInputs;
}

/** The code project, with every named input the file's tasks refer to. */
export function codeProject(code: CodeContext): Projects {
  return {
    [CODE_ROOT]: {
      name: CODE_PROJECT,
      root: CODE_ROOT,
      namedInputs: Object.fromEntries(code.inputs),
      targets: {},
      tags: ['lambda-hat'],
      metadata: { description: 'The code lambda-hat tasks run: one named input per import closure' },
    },
  };
}

/** Edges for createDependencies travel in project metadata (implicitDependencies would do, but Nx matches each one as a pattern against every project: quadratic at 10,000 runs). */
export interface LambdaHatMetadata {
  dependsOn: string[];
}

/**
 * Tags select with `-p tag:…`: `experiment:<name>` (every project of an experiment), `sampler:<name>`,
 * `target:<label>` (a target and its runs), `entry:<label>` (one sampler entry's runs). A project
 * that several files share gets each file's tags (Nx merges them).
 */
const tag = (kind: string, value: string) => `${kind}:${value}`;

function project(name: string, root: string, targets: Record<string, TargetConfiguration>, dependsOn: string[], description: string, tags: string[] = []): ProjectConfiguration {
  const lambdaHat: LambdaHatMetadata = { dependsOn };
  return { name, root, targets, tags: ['lambda-hat', ...tags], metadata: { description, lambdaHat } as ProjectConfiguration['metadata'] };
}

/** A target's project; experiments and tuning files that share a target share its project. */
function targetProject(t: TargetSpec, label: string | undefined, executor: string, code: CodeContext, tags: string[]): Projects {
  const m = t.build.model;
  const what = `${m.in_dim}→${JSON.stringify(m.widths)}→${m.out_dim} ${m.activation}, n = ${t.build.data.n_data}, seed ${t.build.seed}`;
  const root = artifactPath.target(t.id);
  const named = label ? `${label}: ` : '';
  return { [root]: project(t.id, root, { 'build-target': ruleTarget(executor, code, buildTargetRule, t, [], undefined, `Train target ${named}${t.id} (${what})`) }, [], `Target ${named}${what}`, tags) };
}

/** A run's project; experiments and tuning files that share a run (an HMC reference, say) share its project. */
function runProject(r: RunSpec, what: string, executor: string, code: CodeContext, tags: string[]): Projects {
  const root = artifactPath.run(r.id);
  const sample = ruleTarget(executor, code, sampleRule, r, [{ dependentTasksOutputFiles: '**/*.npy' }], upstreamOf('build-target'), `Run ${what} (${r.sampler}, seed ${r.seed}, target ${r.target})`);
  return { [root]: project(r.id, root, { sample }, [r.target], what, [tag('sampler', r.sampler), ...tags]) };
}

/**
 * Nx spends a few milliseconds on every task of a command, cached or not (hashing, its cache
 * database, the run summary): at 10,000 runs that is most of a fully cached rerun. So where a
 * target has more than SLICE_RUNS runs of one sampler (a large sweep), they become slices of about
 * SLICE_RUNS runs, each one Nx task (rules/sample.ts); smaller groups keep a task per run. The
 * trade: an edit that reaches one run of a slice reruns the whole slice.
 */
export const SLICE_RUNS = 64;

/**
 * Jump consistent hashing (Lamping & Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm",
 * 2014): a run's slice depends on its id and the number of slices only, and going from b to b + 1
 * slices moves only the runs that land in the new one, so adding a seed to a sweep reruns the
 * slice it joins (and, when the count of slices grows, the one new slice), not every slice.
 */
function jumpHash(id: string, buckets: number): number {
  const mask = (1n << 64n) - 1n;
  let key = BigInt(`0x${createHash('sha256').update(id).digest('hex').slice(0, 16)}`);
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    key = (key * 2862933555777941757n + 1n) & mask;
    j = Math.floor(((b + 1) * 2 ** 31) / (Number(key >> 33n) + 1));
  }
  return b;
}

/** The runs of an experiment as Nx tasks: alone, or in slices where a target has many runs of one sampler. */
export function taskGroups(runs: RunSpec[]): RunSpec[][] {
  const bySamplerOnTarget = new Map<string, RunSpec[]>();
  for (const r of runs) {
    const key = `${r.target}\0${r.sampler}`;
    bySamplerOnTarget.set(key, [...(bySamplerOnTarget.get(key) ?? []), r]);
  }
  const groups: RunSpec[][] = [];
  for (const group of bySamplerOnTarget.values()) {
    if (group.length <= SLICE_RUNS) {
      groups.push(...group.map((r) => [r]));
      continue;
    }
    const count = Math.ceil(group.length / SLICE_RUNS);
    const slices: RunSpec[][] = Array.from({ length: count }, () => []);
    for (const r of group) slices[jumpHash(r.id, count)].push(r);
    groups.push(...slices.filter((c) => c.length > 0));
  }
  return groups;
}

/** A slice's project: its name comes from its runs' ids, so files that hold the same slice share it. */
function sliceProject(runs: RunSpec[], exp: Experiment, executor: string, code: CodeContext, tags: string[]): Projects {
  const name = `slice_${createHash('sha256').update(runs.map((r) => r.id).join('\0')).digest('hex').slice(0, 12)}`;
  const root = `${SLICE_ROOT}/${name}`;
  const entries = [...new Set(runs.map((r) => exp.labels[r.id]))];
  const what = `${runs.length} ${runs[0].sampler} runs on ${exp.labels[runs[0].target]} (${entries.length > 3 ? `${entries.slice(0, 3).join(', ')}, …` : entries.join(', ')})`;
  const sample = ruleTarget(executor, code, sampleSliceRule, { runs }, [{ dependentTasksOutputFiles: '**/*.npy' }], upstreamOf('build-target'), `Run ${what}: ${runs.map((r) => r.id).join(' ')}`);
  return { [root]: project(name, root, { sample }, [runs[0].target], what, [tag('sampler', runs[0].sampler), ...tags, ...entries.map((e) => tag('entry', e))]) };
}

export function experimentProjects(exp: Experiment, executor: string, code: CodeContext): Projects {
  const projects: Projects = {};
  const inExperiment = tag('experiment', exp.name);
  for (const t of exp.targets) Object.assign(projects, targetProject(t, exp.labels[t.id], executor, code, [inExperiment, tag('target', exp.labels[t.id])]));
  const tasks: string[] = [];
  for (const group of taskGroups(exp.runs)) {
    const r = group[0];
    const tags = [inExperiment, tag('target', exp.labels[r.target])];
    const made = group.length === 1 ? runProject(r, `${exp.labels[r.id]} on ${exp.labels[r.target]}`, executor, code, [...tags, tag('entry', exp.labels[r.id])]) : sliceProject(group, exp, executor, code, tags);
    Object.assign(projects, made);
    tasks.push(...Object.values(made).map((p) => p.name!));
  }
  const results = aggregateSpec(exp);
  const root = artifactPath.experiment(exp.name);
  projects[root] = project(
    exp.name,
    root,
    {
      // The report also reads the targets' artifacts (fit plots): hence the transitive inputs.
      aggregate: ruleTarget(executor, code, aggregateRule, results, [{ dependentTasksOutputFiles: '**/*', transitive: true }], upstreamOf('sample'), `Write llc_runs and report.html for ${exp.file}`),
      sample: {
        executor: `${executor}:summary`,
        options: { experiment: exp.name },
        dependsOn: [{ target: 'aggregate', params: 'forward' }],
        cache: false,
        // Never used for caching, but Nx hashes every task, and a root that does not exist has no files to hash.
        inputs: [`{workspaceRoot}/${exp.file}`],
        outputs: [],
        metadata: { description: `Everything in ${exp.file}: every sample, then the table and the report, then a summary of the runs` },
      },
      watch: watchTarget(executor, exp.name, exp.file),
    },
    tasks,
    `Experiment ${exp.name} (${exp.file}): ${exp.targets.length} targets × ${exp.runs.length / exp.targets.length} samplers`,
    [inExperiment],
  );
  return projects;
}

/**
 * An experiment's `watch` target (`npx nx run <experiment>:watch`): `lambda-hat watch -p
 * <experiment>`, which runs the experiment's `sample` now and after every save that can reach it.
 * Continuous, as Nx 21+ has long-running tasks, and never cached: it has no end and no outputs. It
 * depends on nothing, since each of its runs is an `nx run-many` of its own that builds what
 * `sample` needs, and its name is not `sample`, so `run-many -t sample` never starts it.
 */
function watchTarget(executor: string, experiment: string, file: string): TargetConfiguration {
  return {
    executor: `${executor}:watch`,
    options: { experiment },
    continuous: true,
    cache: false,
    // Never used for caching, but Nx hashes every task, and a root that does not exist has no files to hash.
    inputs: [`{workspaceRoot}/${file}`],
    outputs: [],
    metadata: { description: `Rerun what each saved edit of ${file}, a preset or a card reaches of experiment ${experiment}, until Ctrl-C` },
  };
}

/**
 * A tuning file's project. Its `tune` target is not cached by Nx: the study on disk is its own
 * cache (every finished trial kept), and a restored Nx entry would replace a study that has since
 * grown with an older one. Each problem's HMC reference is an ordinary run project, whose cached
 * `sample` task the tune depends on: experiments and tunes share it through every cache.
 */
export function tuneProjects(config: TuneConfig, executor: string, code: CodeContext): Projects {
  const projects: Projects = {};
  const inTune = tag('tune', config.name);
  for (const t of config.problems) Object.assign(projects, targetProject(t, undefined, executor, code, [inTune]));
  for (const r of config.references) Object.assign(projects, runProject(r, `hmc reference of ${tuneProjectName(config.name)} on ${r.target}`, executor, code, [inTune]));
  const root = artifactPath.tune(config.name);
  const methods = config.methods.map((m) => m.sampler).join(', ');
  const tune: TargetConfiguration = {
    executor: `${executor}:tune`,
    options: { config: config.file },
    cache: false,
    // Never used for caching, but Nx hashes every task, and a root that does not exist has no files to hash.
    inputs: [`{workspaceRoot}/${config.file}`],
    dependsOn: [...upstreamOf('build-target')!, ...upstreamOf('sample')!],
    metadata: { description: `Tune ${methods} on ${config.problems.length} problem${config.problems.length > 1 ? 's' : ''} (${config.file})` },
  };
  const upstream = [...config.problems.map((t) => t.id), ...config.references.map((r) => r.id)];
  projects[root] = project(tuneProjectName(config.name), root, { tune }, upstream, `Tuning ${config.file}: ${methods}`, [inTune]);
  return projects;
}

/**
 * An experiment file with problems still becomes a project, whose targets fail with the problems
 * as their message: Nx prints a plugin's thrown error only under --verbose, and a broken file
 * should neither hide the others nor run anything. `root` and `projectName` differ from the
 * declared name's when that name cannot be used (taken by another file, or reserved: index.ts).
 */
export function errorProjects(name: string, file: string, message: string, executor: string, root = artifactPath.experiment(name), projectName = name): Projects {
  const fail: TargetConfiguration = { executor: `${executor}:config-error`, options: { file, message }, cache: false, inputs: [] };
  // A watch started on a broken file shows its problems, then runs once a save has mended it; one
  // that could not be found by the file's own name would watch nothing (runner/watch.ts, -p).
  const watch: Record<string, TargetConfiguration> = projectName === name ? { watch: watchTarget(executor, name, file) } : {};
  return { [root]: project(projectName, root, { sample: fail, aggregate: fail, report: fail, ...watch }, [], `Experiment file ${file} has errors`) };
}

/** The same for a tuning file: its `tune` target fails with the problems. */
export function tuneErrorProjects(name: string, file: string, message: string, executor: string, root = artifactPath.tune(name), projectName = tuneProjectName(name)): Projects {
  const fail: TargetConfiguration = { executor: `${executor}:config-error`, options: { file, message }, cache: false, inputs: [] };
  return { [root]: project(projectName, root, { tune: fail }, [], `Tuning file ${file} has errors`) };
}

/**
 * From a resolved experiment to Nx projects (README, "Ids and caching"):
 *
 *   <tgt_…>        build-target                      one per target
 *   <sampler_…>    sample    dependsOn ^build-target one per (target, sampler entry)
 *   <experiment>   aggregate dependsOn ^sample       writes llc_runs
 *                  report    dependsOn ^sample       writes report.html
 *                  sample    dependsOn aggregate, report   so `run-many -t sample` yields both
 *   tune-<name>    tune      dependsOn ^build-target one per tuning file (config/tune/*.yaml)
 *
 * Cache keys: a task's options hold its canonical resolved spec (which contains its content id),
 * its inputs are the import closure of the code it runs plus the upstream artifacts it reads. So
 * a comment or key-order edit changes nothing, and an edit reruns exactly the tasks it reaches.
 * Project roots are the artifact directories; they need not exist, so every target lists its
 * inputs explicitly.
 */
import type { ProjectConfiguration, TargetConfiguration } from '@nx/devkit';
import { sortKeys } from '../../../packages/llc/src/canonical';
import { artifactPath } from '../../../packages/llc/src/artifacts';
import { aggregateRule, ExperimentRuns } from '../../../rules/aggregate';
import { buildTargetRule } from '../../../rules/build-target';
import type { Experiment, TargetSpec } from '../../../rules/experiment';
import { ReportSpec, reportRule } from '../../../rules/report';
import type { Rule } from '../../../rules/rule';
import { sampleRule } from '../../../rules/sample';
import type { TuneConfig } from '../../../rules/tune/config';
import type { CodeInputScanner } from './code-inputs';

/** Edges for createDependencies travel in project metadata. */
export interface LambdaHatMetadata {
  dependsOn: string[];
}

export type Projects = Record<string, ProjectConfiguration>;

/**
 * Depending on `target` of this project's dependencies, with the command line's extra flags
 * (--backend, --card, --set) passed on, so a whole run uses one backend.
 */
const upstreamOf = (target: string): TargetConfiguration['dependsOn'] => [{ target, dependencies: true, params: 'forward' }];

function ruleTarget<S>(executor: string, scanner: CodeInputScanner, rule: Rule<S>, spec: S, upstream: TargetConfiguration['inputs'], dependsOn: TargetConfiguration['dependsOn'], description: string): TargetConfiguration {
  const code = scanner.closure(rule.codeEntryPoints(spec));
  return {
    executor: `${executor}:run`,
    options: { rule: rule.name, spec: sortKeys(spec) },
    cache: true,
    inputs: [...code.files.map((f) => `{workspaceRoot}/${f}`), ...(code.packages.length ? [{ externalDependencies: code.packages }] : []), ...(upstream ?? [])],
    outputs: rule.outputs(spec).map((o) => `{workspaceRoot}/${o}`),
    dependsOn,
    metadata: { description },
  };
}

function project(name: string, root: string, targets: Record<string, TargetConfiguration>, dependsOn: string[], description: string): ProjectConfiguration {
  const lambdaHat: LambdaHatMetadata = { dependsOn };
  return { name, root, targets, tags: ['lambda-hat'], metadata: { description, lambdaHat } as ProjectConfiguration['metadata'] };
}

/** A target's project; experiments and tuning files that share a target share its project. */
function targetProject(t: TargetSpec, executor: string, scanner: CodeInputScanner): Projects {
  const m = t.build.model;
  const what = `${m.in_dim}→${JSON.stringify(m.widths)}→${m.out_dim} ${m.activation}, n = ${t.build.data.n_data}, seed ${t.build.seed}`;
  const root = artifactPath.target(t.id);
  return { [root]: project(t.id, root, { 'build-target': ruleTarget(executor, scanner, buildTargetRule, t, [], undefined, `Train target ${t.id} (${what})`) }, [], `Target ${what}`) };
}

export function experimentProjects(exp: Experiment, executor: string, scanner: CodeInputScanner): Projects {
  const projects: Projects = {};
  for (const t of exp.targets) Object.assign(projects, targetProject(t, executor, scanner));
  for (const r of exp.runs) {
    const root = artifactPath.run(r.id);
    const sample = ruleTarget(executor, scanner, sampleRule, r, [{ dependentTasksOutputFiles: '**/*.npy' }], upstreamOf('build-target'), `Run ${r.sampler} (seed ${r.seed}) on ${r.target}`);
    projects[root] = project(r.id, root, { sample }, [r.target], `${r.sampler} on ${r.target}`);
  }
  const aggregate: ExperimentRuns = { experiment: exp.name, runs: exp.runs.map((r) => ({ id: r.id, target: r.target, sampler: r.sampler })) };
  const report: ReportSpec = { ...aggregate, file: exp.file };
  const root = artifactPath.experiment(exp.name);
  projects[root] = project(
    exp.name,
    root,
    {
      aggregate: ruleTarget(executor, scanner, aggregateRule, aggregate, [{ dependentTasksOutputFiles: '**/{analysis,timing}.json' }], upstreamOf('sample'), `Write llc_runs for ${exp.file}`),
      // The report also reads the targets' artifacts (fit plots): hence the transitive inputs.
      report: ruleTarget(executor, scanner, reportRule, report, [{ dependentTasksOutputFiles: '**/*', transitive: true }], upstreamOf('sample'), `Write report.html for ${exp.file}`),
      sample: {
        executor: 'nx:noop',
        dependsOn: [
          { target: 'aggregate', params: 'forward' },
          { target: 'report', params: 'forward' },
        ],
        cache: true,
        inputs: [],
        outputs: [],
        metadata: { description: `Everything in ${exp.file}: every sample, then the table and the report` },
      },
    },
    exp.runs.map((r) => r.id),
    `Experiment ${exp.name} (${exp.file}): ${exp.targets.length} targets × ${exp.runs.length / exp.targets.length} samplers`,
  );
  return projects;
}

export const tuneProjectName = (name: string) => `tune-${name}`;

/**
 * A tuning file's project. Its `tune` target is not cached by Nx: the study on disk is its own
 * cache (references by content id, every finished trial kept), and a restored Nx entry would
 * replace a study that has since grown with an older one.
 */
export function tuneProjects(config: TuneConfig, executor: string, scanner: CodeInputScanner): Projects {
  const projects: Projects = {};
  for (const t of config.problems) Object.assign(projects, targetProject(t, executor, scanner));
  const root = artifactPath.tune(config.name);
  const methods = config.methods.map((m) => m.sampler).join(', ');
  const tune: TargetConfiguration = {
    executor: `${executor}:tune`,
    options: { config: config.file },
    cache: false,
    // Never used for caching, but Nx hashes every task, and a root that does not exist has no files to hash.
    inputs: [`{workspaceRoot}/${config.file}`],
    dependsOn: upstreamOf('build-target'),
    metadata: { description: `Tune ${methods} on ${config.problems.length} problem${config.problems.length > 1 ? 's' : ''} (${config.file})` },
  };
  projects[root] = project(tuneProjectName(config.name), root, { tune }, config.problems.map((t) => t.id), `Tuning ${config.file}: ${methods}`);
  return projects;
}

/**
 * An experiment file with problems still becomes a project, whose targets fail with the problems
 * as their message: Nx prints a plugin's thrown error only under --verbose, and a broken file
 * should neither hide the others nor run anything.
 */
export function errorProjects(name: string, file: string, message: string, executor: string): Projects {
  const fail: TargetConfiguration = { executor: `${executor}:config-error`, options: { file, message }, cache: false, inputs: [] };
  const root = artifactPath.experiment(name);
  return { [root]: project(name, root, { sample: fail, aggregate: fail, report: fail }, [], `Experiment file ${file} has errors`) };
}

/** The same for a tuning file: its `tune` target fails with the problems. */
export function tuneErrorProjects(name: string, file: string, message: string, executor: string): Projects {
  const fail: TargetConfiguration = { executor: `${executor}:config-error`, options: { file, message }, cache: false, inputs: [] };
  const root = artifactPath.tune(name);
  return { [root]: project(tuneProjectName(name), root, { tune: fail }, [], `Tuning file ${file} has errors`) };
}

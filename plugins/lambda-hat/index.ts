/**
 * The lambda-hat Nx plugin: experiment files → projects and dependencies. Everything Nx-specific
 * lives in this folder; how tasks run lives in runner/, and what they do in rules/.
 *
 * Nx infers the graph again on every command (without its daemon), and a 10,000-run sweep takes
 * seconds to resolve. So, as Nx's own plugins do, the projects of each file are cached under a hash
 * of everything they are made from: the file, the presets, and the code that resolves them and
 * scans the tasks' imports (graph-inputs.ts). This module loads only what the cache needs; the
 * resolver is loaded when a file has changed.
 */
import { readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { cacheDir, CreateDependencies, CreateNodesV2, DependencyType, RawProjectGraphDependency } from '@nx/devkit';
import { writeFileAtomic } from '../../packages/llc/src/atomic';
import { fileHash, sourcesHash } from './src/graph-inputs';
import { tuneProjectName } from './src/project-names';
import type { LambdaHatMetadata, Projects } from './src/graph';

/** The default experiment, any further ones under config/experiments/, and the tuning files under config/tune/. */
export const EXPERIMENT_FILES = '{config/experiments.yaml,config/experiments/*.yaml,config/tune/*.yaml}';
const isTuningFile = (file: string) => file.startsWith('config/tune/');

/** The projects of one file and the name it claims (an experiment's or a tuning file's). */
interface FileNodes {
  name: string;
  projects: Projects;
  /** The file's problems, when it has any (its projects are then an error project). */
  error?: string;
}

/** Resolves one file into projects (a file with problems becomes a project that fails with them). */
async function inferFile(root: string, file: string, executor: string): Promise<FileNodes> {
  const [{ ConfigError, DEFAULT_PRESETS, loadExperiment }, { declaredName }, { loadTuneConfig }, graph, { CodeInputScanner }] = await Promise.all([
    import('../../rules/experiment'),
    import('../../rules/experiment/names'),
    import('../../rules/tune/config'),
    import('./src/graph'),
    import('../../runner/code-inputs'),
  ]);
  const code = { scanner: new CodeInputScanner(root), inputs: new Map(), byEntryPoints: new Map() };
  const abs = join(root, file);
  const tuning = isTuningFile(file);
  try {
    if (tuning) {
      const config = await loadTuneConfig({ root, presets: DEFAULT_PRESETS }, abs);
      return { name: config.name, projects: { ...graph.tuneProjects(config, executor, code), ...graph.codeProject(code) } };
    }
    const exp = await loadExperiment({ root, presets: DEFAULT_PRESETS }, abs);
    return { name: exp.name, projects: { ...graph.experimentProjects(exp, executor, code), ...graph.codeProject(code) } };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    // A best-effort name for a file that failed to load: its `experiment:` or `tune:` key, else the file's.
    const name = declaredName(abs, tuning ? 'tune' : 'experiment') ?? basename(abs, '.yaml');
    return { name, projects: {}, error: e.message };
  }
}

/** The cached projects of each file, keyed by file, with the hash they were made under. */
type NodesCache = Record<string, { hash: string; nodes: FileNodes }>;

function readCache(path: string): NodesCache {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as NodesCache;
  } catch {
    return {};
  }
}

/**
 * The project name of an error project that cannot take the name its file declares (a name another
 * file holds, or a reserved one): made from the file's path, so unique, and with a `.`, which no
 * experiment or tuning name has.
 */
const fileProjectName = (file: string) => file.replace(/\//g, '-');

/**
 * The projects of every file, with names checked across files. Nx refuses the whole graph when two
 * projects share a name ("Failed to process project graph", nothing else shown), so:
 *
 * - a file that loaded keeps its name when no other loaded file declares it;
 * - two or more loaded files declaring one name all fail, as one error project of that name whose
 *   message names every file (which one was meant is not ours to guess);
 * - a file with problems fails with them, under the name it declares when that is free, valid and
 *   not reserved (tgt_…, <sampler>_…, tune-…, _lambda-hat-code), else under a name made from its
 *   path; its message adds which files declare its name. It never blocks a file that loaded.
 */
async function resolveNames(entries: { file: string; nodes: FileNodes }[], executor: string): Promise<[string, { projects: Projects }][]> {
  // graph.ts, with the rules it imports, loads only where a file needs an error project: on the
  // usual path (every file loaded, names unique) the projects are used as they came, from the
  // cache or inferFile. Loading it cost ~150 ms of every command.
  let modules: Promise<[typeof import('./src/graph'), typeof import('../../rules/experiment/names')]> | undefined;
  const load = () => (modules ??= Promise.all([import('./src/graph'), import('../../rules/experiment/names')]));
  const kindOf = (file: string) => (isTuningFile(file) ? 'tuning' : 'experiment');
  const projectName = (file: string, name: string) => (isTuningFile(file) ? tuneProjectName(name) : name);
  const claims = new Map<string, string[]>();
  for (const { file, nodes } of entries) {
    const key = projectName(file, nodes.name);
    claims.set(key, [...(claims.get(key) ?? []), file]);
  }
  const loaded = (file: string) => !entries.find((e) => e.file === file)!.nodes.error;
  const errorProjects = async (file: string, name: string, message: string, own: boolean) => {
    const [graph] = await load();
    const kind = kindOf(file);
    const root = own ? undefined : `.lambda-hat/errors/${file}`;
    const projectNameOf = own ? undefined : fileProjectName(file);
    return kind === 'tuning'
      ? graph.tuneErrorProjects(name, file, message, executor, root, projectNameOf)
      : graph.errorProjects(name, file, message, executor, root, projectNameOf);
  };
  const results: [string, { projects: Projects }][] = [];
  for (const { file, nodes } of entries) {
    const kind = kindOf(file);
    const key = projectName(file, nodes.name);
    const others = claims.get(key)!.filter((f) => f !== file);
    const loadedOthers = others.filter(loaded);
    if (!nodes.error) {
      if (loadedOthers.length === 0) results.push([file, { projects: nodes.projects }]);
      else {
        // One error project for the name, from the first of the files; the others add nothing.
        const all = [file, ...loadedOthers].sort();
        const message = `${kind} name "${nodes.name}" is declared by ${all.join(' and ')}; ${kind} names must be unique (rename all but one)`;
        results.push([file, { projects: all[0] === file ? await errorProjects(file, nodes.name, message, true) : {} }]);
      }
      continue;
    }
    const invalid = (await load())[1].nameProblem(nodes.name, kind);
    const taken = others.length > 0;
    const also = taken ? `\n${file}: ${kind} name "${nodes.name}" is also declared by ${others.join(' and ')}; ${kind} names must be unique` : '';
    const own = !invalid && !taken;
    results.push([file, { projects: await errorProjects(file, nodes.name, `${nodes.error}${also}`, own) }]);
  }
  return results;
}

export const createNodesV2: CreateNodesV2 = [
  EXPERIMENT_FILES,
  async (files, _options, context) => {
    const root = context.workspaceRoot;
    const executor = `./${relative(root, __dirname)}`;
    const cachePath = join(root, relative(root, cacheDir), 'lambda-hat-graph.json');
    const previous = readCache(cachePath);
    const common = sourcesHash(root, executor);
    const cache: NodesCache = {};
    const entries: { file: string; nodes: FileNodes }[] = [];
    for (const file of files) {
      const hash = `${common}:${fileHash(join(root, file))}`;
      const nodes = previous[file]?.hash === hash ? previous[file].nodes : await inferFile(root, file, executor);
      cache[file] = { hash, nodes };
      entries.push({ file, nodes });
    }
    writeFileAtomic(cachePath, JSON.stringify(cache));
    return resolveNames(entries, executor);
  },
];

/** Nx 23 reads createNodesV2 and Nx 24 reads createNodes; both get the same function. */
export const createNodes = createNodesV2;

export const createDependencies: CreateDependencies = (_options, context) => {
  const edges: RawProjectGraphDependency[] = [];
  for (const [name, project] of Object.entries(context.projects)) {
    const meta = (project.metadata as { lambdaHat?: LambdaHatMetadata } | undefined)?.lambdaHat;
    for (const target of meta?.dependsOn ?? []) edges.push({ source: name, target, type: DependencyType.implicit });
  }
  return edges;
};

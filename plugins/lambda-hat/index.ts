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
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { cacheDir, CreateDependencies, CreateNodesV2, DependencyType, RawProjectGraphDependency } from '@nx/devkit';
import { writeFileAtomic } from '../../packages/llc/src/atomic';
import { fileHash, sourcesHash } from './src/graph-inputs';
import type { LambdaHatMetadata, Projects } from './src/graph';

/** The default experiment, any further ones under config/experiments/, and the tuning files under config/tune/. */
export const EXPERIMENT_FILES = '{config/experiments.yaml,config/experiments/*.yaml,config/tune/*.yaml}';
const isTuningFile = (file: string) => file.startsWith('config/tune/');

/** The projects of one file and the name it claims (an experiment's or a tuning file's). */
interface FileNodes {
  name: string;
  projects: Projects;
}

/** A best-effort name for an experiment or tuning file that failed to load (its `experiment:` or `tune:` key). */
function fallbackName(absFile: string, key: 'experiment' | 'tune'): string {
  const text = existsSync(absFile) ? readFileSync(absFile, 'utf8') : '';
  return new RegExp(`^${key}:\\s*['"]?([A-Za-z][A-Za-z0-9_-]*)`, 'm').exec(text)?.[1] ?? basename(absFile, '.yaml');
}

/** Resolves one file into projects (a file with problems becomes a project that fails with them). */
async function inferFile(root: string, file: string, executor: string): Promise<FileNodes> {
  const [{ ConfigError, DEFAULT_PRESETS, loadExperiment }, { loadTuneConfig }, graph, { CodeInputScanner }] = await Promise.all([
    import('../../rules/experiment'),
    import('../../rules/tune/config'),
    import('./src/graph'),
    import('./src/code-inputs'),
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
    const name = fallbackName(abs, tuning ? 'tune' : 'experiment');
    return { name, projects: tuning ? graph.tuneErrorProjects(name, file, e.message, executor) : graph.errorProjects(name, file, e.message, executor) };
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

/** Two files claiming one name: the later one becomes an error project naming both. */
async function clashProjects(file: string, name: string, firstFile: string, executor: string): Promise<Projects> {
  const graph = await import('./src/graph');
  const kind = isTuningFile(file) ? 'tuning' : 'experiment';
  const message = `${file}: ${kind} name "${name}" is already used by ${firstFile}; ${kind} names must be unique`;
  return kind === 'tuning' ? graph.tuneErrorProjects(name, file, message, executor) : graph.errorProjects(name, file, message, executor);
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
    const claimed = { experiment: new Map<string, string>(), tuning: new Map<string, string>() };
    const results: [string, { projects: Projects }][] = [];
    for (const file of files) {
      const hash = `${common}:${fileHash(join(root, file))}`;
      const nodes = previous[file]?.hash === hash ? previous[file].nodes : await inferFile(root, file, executor);
      cache[file] = { hash, nodes };
      const names = isTuningFile(file) ? claimed.tuning : claimed.experiment;
      const first = names.get(nodes.name);
      if (first === undefined) names.set(nodes.name, file);
      results.push([file, { projects: first === undefined ? nodes.projects : await clashProjects(file, nodes.name, first, executor) }]);
    }
    writeFileAtomic(cachePath, JSON.stringify(cache));
    return results;
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

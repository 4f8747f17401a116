/**
 * The lambda-hat Nx plugin: experiment files → projects and dependencies. Everything Nx-specific
 * lives in this folder; how tasks run lives in runner/, and what they do in rules/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { CreateDependencies, CreateNodesV2, DependencyType, RawProjectGraphDependency } from '@nx/devkit';
import { ConfigError, DEFAULT_PRESETS, loadExperiment } from '../../rules/experiment';
import { CodeInputScanner } from './src/code-inputs';
import { loadTuneConfig } from '../../rules/tune/config';
import { errorProjects, experimentProjects, LambdaHatMetadata, Projects, tuneErrorProjects, tuneProjects } from './src/graph';

/** The default experiment, any further ones under config/experiments/, and the tuning files under config/tune/. */
export const EXPERIMENT_FILES = '{config/experiments.yaml,config/experiments/*.yaml,config/tune/*.yaml}';
const isTuningFile = (file: string) => file.startsWith('config/tune/');

/** A best-effort name for an experiment or tuning file that failed to load (its `experiment:` or `tune:` key). */
function fallbackName(absFile: string, key: 'experiment' | 'tune'): string {
  const text = existsSync(absFile) ? readFileSync(absFile, 'utf8') : '';
  return new RegExp(`^${key}:\\s*['"]?([A-Za-z][A-Za-z0-9_-]*)`, 'm').exec(text)?.[1] ?? basename(absFile, '.yaml');
}

/** A tuning file's name and projects, or its error project. */
async function tuningFile(root: string, file: string, executor: string, scanner: CodeInputScanner): Promise<{ name: string; projects: Projects }> {
  try {
    const config = await loadTuneConfig({ root, presets: DEFAULT_PRESETS }, join(root, file));
    return { name: config.name, projects: tuneProjects(config, executor, scanner) };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const name = fallbackName(join(root, file), 'tune');
    return { name, projects: tuneErrorProjects(name, file, e.message, executor) };
  }
}

export const createNodesV2: CreateNodesV2 = [
  EXPERIMENT_FILES,
  async (files, _options, context) => {
    const root = context.workspaceRoot;
    const executor = `./${relative(root, __dirname)}`;
    const scanner = new CodeInputScanner(root);
    const byName = new Map<string, string>();
    const results: [string, { projects: Projects }][] = [];
    const tuneNames = new Map<string, string>();
    for (const file of files) {
      if (isTuningFile(file)) {
        const { name, projects } = await tuningFile(root, file, executor, scanner);
        const clash = tuneNames.get(name);
        tuneNames.set(name, clash ?? file);
        const message = `${file}: tuning name "${name}" is already used by ${clash}; tuning names must be unique`;
        results.push([file, { projects: clash ? tuneErrorProjects(name, file, message, executor) : projects }]);
        continue;
      }
      const abs = join(root, file);
      let projects: Projects;
      let name: string;
      try {
        const exp = await loadExperiment({ root, presets: DEFAULT_PRESETS }, abs);
        name = exp.name;
        projects = experimentProjects(exp, executor, scanner);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        name = fallbackName(abs, 'experiment');
        projects = errorProjects(name, file, e.message, executor);
      }
      const clash = byName.get(name);
      if (clash) {
        const message = `${file}: experiment name "${name}" is already used by ${clash}; experiment names must be unique`;
        results.push([file, { projects: errorProjects(name, file, message, executor) }]);
        continue;
      }
      byName.set(name, file);
      results.push([file, { projects }]);
    }
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

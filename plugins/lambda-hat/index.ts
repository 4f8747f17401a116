/**
 * The lambda-hat Nx plugin: experiment files → projects and dependencies. Everything Nx-specific
 * lives in this folder; what tasks do lives in rules/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { CreateDependencies, CreateNodesV2, DependencyType, RawProjectGraphDependency } from '@nx/devkit';
import { ConfigError, DEFAULT_PRESETS, loadExperiment } from '../../rules/experiment';
import { CodeInputScanner } from './src/code-inputs';
import { errorProjects, experimentProjects, LambdaHatMetadata, Projects } from './src/graph';

/** The default experiment and any further ones under config/experiments/. */
export const EXPERIMENT_FILES = '{config/experiments.yaml,config/experiments/*.yaml}';

/** A best-effort name for an experiment file that failed to load. */
function fallbackName(absFile: string): string {
  const text = existsSync(absFile) ? readFileSync(absFile, 'utf8') : '';
  return /^experiment:\s*['"]?([A-Za-z][A-Za-z0-9_-]*)/m.exec(text)?.[1] ?? basename(absFile, '.yaml');
}

export const createNodesV2: CreateNodesV2 = [
  EXPERIMENT_FILES,
  async (files, _options, context) => {
    const root = context.workspaceRoot;
    const executor = `./${relative(root, __dirname)}`;
    const scanner = new CodeInputScanner(root);
    const byName = new Map<string, string>();
    const results: [string, { projects: Projects }][] = [];
    for (const file of files) {
      const abs = join(root, file);
      let projects: Projects;
      let name: string;
      try {
        const exp = await loadExperiment({ root, presets: DEFAULT_PRESETS }, abs);
        name = exp.name;
        projects = experimentProjects(exp, executor, scanner);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        name = fallbackName(abs);
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

/** Nx 22 reads createNodesV2 and Nx 24 reads createNodes; both get the same function. */
export const createNodes = createNodesV2;

export const createDependencies: CreateDependencies = (_options, context) => {
  const edges: RawProjectGraphDependency[] = [];
  for (const [name, project] of Object.entries(context.projects)) {
    const meta = (project.metadata as { lambdaHat?: LambdaHatMetadata } | undefined)?.lambdaHat;
    for (const target of meta?.dependsOn ?? []) edges.push({ source: name, target, type: DependencyType.implicit });
  }
  return edges;
};

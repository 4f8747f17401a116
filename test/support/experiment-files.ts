/**
 * Experiment files written inline for config tests: a compact way to write one, and the problems
 * an invalid one is rejected with.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadExperiment, Workspace } from '../../rules/experiment';

export const TARGET = '{ model: small, data: small, seed: 1 }';
export const SAMPLER = '{ name: sgld }';

/** An experiment file: `head`, the targets from line 3, then `samplers:` and the samplers. */
export const experimentFile = (targets: string[], samplers: string[] = [SAMPLER], head = 'experiment: t') =>
  `${head}\ntargets:\n${targets.map((t) => `  - ${t}`).join('\n')}\nsamplers:\n${samplers.map((s) => `  - ${s}`).join('\n')}\n`;

/** The problems reported for `yaml`, written as exp.yaml in `ws.root`; throws if the file is accepted. */
export async function experimentProblems(ws: Workspace, yaml: string): Promise<string[]> {
  const file = join(ws.root, 'exp.yaml');
  writeFileSync(file, yaml);
  try {
    await loadExperiment(ws, file);
  } catch (e) {
    if (e instanceof ConfigError) return e.message.split('\n');
    throw e;
  }
  throw new Error('the experiment file was accepted');
}

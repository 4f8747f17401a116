/**
 * A scratch root holding one experiment file beside the repository's presets, with its targets
 * trained by the real build-target rule: for tests that call the rules directly, without Nx.
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTargetRule } from '../../rules/build-target';
import { DEFAULT_PRESETS, Experiment, loadExperiment } from '../../rules/experiment';
import type { RunTiming } from '../../packages/llc/src/run-artifact';
import { REPO } from './workspace';

export interface TrainedExperiment {
  root: string;
  exp: Experiment;
  dispose(): void;
}

export async function trainedExperiment(name: string, yaml: string): Promise<TrainedExperiment> {
  const root = mkdtempSync(join(tmpdir(), `lh-${name}-`));
  symlinkSync(join(REPO, 'config'), join(root, 'config'));
  writeFileSync(join(root, 'exp.yaml'), yaml);
  const exp = await loadExperiment({ root, presets: DEFAULT_PRESETS }, join(root, 'exp.yaml'));
  for (const target of exp.targets) await buildTargetRule.run(target, { root, log: () => {} });
  return { root, exp, dispose: () => rmSync(root, { recursive: true, force: true }) };
}

/** Environment variables a test file sets for the rules it calls in-process, restored afterwards. */
export function scopedEnv(names: string[]): { set(values: Record<string, string>): void; restore(): void } {
  const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
  return {
    set: (values) => Object.assign(process.env, values),
    restore() {
      for (const name of names) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    },
  };
}

/**
 * What of a run's folder the same config, seed and kernel must reproduce bit for bit: traces.arrow,
 * and analysis.json without its wall-clock `timing` entry (returned apart).
 */
export function reproducibleFiles(dir: string): { files: Map<string, Buffer>; timing: RunTiming } {
  const { timing, ...analysis } = JSON.parse(readFileSync(join(dir, 'analysis.json'), 'utf8'));
  const files = new Map([
    ['analysis.json', Buffer.from(JSON.stringify(analysis))],
    ['traces.arrow', readFileSync(join(dir, 'traces.arrow'))],
  ]);
  return { files, timing };
}

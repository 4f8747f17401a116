/**
 * Experiment files: targets × samplers (README, "The experiment file"). Loading one resolves every entry against the
 * presets under `config/`, validates every key strictly, and gives each target and run its content
 * id (README, "Ids and caching"). Problems are collected across the whole file and reported together.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { contentId } from '../../packages/llc/src/canonical';
import {
  BuildSpec,
  DataConfig,
  ModelConfig,
  resolveData,
  resolveModel,
  resolveTeacher,
  resolveTraining,
  TeacherConfig,
  TrainingConfig,
} from '../../packages/llc/src/config';
import { PosteriorConfig, PosteriorSpec, resolvePosterior } from '../../packages/llc/src/posterior';
import { isSamplerName, loadSampler, SAMPLER_NAMES, SamplerName } from '../../packages/llc/src/samplers';
import { collect, ConfigError, Problem, problemAt, suggestion, validate } from './problems';
import { loadYaml, merge, Sourced } from './source';

export { ConfigError } from './problems';

export interface TargetSpec {
  id: string;
  build: BuildSpec;
}

export interface RunSpec {
  id: string;
  target: string;
  sampler: SamplerName;
  seed: number;
  /** The sampler's options, every key validated. */
  options: Record<string, unknown>;
  posterior: PosteriorSpec;
}

export interface Experiment {
  name: string;
  /** Workspace-relative path of the experiment file. */
  file: string;
  targets: TargetSpec[];
  runs: RunSpec[];
}

const presetName = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'a preset name (letters, digits, _ . -)');
const mapping = z.record(z.string(), z.unknown());

const TargetEntry = z.strictObject({
  model: presetName,
  data: presetName,
  teacher: presetName.default('_null'),
  training: presetName.default('default'),
  seed: z.int().min(0),
  overrides: mapping.optional(),
});

const SamplerEntry = z.strictObject({
  name: z.string(),
  seed: z.int().min(0).default(12345),
  posterior: mapping.optional(),
  overrides: mapping.optional(),
});

const ExperimentFile = z.strictObject({
  experiment: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'an experiment name (a letter, then letters, digits, _ -)'),
  description: z.string().optional(),
  targets: z.array(z.unknown()).min(1),
  samplers: z.array(z.unknown()).min(1),
});

/** The keys a target's `overrides` may hold, and the schema of the merged result. */
const TargetConfig = z
  .strictObject({ model: ModelConfig, data: DataConfig, teacher: TeacherConfig, training: TrainingConfig })
  .superRefine((c, ctx) => {
    if (c.training.loss === 't_regression' && !(c.data.noise_scale > 0))
      ctx.addIssue({ code: 'custom', path: ['data', 'noise_scale'], message: 'must be > 0 when training.loss is t_regression (it is the Student-t scale)' });
  });

export interface Workspace {
  /** Absolute path of the workspace root. */
  root: string;
  /** Preset directory, relative to the root. */
  presets: string;
}

export const DEFAULT_PRESETS = 'config';

function presetNames(ws: Workspace, kind: string): string[] {
  const dir = join(ws.root, ws.presets, kind);
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => f.slice(0, -5))
        .sort()
    : [];
}

/** A preset file, mounted at `mountAt` in the config being built. */
function loadPreset(ws: Workspace, kind: string, name: string, ref: Sourced, mountAt: string[]): Sourced {
  const rel = join(ws.presets, kind, `${name}.yaml`);
  if (!existsSync(join(ws.root, rel))) {
    const available = presetNames(ws, kind);
    throw new ConfigError([
      { origin: ref.originOf([]), message: `unknown ${kind} preset "${name}"${suggestion(name, available)} (available: ${available.join(', ')}; looked for ${rel})` },
    ]);
  }
  const preset = loadYaml(join(ws.root, rel), rel);
  return (preset.value === null ? Sourced.of({}, preset.originOf([])) : preset).mountAt(mountAt);
}

/** A target entry (`{model, data, teacher, training, seed, overrides}`) resolved against the presets. */
export function resolveTarget(ws: Workspace, entry: Sourced): TargetSpec {
  const e = validate(TargetEntry, entry, 'a target entry');
  const problems: Problem[] = [];
  let config = Sourced.of({}, entry.originOf([]));
  for (const kind of ['model', 'data', 'teacher', 'training'] as const) {
    const preset = collect(problems, () => loadPreset(ws, kind, e[kind], entry.at([kind]), [kind]));
    if (preset) config = merge(config, preset);
  }
  if (problems.length) throw new ConfigError(problems);
  if (e.overrides) config = merge(config, entry.at(['overrides']));
  const c = validate(TargetConfig, config, 'a target config');
  const model = resolveModel(c.model);
  const build: BuildSpec = {
    seed: e.seed,
    model,
    teacher: resolveTeacher(c.teacher, c.model, model),
    data: resolveData(c.data, c.training.loss),
    training: resolveTraining(c.training),
  };
  return { id: contentId('tgt', build), build };
}

export interface SamplerSetting {
  sampler: SamplerName;
  seed: number;
  options: Record<string, unknown>;
  posterior: PosteriorSpec;
}

/** A sampler entry (`{name, seed, posterior, overrides}`) resolved against the presets. */
export async function resolveSampler(ws: Workspace, entry: Sourced): Promise<SamplerSetting> {
  const e = validate(SamplerEntry, entry, 'a sampler entry');
  if (!isSamplerName(e.name)) {
    const known = [...SAMPLER_NAMES].sort();
    throw new ConfigError([
      problemAt(entry.originOf(['name']), [], `unknown sampler "${e.name}"${suggestion(e.name, known)} (available: ${known.join(', ')})`),
    ]);
  }
  const problems: Problem[] = [];
  const sampler = await loadSampler(e.name);
  const options = collect(problems, () => {
    let src = loadPreset(ws, 'sampler', e.name, entry.at(['name']), []);
    if (e.overrides) src = merge(src, entry.at(['overrides']));
    return validate(sampler.options, src, `${e.name} options`) as Record<string, unknown>;
  });
  const posterior = collect(problems, () => {
    let src = loadPreset(ws, 'posterior', 'default', entry, []);
    if (e.posterior) src = merge(src, entry.at(['posterior']));
    return resolvePosterior(validate(PosteriorConfig, src, 'the posterior config'));
  });
  if (problems.length || !options || !posterior) throw new ConfigError(problems);
  return { sampler: e.name, seed: e.seed, options, posterior };
}

export function runId(target: string, s: SamplerSetting): string {
  return contentId(s.sampler, { target, sampler: s.sampler, seed: s.seed, options: s.options, posterior: s.posterior });
}

/** Loads, validates and resolves an experiment file. Throws ConfigError listing every problem. */
export async function loadExperiment(ws: Workspace, absFile: string): Promise<Experiment> {
  const file = relative(ws.root, absFile);
  const doc = loadYaml(absFile, file);
  const top = validate(ExperimentFile, doc, 'an experiment file');
  const problems: Problem[] = [];

  const targets: TargetSpec[] = [];
  const targetIndex = new Map<string, number>();
  top.targets.forEach((_, i) => {
    const entry = doc.at(['targets', i]);
    const t = collect(problems, () => resolveTarget(ws, entry));
    if (!t) return;
    const first = targetIndex.get(t.id);
    if (first !== undefined) {
      problems.push({ origin: entry.originOf([]), message: `duplicate target: resolves to the same config as targets[${first}] (${t.id})` });
      return;
    }
    targetIndex.set(t.id, i);
    targets.push(t);
  });

  const settings: SamplerSetting[] = [];
  const samplerIndex = new Map<string, number>();
  for (let i = 0; i < top.samplers.length; i++) {
    const entry = doc.at(['samplers', i]);
    let s: SamplerSetting | undefined;
    try {
      s = await resolveSampler(ws, entry);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
      continue;
    }
    const key = runId('', s);
    const first = samplerIndex.get(key);
    if (first !== undefined) {
      problems.push({ origin: entry.originOf([]), message: `duplicate sampler: resolves to the same settings as samplers[${first}]` });
      continue;
    }
    samplerIndex.set(key, i);
    settings.push(s);
  }
  if (problems.length) throw new ConfigError(problems);

  const runs: RunSpec[] = targets.flatMap((t) => settings.map((s) => ({ id: runId(t.id, s), target: t.id, ...s })));
  return { name: top.experiment, file, targets, runs };
}

/**
 * Experiment files: targets × samplers (README, "The experiment file"). Loading one expands swept
 * entries (sweep.ts), resolves every entry against the presets under `config/`, validates every key
 * strictly, and gives each target and run its content id (docs/caching.md, "Ids"). Problems are
 * collected across the whole file and reported together.
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
import type { SamplerModule } from '../../packages/llc/src/samplers/types';
import { formatBytes, formatCount, MAX_ARRAY_ELEMENTS, MAX_STATE_BYTES } from '../../packages/llc/src/limits';
import { layout } from '../../packages/llc/src/mlp';
import { nameProblem } from './names';
import { collect, ConfigError, Origin, Problem, problemAt, suggestion, validate } from './problems';
import { loadYaml, merge, Sourced } from './source';
import { EntryKind, expandEntry, ExpandedEntry } from './sweep';

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
  /** The file's `description:`, for the report. */
  description?: string;
  targets: TargetSpec[];
  runs: RunSpec[];
  /**
   * Every target's and every run's label, by id (a run has its sampler entry's label). Kept out of
   * the specs because a spec is a task's cache key, and renaming an entry must not rerun it.
   */
  labels: Record<string, string>;
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

const TARGET_KIND: EntryKind = {
  what: 'target',
  keys: Object.keys(TargetEntry.shape),
  mappings: ['overrides'],
  unsweepable: {},
  defaultLabel: (e) => `${e.model}/${e.data}`,
};

const SAMPLER_KIND: EntryKind = {
  what: 'sampler',
  keys: Object.keys(SamplerEntry.shape),
  mappings: ['posterior', 'overrides'],
  unsweepable: { name: 'write one entry per sampler' },
  defaultLabel: (e) => String(e.name),
};

const ExperimentFile = z.strictObject({
  experiment: z.string().superRefine((name, ctx) => {
    const problem = nameProblem(name, 'experiment');
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
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

/**
 * The preset files (and sampler modules) of one load, each read and parsed once: every entry names
 * its presets, and a sweep of 100,000 sampler settings named the same two files 100,000 times,
 * reading and parsing them each time (most of its validation). A file's content, or the
 * ConfigError it gave, is kept for the load only, so an edit between two loads (`lambda-hat
 * watch`) is always seen.
 */
export class Presets {
  private readonly files = new Map<string, Sourced | ConfigError | undefined>();
  private readonly names = new Map<string, string[]>();
  private readonly samplers = new Map<SamplerName, Promise<SamplerModule>>();

  constructor(readonly ws: Workspace) {}

  /** A sampler's module, for its options' schema: finding its file is a file-system lookup, once per load. */
  sampler(name: SamplerName): Promise<SamplerModule> {
    if (!this.samplers.has(name)) this.samplers.set(name, loadSampler(name));
    return this.samplers.get(name)!;
  }

  /**
   * The preset `name` of `kind`, mounted at `mountAt` in the config being built; `ref` is where the
   * entry names it. Its file is added to `used`, so problems found in it can name that place.
   */
  load(kind: string, name: string, ref: Sourced, mountAt: string[], used: Map<string, Origin>): Sourced {
    const rel = join(this.ws.presets, kind, `${name}.yaml`);
    if (!this.files.has(rel)) {
      const abs = join(this.ws.root, rel);
      let file: Sourced | ConfigError | undefined;
      try {
        file = existsSync(abs) ? loadYaml(abs, rel) : undefined;
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        file = e;
      }
      this.files.set(rel, file);
    }
    const file = this.files.get(rel);
    if (file === undefined) {
      if (!this.names.has(kind)) this.names.set(kind, presetNames(this.ws, kind));
      const available = this.names.get(kind)!;
      throw new ConfigError([
        { origin: ref.originOf([]), message: `unknown ${kind} preset "${name}"${suggestion(name, available)} (available: ${available.join(', ')}; looked for ${rel})` },
      ]);
    }
    used.set(rel, ref.originOf([]));
    if (file instanceof ConfigError) throw file;
    return (file.value === null ? Sourced.of({}, file.originOf([])) : file).mountAt(mountAt);
  }
}

/**
 * `e` with every problem found in a preset file the entry uses (`used`: file → where the entry
 * names it) given that place, so the message says which entry brought the preset in.
 */
function viaPresets(e: unknown, used: Map<string, Origin>): unknown {
  if (!(e instanceof ConfigError)) return e;
  return new ConfigError(
    e.problems.map((p) => {
      const ref = used.get(p.origin.file);
      return ref ? { ...p, origin: { ...p.origin, via: [ref] } } : p;
    }),
  );
}

/** A target entry (`{model, data, teacher, training, seed, overrides}`) resolved against the presets. */
export function resolveTarget(ws: Workspace, entry: Sourced, presets = new Presets(ws)): TargetSpec {
  const used = new Map<string, Origin>();
  try {
    const e = validate(TargetEntry, entry, 'a target entry');
    const problems: Problem[] = [];
    let config = Sourced.of({}, entry.originOf([]));
    for (const kind of ['model', 'data', 'teacher', 'training'] as const) {
      const preset = collect(problems, () => presets.load(kind, e[kind], entry.at([kind]), [kind], used));
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
  } catch (e) {
    throw viaPresets(e, used);
  }
}

export interface SamplerSetting {
  sampler: SamplerName;
  seed: number;
  options: Record<string, unknown>;
  posterior: PosteriorSpec;
}

/** A sampler entry (`{name, seed, posterior, overrides}`) resolved against the presets. */
export async function resolveSampler(ws: Workspace, entry: Sourced, presets = new Presets(ws)): Promise<SamplerSetting> {
  const used = new Map<string, Origin>();
  try {
    const e = validate(SamplerEntry, entry, 'a sampler entry');
    if (!isSamplerName(e.name)) {
      const known = [...SAMPLER_NAMES].sort();
      throw new ConfigError([
        problemAt(entry.originOf(['name']), [], `unknown sampler "${e.name}"${suggestion(e.name, known)} (available: ${known.join(', ')})`),
      ]);
    }
    const problems: Problem[] = [];
    const sampler = await presets.sampler(e.name);
    const options = collect(problems, () => {
      let src = presets.load('sampler', e.name, entry.at(['name']), [], used);
      if (e.overrides) src = merge(src, entry.at(['overrides']));
      return validate(sampler.options, src, `${e.name} options`) as Record<string, unknown>;
    });
    const posterior = collect(problems, () => {
      let src = presets.load('posterior', 'default', entry, [], used);
      if (e.posterior) src = merge(src, entry.at(['posterior']));
      return resolvePosterior(validate(PosteriorConfig, src, 'the posterior config'));
    });
    if (problems.length || !options || !posterior) throw new ConfigError(problems);
    return { sampler: e.name, seed: e.seed, options, posterior };
  } catch (e) {
    throw viaPresets(e, used);
  }
}

export function runId(target: string, s: SamplerSetting): string {
  return contentId(s.sampler, { target, sampler: s.sampler, seed: s.seed, options: s.options, posterior: s.posterior });
}

/** Which entry of the file an expanded entry came from, for messages that point back to it. */
interface EntrySite {
  index: number;
  swept: string;
}

/** `duplicate target: sweep element "seed=2" resolves to the same config as targets[0], sweep element "seed=1"` */
function duplicate(what: string, list: string, same: string, x: EntrySite, first: EntrySite): string {
  const self = x.swept ? `sweep element "${x.swept}" ` : '';
  const other = `${list}[${first.index}]${first.swept ? `, sweep element "${first.swept}"` : ''}`;
  return `duplicate ${what}: ${self}resolves to the same ${same} as ${other}`;
}

/** Loads, validates and resolves an experiment file. Throws ConfigError listing every problem. */
/**
 * Labels name entries for people (tables, the report, Nx tags), so two entries never share one:
 * where several do (two `sgld` entries, two `small/small` targets), each gets `#1`, `#2`, … in file
 * order.
 */
function distinguish(keys: string[], labels: Record<string, string>): void {
  const count = new Map<string, number>();
  for (const k of keys) count.set(labels[k], (count.get(labels[k]) ?? 0) + 1);
  const seen = new Map<string, number>();
  for (const k of keys) {
    const label = labels[k];
    if (count.get(label)! < 2) continue;
    const n = (seen.get(label) ?? 0) + 1;
    seen.set(label, n);
    labels[k] = `${label}#${n}`;
  }
}

export async function loadExperiment(ws: Workspace, absFile: string): Promise<Experiment> {
  const file = relative(ws.root, absFile);
  const doc = loadYaml(absFile, file);
  const presets = new Presets(ws);
  const top = validate(ExperimentFile, doc, 'an experiment file');
  const problems: Problem[] = [];
  const labels: Record<string, string> = {};
  const expand = (list: string, i: number, kind: EntryKind): (ExpandedEntry & EntrySite)[] =>
    expandEntry(doc.at([list, i]), kind, problems).map((x) => ({ ...x, index: i }));

  const targets: TargetSpec[] = [];
  const targetSites = new Map<string, EntrySite>();
  for (const x of top.targets.flatMap((_, i) => expand('targets', i, TARGET_KIND))) {
    const t = collect(problems, () => resolveTarget(ws, x.entry, presets));
    if (!t) continue;
    const first = targetSites.get(t.id);
    if (first) {
      problems.push({ origin: x.entry.originOf([]), message: `${duplicate('target', 'targets', 'config', x, first)} (${t.id})` });
      continue;
    }
    targetSites.set(t.id, x);
    targets.push(t);
    labels[t.id] = x.label;
  }
  distinguish(targets.map((t) => t.id), labels);

  const settings: { setting: SamplerSetting; label: string }[] = [];
  const samplerSites = new Map<string, EntrySite>();
  for (const x of top.samplers.flatMap((_, i) => expand('samplers', i, SAMPLER_KIND))) {
    let s: SamplerSetting | undefined;
    try {
      s = await resolveSampler(ws, x.entry, presets);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
      continue;
    }
    const key = runId('', s);
    const first = samplerSites.get(key);
    if (first) {
      problems.push({ origin: x.entry.originOf([]), message: duplicate('sampler', 'samplers', 'settings', x, first) });
      continue;
    }
    samplerSites.set(key, x);
    settings.push({ setting: s, label: x.label });
  }
  if (problems.length) throw new ConfigError(problems);
  const entryLabels = Object.fromEntries(settings.map((s, i) => [i, s.label]));
  distinguish(Object.keys(entryLabels), entryLabels);
  settings.forEach((s, i) => (s.label = entryLabels[i]));

  // Every chain holds the parameters, in float64 while it samples: refuse what this machine cannot hold.
  for (const t of targets) {
    const d = layout(t.build.model).d;
    for (const { setting, label } of settings) {
      const chains = Number(setting.options.chains ?? 1);
      const bytes = d * chains * 8;
      if (d > MAX_ARRAY_ELEMENTS || bytes > MAX_STATE_BYTES)
        problems.push({
          origin: doc.originOf(['samplers']),
          message: `sampler ${label} on target ${labels[t.id]}: ${formatCount(d)} parameters × ${chains} chains × 8 bytes = ${formatBytes(bytes)}: expected at most ${formatBytes(MAX_STATE_BYTES)} (half of this machine's memory) and ${formatCount(MAX_ARRAY_ELEMENTS)} parameters; use a smaller model or fewer chains`,
        });
    }
  }
  if (problems.length) throw new ConfigError(problems);

  const runs: RunSpec[] = [];
  for (const t of targets) {
    for (const { setting, label } of settings) {
      const run = { id: runId(t.id, setting), target: t.id, ...setting };
      runs.push(run);
      labels[run.id] = label;
    }
  }
  return { name: top.experiment, file, ...(top.description !== undefined && { description: top.description }), targets, runs, labels };
}

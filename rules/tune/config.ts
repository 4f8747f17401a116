/**
 * Tuning files, `config/tune/*.yaml` (README, "Tuning"): which samplers' hyperparameters to search, on which
 * problems, against which HMC reference, with how many trials and how much time. Problems are
 * written as experiment targets and methods as experiment sampler entries, resolved against the
 * same presets; every key is validated as strictly as an experiment file, problems are collected
 * across the whole file, and `--set key=value` edits apply before validation.
 */
import { relative } from 'node:path';
import { z } from 'zod';
import { contentId } from '../../packages/llc/src/canonical';
import type { PosteriorSpec } from '../../packages/llc/src/posterior';
import { isSamplerName, loadSampler, SAMPLER_NAMES, SamplerName } from '../../packages/llc/src/samplers';
import { ObjectiveConfig } from '../../packages/llc/src/tune/objective';
import { PrunerConfig } from '../../packages/llc/src/tune/pruner';
import { Distribution, SearchSpace } from '../../packages/llc/src/tune/space';
import { SamplerConfig } from '../../packages/llc/src/tune/tpe';
import { Presets, resolveSampler, resolveTarget, RunSpec, runId, TargetSpec, Workspace } from '../experiment';
import { nameProblem } from '../experiment/names';
import { collect, ConfigError, Problem, problemAt, suggestion, validate } from '../experiment/problems';
import { fromAssignment, loadYaml, merge, Sourced } from '../experiment/source';

/** One sampler under tuning: its options with the searched ones still at their preset values, and the search space. */
export interface TuneMethod {
  sampler: SamplerName;
  /** The entry's overrides of the preset (fixed for every trial). */
  overrides: Record<string, unknown>;
  /** The preset merged with the overrides: what every trial starts from. */
  options: Record<string, unknown>;
  space: SearchSpace;
  /**
   * Every trial's sampler seed (the entry's `seed`, default as in experiments): common random
   * numbers, so trials differ only in their parameters, and an experiment entry made from the best
   * parameters reproduces that trial's λ̂.
   */
  seed: number;
}

export interface TuneConfig {
  name: string;
  /** Workspace-relative path of the tuning file. */
  file: string;
  description?: string;
  problems: TargetSpec[];
  methods: TuneMethod[];
  /** The posterior every reference and trial samples. */
  posterior: PosteriorSpec;
  /** The file's `posterior` mapping as written, for experiment entries made from the results. */
  posterior_overrides?: Record<string, unknown>;
  /** The HMC reference run per problem, in problem order: an ordinary run, shared with experiments. */
  references: RunSpec[];
  objective: ObjectiveConfig;
  max_trials_per_method: number;
  batch_size: number;
  sampler: SamplerConfig;
  pruner: PrunerConfig;
  budget: { hmc_sec: number; trial_sec: number };
  /**
   * Content id of what the study's trials mean: problems, methods and spaces, posterior, references,
   * objective, sampler, pruner and trial_sec. Not max_trials_per_method, batch_size or hmc_sec, so
   * raising the trial count extends a study rather than starting another.
   */
  study: string;
}

const mapping = z.record(z.string(), z.unknown());

const TuneFile = z.strictObject({
  tune: z.string().superRefine((name, ctx) => {
    const problem = nameProblem(name, 'tuning');
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  description: z.string().optional(),
  problems: z.array(z.unknown()).min(1),
  methods: z.array(z.unknown()).min(1),
  search_space: z.record(z.string(), z.record(z.string(), z.unknown())),
  posterior: mapping.optional(),
  reference: z.strictObject({ seed: z.int().min(0).optional(), overrides: mapping.optional() }).optional(),
  objective: ObjectiveConfig.default({ type: 'abs' }),
  max_trials_per_method: z.int().min(1),
  batch_size: z.int().min(1).default(4),
  sampler: SamplerConfig.default({ type: 'tpe', seed: 0, n_startup_trials: 10, n_ei_candidates: 24 }),
  pruner: PrunerConfig.default({ type: 'median', n_startup_trials: 5, n_warmup_steps: 0 }),
  budget: z.strictObject({ hmc_sec: z.number().positive().default(7200), trial_sec: z.number().positive().default(600) }).default({ hmc_sec: 7200, trial_sec: 600 }),
});

const MethodEntry = z.strictObject({ name: z.string(), seed: z.int().min(0).optional(), overrides: mapping.optional() });

/** The keys a sampler's (strict object) option schema accepts. */
function optionKeys(schema: z.ZodType): string[] {
  return Object.keys((schema as unknown as { _zod: { def: { shape: Record<string, unknown> } } })._zod.def.shape).sort();
}

/**
 * What values an option takes, as a search space must match it: `int` (an integer option: an int
 * range or choices), `float` (an int or float range, or choices), `other` (strings, booleans:
 * choices only). Found by offering the option's schema 1.5: an integer option refuses it as not an
 * int, a non-numeric one as not its type.
 */
function optionKind(schema: z.ZodType): 'int' | 'float' | 'other' {
  const issues = schema.safeParse(1.5).error?.issues ?? [];
  if (issues.some((i) => i.code === 'invalid_type' && (i as { expected?: string }).expected === 'int')) return 'int';
  if (issues.some((i) => i.code === 'invalid_type' || i.code === 'invalid_value' || i.code === 'invalid_union')) return 'other';
  return 'float';
}

/** The schema of one option of a sampler's (strict object) option schema. */
function optionSchema(schema: z.ZodType, key: string): z.ZodType {
  return (schema as unknown as { _zod: { def: { shape: Record<string, z.ZodType> } } })._zod.def.shape[key];
}

/** `entry` with the file's `posterior` mapping mounted into it, keeping both origins. */
function withPosterior(entry: Sourced, doc: Sourced, hasPosterior: boolean): Sourced {
  return hasPosterior ? merge(entry, doc.at(['posterior']).mountAt(['posterior'])) : entry;
}

interface ResolvedMethod extends TuneMethod {
  posterior: PosteriorSpec;
}

async function resolveMethod(ws: Workspace, presets: Presets, doc: Sourced, i: number, hasPosterior: boolean, spaces: Record<string, Record<string, unknown>>): Promise<ResolvedMethod> {
  let entry = doc.at(['methods', i]);
  // `- sgld` is short for `- { name: sgld }`.
  if (typeof entry.value === 'string') entry = Sourced.of({ name: entry.value }, entry.originOf([]));
  const e = validate(MethodEntry, entry, 'a method entry');
  if (!isSamplerName(e.name)) {
    const known = [...SAMPLER_NAMES].sort();
    throw new ConfigError([problemAt(entry.originOf(['name']), [], `unknown sampler "${e.name}"${suggestion(e.name, known)} (available: ${known.join(', ')})`)]);
  }
  const setting = await resolveSampler(ws, withPosterior(entry, doc, hasPosterior), presets);
  if (!(e.name in spaces)) {
    throw new ConfigError([problemAt(doc.originOf(['search_space']), [], `missing search space for method "${e.name}" (methods[${i}]): add search_space.${e.name}`)]);
  }
  const space = await resolveSpace(doc, e.name, Object.keys(e.overrides ?? {}), i, setting.options);
  return { sampler: e.name, overrides: e.overrides ?? {}, options: setting.options, space, seed: setting.seed, posterior: setting.posterior };
}

/**
 * A method's search space: each distribution valid, each parameter an option of the sampler and
 * not also fixed in the method's overrides, and every value the distribution can produce at its
 * ends (or every choice) a valid value of that option.
 */
async function resolveSpace(doc: Sourced, method: SamplerName, fixed: string[], methodIndex: number, options: Record<string, unknown>): Promise<SearchSpace> {
  const sampler = await loadSampler(method);
  const allowed = optionKeys(sampler.options);
  const src = doc.at(['search_space', method]);
  const entries = Object.keys(src.value as Record<string, unknown>);
  const problems: Problem[] = [];
  if (entries.length === 0) problems.push(problemAt(src.originOf([]), [], `the search space of ${method} is empty: name at least one option to search`));
  const space: SearchSpace = {};
  for (const param of entries) {
    const at = src.at([param]);
    if (!allowed.includes(param)) {
      problems.push(problemAt(at.originOf([]), [], `unknown ${method} option "${param}"${suggestion(param, allowed)} (options: ${allowed.join(', ')})`));
      continue;
    }
    if (fixed.includes(param)) {
      problems.push(problemAt(at.originOf([]), [], `${param} is also fixed in methods[${methodIndex}].overrides; remove it from one of them`));
      continue;
    }
    const d = collect(problems, () => validate(Distribution, at, 'a search-space distribution'));
    if (!d) continue;
    // Both ends of a range can be valid while every value between them is not (a float range on an integer option).
    const kind = optionKind(optionSchema(sampler.options, param));
    if (kind === 'int' && d.type === 'float') {
      problems.push(problemAt(at.originOf(['type']), [], `${method} ${param} is an integer option: expected { type: int, low, high, step } or { type: categorical, choices }, got a float range (its trials would get non-integer values)`));
      continue;
    }
    if (kind === 'other' && d.type !== 'categorical') {
      problems.push(problemAt(at.originOf(['type']), [], `${method} ${param} is not a numeric option: expected { type: categorical, choices: [...] }, got a${d.type === 'int' ? 'n int' : ' float'} range`));
      continue;
    }
    const ends: [unknown, (string | number)[]][] =
      d.type === 'categorical' ? d.choices.map((c, j) => [c, ['choices', j]]) : [[d.low, ['low']], [d.high, ['high']]];
    for (const [value, path] of ends) {
      const parsed = sampler.options.safeParse({ ...options, [param]: value });
      if (!parsed.success) {
        const issue = parsed.error.issues.find((x) => x.path[0] === param) ?? parsed.error.issues[0];
        problems.push(problemAt(at.originOf(path), [], `${JSON.stringify(value)} is not a valid ${method} ${param}: ${issue.message}`));
      }
    }
    space[param] = d;
  }
  if (problems.length) throw new ConfigError(problems);
  return space;
}

/** Reads a tuning file, applies `--set` edits, and resolves and validates it. Throws ConfigError listing every problem. */
export async function loadTuneConfig(ws: Workspace, absFile: string, sets: string[] = []): Promise<TuneConfig> {
  const file = relative(ws.root, absFile);
  let doc = loadYaml(absFile, file);
  for (const s of sets) doc = merge(doc, fromAssignment(s));
  const top = validate(TuneFile, doc, 'a tuning file');
  const problems: Problem[] = [];
  const presets = new Presets(ws);

  const targets: TargetSpec[] = [];
  top.problems.forEach((_, i) => {
    const entry = doc.at(['problems', i]);
    const t = collect(problems, () => resolveTarget(ws, entry, presets));
    if (!t) return;
    const first = targets.findIndex((x) => x.id === t.id);
    if (first >= 0) problems.push({ origin: entry.originOf([]), message: `duplicate problem: resolves to the same target as problems[${first}] (${t.id})` });
    else targets.push(t);
  });

  const hasPosterior = top.posterior !== undefined;
  const methods: ResolvedMethod[] = [];
  for (let i = 0; i < top.methods.length; i++) {
    let m: ResolvedMethod | undefined;
    try {
      m = await resolveMethod(ws, presets, doc, i, hasPosterior, top.search_space);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
      continue;
    }
    const first = methods.findIndex((x) => x.sampler === m!.sampler);
    if (first >= 0) problems.push(problemAt(doc.originOf(['methods', i]), [], `duplicate method: ${m.sampler} is already methods[${first}]`));
    else methods.push(m);
  }
  const named = new Set(top.methods.map((m) => (typeof m === 'string' ? m : (m as { name?: unknown })?.name)));
  for (const method of Object.keys(top.search_space)) {
    if (!named.has(method)) problems.push(problemAt(doc.originOf(['search_space', method]), [], `search space for "${method}", which is not in methods`));
  }

  let reference: Awaited<ReturnType<typeof resolveSampler>> | undefined;
  try {
    const base = Sourced.of({ name: 'hmc' }, doc.originOf(['reference']));
    const entry = top.reference ? merge(base, doc.at(['reference'])) : base;
    reference = await resolveSampler(ws, withPosterior(entry, doc, hasPosterior), presets);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (problems.length || !reference) throw new ConfigError(problems);

  const references = targets.map((t) => ({ id: runId(t.id, reference!), target: t.id, ...reference! }));
  const posterior = reference.posterior;
  const study = contentId('study', {
    problems: targets.map((t) => t.id),
    methods: methods.map(({ sampler, options, space, seed }) => ({ sampler, options, space, seed })),
    posterior,
    references: references.map((r) => r.id),
    objective: top.objective,
    sampler: top.sampler,
    pruner: top.pruner,
    trial_sec: top.budget.trial_sec,
  });
  return {
    name: top.tune,
    file,
    ...(top.description !== undefined && { description: top.description }),
    problems: targets,
    methods: methods.map(({ posterior: _, ...m }) => m),
    posterior,
    ...(top.posterior !== undefined && { posterior_overrides: top.posterior }),
    references,
    objective: top.objective,
    max_trials_per_method: top.max_trials_per_method,
    batch_size: top.batch_size,
    sampler: top.sampler,
    pruner: top.pruner,
    budget: top.budget,
    study,
  };
}

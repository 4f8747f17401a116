/**
 * Configuration errors as values a user can act on: each names the file, the YAML path inside it,
 * the line and column, and what was expected. Validation collects every problem it finds rather
 * than stopping at the first.
 */
import type { z } from 'zod';
import type { Sourced } from './source';

export type Path = (string | number)[];

export interface Origin {
  file: string;
  path: Path;
  line: number;
  col: number;
  /**
   * For a place in a preset file: the places in the file being loaded that use the preset (an
   * entry's `model: small`, `name: sgld`), so a problem found there says which entries it reaches.
   */
  via?: Origin[];
}

export interface Problem {
  origin: Origin;
  message: string;
}

export class ConfigError extends Error {
  readonly problems: Problem[];

  /**
   * Identical problems are listed once: the same mistake is met once per entry that shares it (a
   * swept entry's every element, a tuning file's posterior under every method, a preset that many
   * entries use, whose problem then lists every entry that uses it).
   */
  constructor(problems: Problem[]) {
    const unique = new Map<string, { problem: Problem; via: Map<string, Origin> }>();
    for (const p of problems) {
      const { via, ...origin } = p.origin;
      const key = JSON.stringify({ origin, message: p.message });
      let u = unique.get(key);
      if (!u) unique.set(key, (u = { problem: { origin, message: p.message }, via: new Map() }));
      for (const v of via ?? []) u.via.set(JSON.stringify(v), v);
    }
    const merged = [...unique.values()].map(({ problem, via }) => (via.size ? { ...problem, origin: { ...problem.origin, via: [...via.values()] } } : problem));
    // No stack: a ConfigError is reported as its problems, never with a stack trace, and validation
    // throws and collects one per broken entry, where capturing stacks took half the time of
    // refusing a file of 50,000 entries.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(sortProblems(merged).map(formatProblem).join('\n'));
    Error.stackTraceLimit = stackTraceLimit;
    this.name = 'ConfigError';
    this.problems = merged;
  }
}

/**
 * Code-point order, not localeCompare: the order only has to be stable, and ICU's collation costs
 * about 1 µs a comparison, 0.1 s of refusing a file with 50,000 problems.
 */
const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const compareOrigins = (a: Origin, b: Origin) => compareText(a.file, b.file) || a.line - b.line || a.col - b.col;
const sortOrigins = (origins: Origin[]) => [...origins].sort(compareOrigins);

function sortProblems(problems: Problem[]): Problem[] {
  return [...problems].sort((a, b) => compareOrigins(a.origin, b.origin) || compareText(a.message, b.message));
}

/** `targets[1].overrides.training.steps` */
export function renderPath(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/**
 * Control characters (and the Unicode line separators) written as escapes: a problem is one line
 * that starts with its file, whatever a key, a sampler name or a value quoted in it holds (a raw
 * newline would start a line naming no file, an escape sequence would reach the terminal).
 */
const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const escapeControls = (s: string) => s.replace(/[\p{Cc}\u2028\u2029]/gu, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** `exp.yaml:5:5: samplers[0].name`; line 0 marks an origin that is not a file (a command-line option): it has no position. */
function formatPlace(o: Origin): string {
  const where = o.line > 0 ? `${o.file}:${o.line}:${o.col}` : o.file;
  return o.path.length > 0 ? `${where}: ${renderPath(o.path)}` : where;
}

/**
 * One line: the place, the message, and for a place in a preset the first place that uses it
 * (`(a preset, used at exp.yaml:5:5: samplers[0].name and 3 other places)`).
 */
export function formatProblem(p: Problem): string {
  const via = p.origin.via ?? [];
  const used = via.length ? ` (a preset, used at ${formatPlace(sortOrigins(via)[0])}${via.length > 1 ? ` and ${via.length - 1} other place${via.length > 2 ? 's' : ''}` : ''})` : '';
  return escapeControls(`${formatPlace(p.origin)}: ${p.message}${used}`);
}

/** Runs `fn`, turning a thrown ConfigError into collected problems. */
export function collect<T>(problems: Problem[], fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ConfigError) {
      problems.push(...e.problems);
      return undefined;
    }
    throw e;
  }
}

/** A problem located at `path` below the node whose origin is `origin`. */
export function problemAt(origin: Origin, path: Path, message: string): Problem {
  return { origin: { ...origin, path: [...origin.path, ...path] }, message };
}

/** Optimal string alignment distance: edits and adjacent transpositions ("sgdl" → "sgld" is 1). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** `; did you mean "steps"?` when one allowed name is close to what was written. */
export function suggestion(written: string, allowed: readonly string[]): string {
  // The distance is at least the difference in length, so when that alone puts every allowed name
  // out of reach there is nothing to suggest: skip the quadratic work (a 600,000-character key took seconds).
  const threshold = (a: string) => Math.max(1, Math.floor(a.length / 3));
  if (!allowed.some((a) => Math.abs(written.length - a.length) <= threshold(a))) return '';
  let best = '';
  let bestDistance = Infinity;
  for (const a of allowed) {
    const dist = editDistance(written.toLowerCase(), a.toLowerCase());
    if (dist < bestDistance) [best, bestDistance] = [a, dist];
  }
  return bestDistance <= threshold(best) ? `; did you mean "${best}"?` : '';
}

/** A value in the words of a message: `the string "rms"`, `a list`. */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `the integer ${v}` : `the number ${v}`;
  return `${typeof v} ${String(v)}`;
}

/** zod's type names in the words of YAML. */
const TYPE_WORDS: Record<string, string> = {
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  null: 'null',
};

/**
 * The schema that validates the value at `path`, found by walking the schema's definition; a
 * union resolves to the member whose literal keys (a discriminator) match the value there.
 */
function schemaAt(schema: z.ZodType, path: Path, value: unknown): any {
  let s: any = schema;
  let v: any = value;
  const unwrap = () => {
    for (;;) {
      const def = s?._zod?.def;
      if (!def) return;
      if (['optional', 'nullable', 'default', 'prefault', 'readonly', 'nonoptional', 'catch'].includes(def.type)) s = def.innerType;
      else if (def.type === 'pipe') s = def.in;
      else if (def.type === 'union') s = def.options.find((o: any) => matchesLiterals(o, v)) ?? def.options[0];
      else return;
    }
  };
  unwrap();
  for (const p of path) {
    v = v !== null && typeof v === 'object' ? v[p] : undefined;
    const def = s?._zod?.def;
    if (def?.type === 'object') s = def.shape[p];
    else if (def?.type === 'array') s = def.element;
    else if (def?.type === 'record') s = def.valueType;
    else return undefined;
    unwrap();
  }
  return s;
}

/** Whether every literal-typed key of an object schema holds that literal in `value`. */
function matchesLiterals(option: any, value: any): boolean {
  const shape = option?._zod?.def?.shape;
  if (!shape || value === null || typeof value !== 'object') return false;
  return Object.entries(shape).every(([k, field]: [string, any]) => field?._zod?.def?.type !== 'literal' || field._zod.def.values.includes(value[k]));
}

function allowedKeys(schema: z.ZodType, path: Path, value: unknown): string[] {
  const def = schemaAt(schema, path, value)?._zod?.def;
  return def?.type === 'object' ? Object.keys(def.shape).sort() : [];
}

/** What a type error should say was expected: zod reports integers as numbers. */
function expectedType(schema: z.ZodType, path: Path, value: unknown, expected: string): string {
  const format = schemaAt(schema, path, value)?._zod?.def?.format;
  if (expected === 'number' && (format === 'safeint' || format === 'int32')) return TYPE_WORDS.int;
  return TYPE_WORDS[expected] ?? expected;
}

function valueAt(value: unknown, path: Path): unknown {
  let v = value;
  for (const p of path) v = v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[p] : undefined;
  return v;
}

function bound(prefix: string, issue: { minimum?: unknown; maximum?: unknown; inclusive?: boolean; origin?: string }): string {
  const limit = Number(issue.minimum ?? issue.maximum);
  if (issue.origin === 'array') return `must have ${prefix === '>' ? 'at least' : 'at most'} ${limit} entr${limit === 1 ? 'y' : 'ies'}`;
  if (issue.origin === 'string') return `must be ${prefix === '>' ? 'at least' : 'at most'} ${limit} characters long`;
  return `must be ${prefix}${issue.inclusive ? '=' : ''} ${limit}`;
}

/**
 * Validates `src.value` with `schema`. On failure, every zod issue becomes a Problem located
 * through the origin map; on success the parsed value is returned.
 */
export function validate<S extends z.ZodType>(schema: S, src: Sourced, what: string): z.infer<S> {
  const result = schema.safeParse(src.value);
  if (result.success) return result.data;
  const problems: Problem[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path as Path;
    // A missing key has no origin of its own: it is reported at the nearest node that exists.
    const at = (p: Path, message: string) => problems.push({ origin: src.originOf(p), message });
    switch (issue.code) {
      case 'unrecognized_keys': {
        const allowed = allowedKeys(schema, path, src.value);
        for (const key of issue.keys) {
          at([...path, key], `unknown key "${key}" in ${what}${suggestion(key, allowed)} (allowed: ${allowed.join(', ')})`);
        }
        break;
      }
      case 'invalid_type': {
        const value = valueAt(src.value, path);
        if (value === undefined && path.length > 0) at(path, `missing required key "${path[path.length - 1]}" in ${what}`);
        else at(path, `expected ${expectedType(schema, path, src.value, issue.expected)}, got ${describe(value)}`);
        break;
      }
      case 'invalid_value': {
        const value = valueAt(src.value, path);
        const options = issue.values.map(String);
        // Missing from a preset (or an entry): the place reported is the mapping, so name the key.
        if (value === undefined && path.length > 0) at(path, `missing required key "${path[path.length - 1]}" in ${what} (one of ${options.join(', ')})`);
        else at(path, `expected one of ${options.join(', ')}, got ${describe(value)}${suggestion(String(value), options)}`);
        break;
      }
      case 'invalid_union': {
        // A discriminated union whose discriminator (`type: …`) matches no member.
        const options = (issue as { options?: unknown[] }).options;
        if (options?.length) {
          const value = valueAt(src.value, path);
          const allowed = options.map(String);
          at(path, value === undefined ? `missing required key "${path[path.length - 1]}" (one of ${allowed.join(', ')})` : `expected one of ${allowed.join(', ')}, got ${describe(value)}${suggestion(String(value), allowed)}`);
        } else at(path, issue.message);
        break;
      }
      case 'too_small':
        at(path, `${bound('>', issue)}, got ${describe(valueAt(src.value, path))}`);
        break;
      case 'too_big':
        at(path, `${bound('<', issue)}, got ${describe(valueAt(src.value, path))}`);
        break;
      case 'invalid_format':
        at(path, `${describe(valueAt(src.value, path))} is not allowed here: ${issue.message}`);
        break;
      default:
        at(path, issue.message);
    }
  }
  throw new ConfigError(problems);
}

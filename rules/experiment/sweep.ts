/**
 * `sweep:` and `label:` on experiment entries (README, "The experiment file"). A swept entry stands
 * for the Cartesian product of its swept values; each element is the entry as if written by hand
 * with those values in place, so it resolves, validates and gets its content id exactly as that
 * entry would. Each swept value keeps its own origin, so a value the resolver rejects is reported
 * at its place in the sweep. Labels name entries for people only: they never enter a spec, so they
 * never change a cache key.
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { collect, describe, Problem, renderPath, suggestion, validate } from './problems';
import { merge, refusedKey, Sourced } from './source';

/** The most entries one swept entry may stand for: a slip in a range should not become a million tasks. */
export const MAX_SWEEP = 100_000;

/** What the expansion needs to know about one kind of entry (target or sampler). */
export interface EntryKind {
  /** How messages name the entry: `target`, `sampler`. */
  what: string;
  /** The keys the entry's resolver accepts. */
  keys: readonly string[];
  /** Those of `keys` that hold a mapping, so a sweep may reach inside them. */
  mappings: readonly string[];
  /** Keys that cannot be swept, with what to do instead. */
  unsweepable: Readonly<Record<string, string>>;
  /** The label of an entry that has no `label:`, from the entry as written. */
  defaultLabel(entry: Record<string, unknown>): string;
}

export interface ExpandedEntry {
  /** The entry as its resolver takes it: swept values in place, `sweep` and `label` removed. */
  entry: Sourced;
  label: string;
  /** This element's swept values, `seed=3 overrides.step_size=0.0001`; empty for an entry without a sweep. */
  swept: string;
}

const Range = z.strictObject({ from: z.int(), to: z.int(), step: z.int().min(1).default(1) });

interface Axis {
  key: string;
  path: string[];
  count: number;
  value(i: number): Sourced;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The entries one experiment entry stands for, in product order (the first swept key varies
 * slowest). Problems are added to `problems`; an entry whose sweep is broken stands for none, as
 * its entries are unknown. Unknown keys are reported here, where `sweep` and `label` are known keys,
 * and left out of what the resolver sees so that it does not report them again.
 */
export function expandEntry(entry: Sourced, kind: EntryKind, problems: Problem[]): ExpandedEntry[] {
  const written = entry.value;
  // Not a mapping: the resolver says what it is.
  if (!isPlainObject(written)) return [{ entry, label: '', swept: '' }];

  const allowed = [...kind.keys, 'label', 'sweep'].sort();
  const unknown = Object.keys(written).filter((k) => !allowed.includes(k));
  for (const k of unknown) {
    problems.push({ origin: entry.originOf([k]), message: `unknown key "${k}" in a ${kind.what} entry${suggestion(k, allowed)} (allowed: ${allowed.join(', ')})` });
  }

  let label = kind.defaultLabel(written);
  if ('label' in written) {
    if (typeof written.label === 'string' && written.label.trim() !== '') label = written.label;
    else problems.push({ origin: entry.originOf(['label']), message: `expected a non-empty string, got ${describe(written.label)}` });
  }

  const base = entry.without(['label', 'sweep', ...unknown]);
  if (!('sweep' in written)) return [{ entry: base, label, swept: '' }];
  const axes = sweepAxes(entry, kind, problems);
  if (!axes) return [];

  const total = axes.reduce((n, a) => n * BigInt(a.count), 1n);
  if (total > BigInt(MAX_SWEEP)) {
    problems.push({ origin: entry.originOf(['sweep']), message: `the sweep expands to ${total} entries, more than the ${MAX_SWEEP} allowed: split it into several entries or sweep fewer values` });
    return [];
  }
  const expanded: ExpandedEntry[] = [];
  for (let n = 0; n < Number(total); n++) {
    const picks: number[] = [];
    for (let a = axes.length - 1, rest = n; a >= 0; a--) {
      picks[a] = rest % axes[a].count;
      rest = Math.floor(rest / axes[a].count);
    }
    let e = base;
    const parts: string[] = [];
    axes.forEach((axis, a) => {
      const value = axis.value(picks[a]);
      e = merge(e, value.mountAt(axis.path));
      parts.push(`${axis.key}=${compact(value.value)}`);
    });
    const swept = parts.join(' ');
    expanded.push({ entry: e, label: `${label} ${swept}`, swept });
  }
  return expanded;
}

/** The entry's sweep, one axis per swept key; undefined, with the problems added, when any key is unusable. */
function sweepAxes(entry: Sourced, kind: EntryKind, problems: Problem[]): Axis[] | undefined {
  const sweep = entry.at(['sweep']);
  if (!isPlainObject(sweep.value)) {
    problems.push({ origin: sweep.originOf([]), message: `expected a mapping from paths in the entry to the values they take, got ${describe(sweep.value)}` });
    return undefined;
  }
  const keys = Object.keys(sweep.value);
  const before = problems.length;
  if (keys.length === 0) problems.push({ origin: sweep.originOf([]), message: 'an empty sweep: name at least one path to sweep, or remove sweep' });
  const sweepable = kind.keys.filter((k) => !(k in kind.unsweepable)).sort();
  const axes: Axis[] = [];
  for (const key of keys) {
    const at = sweep.at([key]);
    const bad = (message: string) => problems.push({ origin: at.originOf([]), message });
    const path = key.split('.');
    const [head] = path;
    // A swept path names keys as a file would, so the keys refused there are refused here.
    const refused = path.map(refusedKey).find((m) => m !== undefined);
    if (path.some((s) => s === '')) bad(`"${key}" is not a path: write keys joined by dots, e.g. overrides.step_size`);
    else if (refused) bad(refused);
    else if (head === 'label' || head === 'sweep') bad(`${head} cannot be swept: every expanded entry's label already names its swept values`);
    else if (head in kind.unsweepable) bad(`${head} cannot be swept: ${kind.unsweepable[head]}`);
    else if (!kind.keys.includes(head)) bad(`unknown key "${head}" in a ${kind.what} entry${suggestion(head, sweepable)} (can be swept: ${sweepable.join(', ')})`);
    else if (path.length > 1 && !kind.mappings.includes(head)) bad(`${head} holds a single value, not a mapping: sweep "${head}" itself`);
    else {
      const clash = writtenAlongside(entry, path);
      if (clash) bad(`${key} is both swept and written in the entry, at ${renderPath(clash.path)} (line ${clash.line}): keep one of them`);
      const axis = sweptValues(at, key, path, bad, problems);
      if (axis && !clash) axes.push(axis);
    }
  }
  // Two keys where one lies inside the other would set the same value twice.
  for (const [j, b] of axes.entries()) {
    const a = axes.slice(0, j).find((a) => a.path.every((s, i) => b.path[i] === s) || b.path.every((s, i) => a.path[i] === s));
    if (a) problems.push({ origin: sweep.originOf([b.key]), message: `${b.key} overlaps ${a.key}, which is also swept: sweep one of them` });
  }
  return problems.length > before ? undefined : axes;
}

/** Where the entry itself already writes the swept path, a value inside it, or a non-mapping above it. */
function writtenAlongside(entry: Sourced, path: string[]) {
  let v: unknown = entry.value;
  for (let n = 1; n <= path.length; n++) {
    v = (v as Record<string, unknown>)[path[n - 1]];
    if (v === undefined) return undefined;
    if (n === path.length || !isPlainObject(v)) return entry.originOf(path.slice(0, n));
  }
  return undefined;
}

/** The values one swept key takes: a non-empty list, or an integer range `{ from, to, step }`. */
function sweptValues(at: Sourced, key: string, path: string[], bad: (m: string) => void, problems: Problem[]): Axis | undefined {
  const v = at.value;
  if (Array.isArray(v)) {
    if (v.length === 0) bad('an empty list: give at least one value');
    else return { key, path, count: v.length, value: (i) => at.at([i]) };
  } else if (isPlainObject(v)) {
    const r = collect(problems, () => validate(Range, at, 'a sweep range'));
    if (!r) return undefined;
    if (r.from > r.to) bad(`the range is empty: from (${r.from}) is greater than to (${r.to})`);
    else return { key, path, count: Math.floor((r.to - r.from) / r.step) + 1, value: (i) => Sourced.of(r.from + i * r.step, at.originOf([])) };
  } else bad(`expected a non-empty list of values or a range { from, to, step }, got ${describe(v)}`);
  return undefined;
}

/**
 * A swept value as a label shows it: compact JSON, with strings that YAML reads back unchanged left
 * bare, so a label reads like the flow YAML it was written in (`activation=tanh`, `widths=[4,4]`).
 */
function compact(v: unknown): string {
  if (typeof v === 'string') return /^[A-Za-z_][\w.-]*$/.test(v) && parseYaml(v) === v ? v : JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(compact).join(',')}]`;
  if (isPlainObject(v)) return `{${Object.entries(v).map(([k, x]) => `${compact(k)}:${compact(x)}`).join(',')}}`;
  return String(v);
}

/**
 * YAML values that remember where every part came from. A resolved config is merged from several
 * files (presets, then an experiment's overrides); when validation fails at some config path, the
 * origin map names the file, the YAML path inside it and the line, so the user can fix it at once.
 * Every config object built from YAML (files and `--set` values) is built here, so the rules on
 * what YAML may hold live here: no keys JavaScript treats specially, aliases resolved with a cap.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { formatBytes, MAX_CONFIG_BYTES } from '../../packages/llc/src/limits';
import { Alias, isAlias, isMap, isScalar, isSeq, LineCounter, Node, parseDocument } from 'yaml';
import { ConfigError, Origin, Path, Problem } from './problems';

const pathKey = (p: Path) => JSON.stringify(p);
/** Keys of paths strictly below `path` start with this text. */
const belowPrefix = (path: Path) => (path.length === 0 ? '[' : pathKey(path).slice(0, -1) + ',');
const atOrBelow = (key: string, path: Path) => key === pathKey(path) || key.startsWith(belowPrefix(path));

/**
 * Mapping keys refused everywhere a config is read. JavaScript gives them a meaning of their own:
 * assigning `__proto__` replaces an object's prototype instead of adding a key, so the setting
 * silently vanishes (or, worse, reads through as an inherited default), and `constructor` and
 * `prototype` name the machinery of every object. No setting is called any of them.
 */
export const REFUSED_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

/**
 * The problem with `key` as a mapping key, or undefined when it is fine: the single check for every
 * key that reaches a config object (YAML files, `--set` paths and values, swept paths, merges).
 */
export function refusedKey(key: string | number): string | undefined {
  if (typeof key !== 'string' || !REFUSED_KEYS.includes(key)) return undefined;
  return `"${key}" cannot be a key: expected a setting name (${REFUSED_KEYS.join(', ')} are refused in every mapping, as JavaScript objects treat them specially)`;
}

export class Sourced {
  constructor(
    readonly value: unknown,
    /** Origins keyed by config path (JSON of the path array), for every node that has one. */
    readonly origins: ReadonlyMap<string, Origin>,
  ) {}

  /** The origin of `path`, or of its nearest ancestor that has one. */
  originOf(path: Path): Origin {
    for (let n = path.length; n >= 0; n--) {
      const o = this.origins.get(pathKey(path.slice(0, n)));
      if (o) return o;
    }
    throw new Error(`no origin recorded for ${pathKey(path)}`);
  }

  /** The value at `path`, with origins re-keyed relative to it. */
  at(path: Path): Sourced {
    let v: unknown = this.value;
    for (const p of path) v = v === null || typeof v !== 'object' ? undefined : (v as Record<string | number, unknown>)[p];
    const origins = new Map<string, Origin>([['[]', this.originOf(path)]]);
    for (const [k, o] of this.origins) if (k !== pathKey(path) && atOrBelow(k, path)) origins.set('[' + k.slice(belowPrefix(path).length), o);
    return new Sourced(v, origins);
  }

  /** This value placed at `path` inside otherwise empty mappings. */
  mountAt(path: Path): Sourced {
    let v: unknown = this.value;
    for (let i = path.length - 1; i >= 0; i--) v = { [path[i]]: v };
    const root = this.originOf([]);
    const origins = new Map<string, Origin>();
    for (let n = 0; n <= path.length; n++) origins.set(pathKey(path.slice(0, n)), root);
    for (const [k, o] of this.origins) if (k !== '[]') origins.set(belowPrefix(path) + k.slice(1), o);
    return new Sourced(v, origins);
  }

  /** This mapping without `keys` and the origins recorded below them. */
  without(keys: readonly string[]): Sourced {
    const value = { ...(this.value as Record<string, unknown>) };
    for (const k of keys) delete value[k];
    const origins = new Map([...this.origins].filter(([k]) => !keys.some((key) => atOrBelow(k, [key]))));
    return new Sourced(value, origins);
  }

  /** A plain value with a single origin. */
  static of(value: unknown, origin: Origin): Sourced {
    return new Sourced(value, new Map([['[]', origin]]));
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Recursive merge: mappings merge key by key; anything else in `over` replaces what `base` had,
 * together with the origins of the replaced subtree. A mapping present in both keeps the base's
 * origin, so a key missing from it is reported where the full mapping is written (the preset).
 */
export function merge(base: Sourced, over: Sourced): Sourced {
  const origins = new Map(base.origins);
  const mergeAt = (b: unknown, o: unknown, path: Path): unknown => {
    if (isPlainObject(b) && isPlainObject(o)) {
      const out: Record<string, unknown> = { ...b };
      for (const [k, v] of Object.entries(o)) {
        // `out[k] = …` with k = "__proto__" would drop the key. Values read from YAML never hold
        // one (loadYaml refuses them); this catches one built some other way.
        const refused = refusedKey(k);
        if (refused) throw new ConfigError([{ origin: over.originOf([...path, k]), message: refused }]);
        out[k] = mergeAt(Object.hasOwn(b, k) ? b[k] : undefined, v, [...path, k]);
      }
      return out;
    }
    for (const k of [...origins.keys()]) if (atOrBelow(k, path)) origins.delete(k);
    for (const [k, origin] of over.origins) if (atOrBelow(k, path)) origins.set(k, origin);
    return o;
  };
  const value = mergeAt(base.value, over.value, []);
  return new Sourced(value, origins);
}

/**
 * The most values that aliases may stand for in one YAML text, counted as expanded. Anchors and
 * aliases let a short text stand for an exponentially large value (nine levels of ten aliases
 * each are a billion values: the "billion laughs"); any real config stays far below this.
 */
export const MAX_ALIASED_VALUES = 100_000;

/** Parses one YAML file into a Sourced value. Syntax errors become a ConfigError with positions. */
export function loadYaml(absPath: string, displayPath: string): Sourced {
  if (!existsSync(absPath)) {
    throw new ConfigError([{ origin: { file: displayPath, path: [], line: 1, col: 1 }, message: 'file not found' }]);
  }
  const notReadable = notARegularFile(absPath);
  if (notReadable) throw new ConfigError([{ origin: { file: displayPath, path: [], line: 1, col: 1 }, message: notReadable }]);
  return parseYamlText(readFileSync(absPath, 'utf8'), { file: displayPath, path: [], positions: true });
}

/**
 * Why the file at `path` is not one to read as a config, or undefined when it is: a directory
 * would fail with EISDIR, a FIFO would block forever, a device such as /dev/zero would grow
 * memory without end, and no config comes near MAX_CONFIG_BYTES. Checked before reading.
 */
export function notARegularFile(path: string): string | undefined {
  const st = statSync(path);
  if (st.isDirectory()) return 'is a directory: expected a YAML file';
  if (!st.isFile()) return `is not a regular file (${st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'a special file'}): expected a YAML file`;
  if (st.size > MAX_CONFIG_BYTES) return `is ${formatBytes(st.size)}: expected a config file of at most ${formatBytes(MAX_CONFIG_BYTES)}`;
  return undefined;
}

/** Thrown out of the walk of a YAML text when its aliases expand past MAX_ALIASED_VALUES, at the alias being expanded. */
class TooManyAliasedValues extends Error {
  constructor(readonly origin: Origin) {
    super(`more than ${MAX_ALIASED_VALUES} aliased values`);
  }
}

/** Where a YAML text sits, for its origins. */
interface YamlPlace {
  /** The file, or the command-line assignment, that holds the text. */
  file: string;
  /** The config path of the text's root: [] for a file, the assigned path for `--set`. */
  path: Path;
  /** Whether origins carry the text's lines and columns; a `--set` value has none (line 0). */
  positions: boolean;
}

/**
 * The one way from YAML text to config objects, for files and `--set` values alike: records every
 * node's origin, refuses the keys JavaScript objects treat specially (REFUSED_KEYS), and resolves
 * aliases to the values of their anchors, up to MAX_ALIASED_VALUES.
 */
function parseYamlText(text: string, place: YamlPlace): Sourced {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  const originAt = (pos: { line: number; col: number }, path: Path): Origin => ({
    file: place.file,
    path: [...place.path, ...path],
    ...(place.positions ? { line: pos.line, col: pos.col } : { line: 0, col: 0 }),
  });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({
        origin: originAt(lineCounter.linePos(e.pos[0]), []),
        message: `YAML syntax error: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
    );
  }
  const origins = new Map<string, Origin>();
  const problems: Problem[] = [];
  const posOf = (node: { range?: [number, number, number] | null } | null | undefined) => (node?.range ? lineCounter.linePos(node.range[0]) : { line: 1, col: 1 });
  // Alias.resolve searches the whole document; a bomb resolves the same few aliases again and again.
  const anchored = new Map<Alias, Node | undefined>();
  const resolve = (alias: Alias) => {
    if (!anchored.has(alias)) anchored.set(alias, alias.resolve(doc) as Node | undefined);
    return anchored.get(alias);
  };
  /** Collections being walked, to catch an alias inside its own anchor (it would never end). */
  const open = new Set<Node>();
  let aliasedValues = 0;

  /**
   * `via`: the origin of the alias this node is reached through, if any. Every part of an
   * aliased value takes the alias's position (where `key: *name` is written), not the anchor's: a
   * problem is one with the value where it is used (the same anchor may be fine at one place and
   * wrong at another), the YAML path in the message is that place, and so the line shown is that
   * path's line.
   */
  const walk = (node: Node | null, path: Path, keyNode: Node | undefined, via: Origin | undefined): unknown => {
    const pos = via ?? posOf(keyNode ?? node);
    origins.set(pathKey(path), originAt(pos, path));
    // Reported at the alias that was being expanded: the deep place where the count ran out means nothing.
    if (via && ++aliasedValues > MAX_ALIASED_VALUES) throw new TooManyAliasedValues(via);
    if (isAlias(node)) {
      const target = resolve(node);
      if (!target) {
        problems.push({ origin: originAt(pos, path), message: `unknown alias *${node.source}: expected an anchor &${node.source} before it` });
        return null;
      }
      if (open.has(target)) {
        problems.push({ origin: originAt(pos, path), message: `the alias *${node.source} is inside the value its anchor &${node.source} names, so that value would never end` });
        return null;
      }
      return walk(target, path, undefined, via ?? originAt(pos, path));
    }
    if (isMap(node)) {
      open.add(node);
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const keyPos = via ?? posOf(pair.key as Node);
        const keyNode = isAlias(pair.key) ? resolve(pair.key) : (pair.key as Node);
        if (!keyNode) {
          problems.push({ origin: originAt(keyPos, path), message: `unknown alias *${(pair.key as Alias).source}: expected an anchor &${(pair.key as Alias).source} before it` });
          continue;
        }
        const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
        const refused = refusedKey(key);
        if (refused) problems.push({ origin: originAt(keyPos, [...path, key]), message: refused });
        else out[key] = walk(pair.value as Node | null, [...path, key], pair.key as Node, via);
      }
      open.delete(node);
      return out;
    }
    if (isSeq(node)) {
      open.add(node);
      const out = node.items.map((item, i) => walk(item as Node, [...path, i], undefined, via));
      open.delete(node);
      return out;
    }
    if (isScalar(node)) return node.value;
    return node === null ? null : (node as Node).toJSON();
  };
  let value: unknown;
  try {
    value = doc.contents ? walk(doc.contents as Node, [], undefined, undefined) : null;
  } catch (e) {
    if (!(e instanceof TooManyAliasedValues)) throw e;
    throw new ConfigError([
      { origin: e.origin, message: `the aliases expand to more than ${MAX_ALIASED_VALUES} values (refused as an alias bomb): expected anchors that share settings, not aliases of aliases that multiply` },
    ]);
  }
  if (problems.length) throw new ConfigError(problems);
  origins.set('[]', originAt({ line: 1, col: 1 }, []));
  return new Sourced(value, origins);
}

/**
 * An assignment `a.b=value` (dotted mapping keys, a YAML value) from a command-line `--set` (or
 * the variable named by `from`) as a Sourced mapping {a: {b: value}} whose origin is the
 * assignment itself, ready to merge over a loaded file.
 */
export function fromAssignment(assignment: string, from = '--set'): Sourced {
  const file = `${from} ${assignment}`;
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new ConfigError([{ origin: { file, path: [], line: 0, col: 0 }, message: 'expected key=value' }]);
  const path = assignment.slice(0, eq).split('.');
  const refused = path.flatMap((key, n) => {
    const message = refusedKey(key);
    return message ? [{ origin: { file, path: path.slice(0, n + 1), line: 0, col: 0 }, message }] : [];
  });
  if (refused.length) throw new ConfigError(refused);
  // The value is YAML read the way a file is: the same keys refused, the same aliases resolved.
  return parseYamlText(assignment.slice(eq + 1), { file, path, positions: false }).mountAt(path);
}

/**
 * YAML values that remember where every part came from. A resolved config is merged from several
 * files (presets, then an experiment's overrides); when validation fails at some config path, the
 * origin map names the file, the YAML path inside it and the line, so the user can fix it at once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, Node, parseDocument, parse as parseYaml } from 'yaml';
import { ConfigError, Origin, Path } from './problems';

const pathKey = (p: Path) => JSON.stringify(p);
/** Keys of paths strictly below `path` start with this text. */
const belowPrefix = (path: Path) => (path.length === 0 ? '[' : pathKey(path).slice(0, -1) + ',');
const atOrBelow = (key: string, path: Path) => key === pathKey(path) || key.startsWith(belowPrefix(path));

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
      for (const [k, v] of Object.entries(o)) out[k] = mergeAt(b[k], v, [...path, k]);
      return out;
    }
    for (const k of [...origins.keys()]) if (atOrBelow(k, path)) origins.delete(k);
    for (const [k, origin] of over.origins) if (atOrBelow(k, path)) origins.set(k, origin);
    return o;
  };
  const value = mergeAt(base.value, over.value, []);
  return new Sourced(value, origins);
}

/** Parses one YAML file into a Sourced value. Syntax errors become a ConfigError with positions. */
export function loadYaml(absPath: string, displayPath: string): Sourced {
  if (!existsSync(absPath)) {
    throw new ConfigError([{ origin: { file: displayPath, path: [], line: 1, col: 1 }, message: 'file not found' }]);
  }
  const text = readFileSync(absPath, 'utf8');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({
        origin: { file: displayPath, path: [], ...lineCounter.linePos(e.pos[0]) },
        message: `YAML syntax error: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
    );
  }
  const origins = new Map<string, Origin>();
  const at = (node: { range?: [number, number, number] | null } | null | undefined, path: Path): Origin => {
    const pos = node?.range ? lineCounter.linePos(node.range[0]) : { line: 1, col: 1 };
    return { file: displayPath, path, line: pos.line, col: pos.col };
  };
  const walk = (node: Node | null, path: Path, keyNode?: Node): unknown => {
    origins.set(pathKey(path), at(keyNode ?? node, path));
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        out[key] = walk(pair.value as Node | null, [...path, key], pair.key as Node);
      }
      return out;
    }
    if (isSeq(node)) return node.items.map((item, i) => walk(item as Node, [...path, i]));
    if (isScalar(node)) return node.value;
    return node === null ? null : (node as Node).toJSON();
  };
  const value = doc.contents ? walk(doc.contents as Node, []) : null;
  origins.set('[]', { file: displayPath, path: [], line: 1, col: 1 });
  return new Sourced(value, origins);
}

/**
 * An assignment `a.b=value` (dotted mapping keys, a YAML value) from a command-line `--set` (or
 * the variable named by `from`) as a Sourced mapping {a: {b: value}} whose origin is the
 * assignment itself, ready to merge over a loaded file.
 */
export function fromAssignment(assignment: string, from = '--set'): Sourced {
  const origin = { file: `${from} ${assignment}`, path: [], line: 0, col: 0 };
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new ConfigError([{ origin, message: 'expected key=value' }]);
  const path = assignment.slice(0, eq).split('.');
  let value: unknown;
  try {
    value = parseYaml(assignment.slice(eq + 1));
  } catch (e) {
    throw new ConfigError([{ origin, message: `the value is not valid YAML: ${(e as Error).message.split('\n')[0]}` }]);
  }
  return Sourced.of(value, { ...origin, path }).mountAt(path);
}

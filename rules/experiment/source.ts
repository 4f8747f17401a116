/**
 * YAML values that remember where every part came from. A resolved config is merged from several
 * files (presets, then an experiment's overrides); when validation fails at some config path, the
 * origin map names the file, the YAML path inside it and the line, so the user can fix it at once.
 * Every config object built from YAML (files and `--set` values) is built here, so the rules on
 * what YAML may hold live here: files in UTF-8, no keys JavaScript treats specially, aliases
 * resolved with a cap, no tags beyond the core schema's.
 */
import { isUtf8 } from 'node:buffer';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { formatBytes, MAX_CONFIG_BYTES } from '../../packages/llc/src/limits';
import { Alias, isAlias, isMap, isScalar, isSeq, LineCounter, Node, parseDocument } from 'yaml';
import { ConfigError, Origin, Path, Problem } from './problems';

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

/**
 * The origins of a value and of its parts, shaped like the value: `origin` is where this node was
 * written (absent for a node that only leads to written ones), `children` the same for its keys or
 * indices. A tree rather than a flat map of paths, so that taking the part of a value at a path
 * (an entry of a 100,000-entry list) costs the depth of the path, not a scan of every origin in
 * the file. Trees are shared between Sourced values and never changed once built.
 */
interface OriginTree {
  readonly origin?: Origin;
  readonly children?: ReadonlyMap<string | number, OriginTree>;
}

/** The subtree at `path`, or undefined where the tree has no node. */
function subtree(tree: OriginTree, path: Path): OriginTree | undefined {
  let t: OriginTree | undefined = tree;
  for (const p of path) t = t?.children?.get(p);
  return t;
}

export class Sourced {
  private constructor(
    readonly value: unknown,
    /** Origins of the value's parts; the root always has one. */
    readonly origins: OriginTree,
  ) {}

  /** The origin of `path`, or of its nearest ancestor that has one. */
  originOf(path: Path): Origin {
    let t: OriginTree | undefined = this.origins;
    let found = t.origin;
    for (const p of path) {
      t = t.children?.get(p);
      if (!t) break;
      if (t.origin) found = t.origin;
    }
    if (!found) throw new Error(`no origin recorded for ${JSON.stringify(path)}`);
    return found;
  }

  /** The value at `path`, with origins re-keyed relative to it. */
  at(path: Path): Sourced {
    let v: unknown = this.value;
    for (const p of path) v = v === null || typeof v !== 'object' ? undefined : (v as Record<string | number, unknown>)[p];
    return new Sourced(v, { origin: this.originOf(path), children: subtree(this.origins, path)?.children });
  }

  /** This value placed at `path` inside otherwise empty mappings. */
  mountAt(path: Path): Sourced {
    let v: unknown = this.value;
    const root = this.originOf([]);
    let tree: OriginTree = { origin: root, children: this.origins.children };
    for (let i = path.length - 1; i >= 0; i--) {
      v = { [path[i]]: v };
      tree = { origin: root, children: new Map([[path[i], tree]]) };
    }
    return new Sourced(v, tree);
  }

  /** This mapping without `keys` and the origins recorded below them. */
  without(keys: readonly string[]): Sourced {
    const value = { ...(this.value as Record<string, unknown>) };
    for (const k of keys) delete value[k];
    const children = new Map(this.origins.children);
    for (const k of keys) children.delete(k);
    return new Sourced(value, { origin: this.origins.origin, children });
  }

  /** A plain value with a single origin. */
  static of(value: unknown, origin: Origin): Sourced {
    return new Sourced(value, { origin });
  }

  /** A value with the origins of its parts (parseYamlText, merge); the root must have one. */
  static withOrigins(value: unknown, tree: OriginTree): Sourced {
    if (!tree.origin) throw new Error('a Sourced value needs the origin of its root');
    return new Sourced(value, tree);
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Recursive merge: mappings merge key by key; anything else in `over` replaces what `base` had,
 * together with the origins of the replaced subtree. A mapping present in both keeps the base's
 * origin, so a key missing from it is reported where the full mapping is written (the preset).
 * Only the mappings along merged keys are copied; every other subtree is shared.
 */
export function merge(base: Sourced, over: Sourced): Sourced {
  const mergeAt = (b: unknown, o: unknown, bt: OriginTree | undefined, ot: OriginTree | undefined, path: Path): [unknown, OriginTree | undefined] => {
    if (!(isPlainObject(b) && isPlainObject(o))) return [o, ot];
    const out: Record<string, unknown> = { ...b };
    const children = new Map(bt?.children);
    for (const [k, v] of Object.entries(o)) {
      // `out[k] = …` with k = "__proto__" would drop the key. Values read from YAML never hold
      // one (loadYaml refuses them); this catches one built some other way.
      const refused = refusedKey(k);
      if (refused) throw new ConfigError([{ origin: over.originOf([...path, k]), message: refused }]);
      const [value, tree] = mergeAt(Object.hasOwn(b, k) ? b[k] : undefined, v, bt?.children?.get(k), ot?.children?.get(k), [...path, k]);
      out[k] = value;
      if (tree) children.set(k, tree);
      else children.delete(k);
    }
    return [out, { origin: bt?.origin, children }];
  };
  const [value, tree] = mergeAt(base.value, over.value, base.origins, over.origins, []);
  return Sourced.withOrigins(value, tree!);
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
  return parseYamlText(utf8Text(readFileSync(absPath), displayPath), { file: displayPath, path: [], positions: true });
}

/**
 * The bytes of a config file as text, refused unless they are UTF-8: decoding would silently turn
 * each invalid byte (a file saved as Latin-1, a stray binary byte) into U+FFFD, so a value or key
 * would differ from what the file holds without a word.
 */
function utf8Text(bytes: Buffer, file: string): string {
  if (isUtf8(bytes)) return bytes.toString('utf8');
  const at = invalidUtf8At(bytes);
  const lineStart = bytes.lastIndexOf(0x0a, at - 1) + 1;
  let line = 1;
  for (let i = bytes.indexOf(0x0a); i !== -1 && i < at; i = bytes.indexOf(0x0a, i + 1)) line++;
  // Columns count characters, as YAML positions do; the bytes before `at` are valid UTF-8.
  const col = bytes.subarray(lineStart, at).toString('utf8').length + 1;
  throw new ConfigError([
    {
      origin: { file, path: [], line, col },
      message: `invalid UTF-8 at byte offset ${at} (byte 0x${bytes[at].toString(16).padStart(2, '0')}): expected a text file in UTF-8 (was it saved in another encoding, such as Latin-1?)`,
    },
  ]);
}

/** The offset of the first byte that does not belong to a well-formed UTF-8 sequence (RFC 3629), or -1. */
export function invalidUtf8At(b: Uint8Array): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    // Continuation bytes after the lead byte: C0, C1 and F5–FF never lead (overlong or beyond U+10FFFF).
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (n === 0 || i + n >= b.length) return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      if ((b[i + k] & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (b[i + k] & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
    if ((n === 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n === 3 && (cp < 0x10000 || cp > 0x10ffff))) return i;
    i += n + 1;
  }
  return -1;
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
 * node's origin, refuses the keys JavaScript objects treat specially (REFUSED_KEYS) and tags other
 * than the core schema's (CORE_TAGS), and resolves aliases to the values of their anchors, up to
 * MAX_ALIASED_VALUES.
 */
function parseYamlText(text: string, place: YamlPlace): Sourced {
  const lineCounter = new LineCounter();
  // The core schema whatever a `%YAML 1.1` directive says: under YAML 1.1's schema `yes` is true,
  // `1:20` is 80 and a date is a Date, none of which a config setting means.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true, schema: 'core' });
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
   * path's line. `tree`: where this node's origin, and those of its parts, are recorded.
   */
  const walk = (node: Node | null, path: Path, keyNode: Node | undefined, via: Origin | undefined, tree: TreeBuilder): unknown => {
    const pos = via ?? posOf(keyNode ?? node);
    tree.origin = originAt(pos, path);
    // Reported at the alias that was being expanded: the deep place where the count ran out means nothing.
    if (via && ++aliasedValues > MAX_ALIASED_VALUES) throw new TooManyAliasedValues(via);
    const badTag = node && !isAlias(node) ? tagProblem(node) : undefined;
    if (badTag) problems.push({ origin: originAt(pos, path), message: badTag });
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
      return walk(target, path, undefined, via ?? originAt(pos, path), tree);
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
        const refused = refusedKey(key) ?? tagProblem(keyNode);
        if (refused) problems.push({ origin: originAt(keyPos, [...path, key]), message: refused });
        else out[key] = walk(pair.value as Node | null, [...path, key], pair.key as Node, via, child(tree, key));
      }
      open.delete(node);
      return out;
    }
    if (isSeq(node)) {
      open.add(node);
      const out = node.items.map((item, i) => walk(item as Node, [...path, i], undefined, via, child(tree, i)));
      open.delete(node);
      return out;
    }
    if (isScalar(node)) return node.value;
    return node === null ? null : (node as Node).toJSON();
  };
  const root: TreeBuilder = {};
  let value: unknown;
  try {
    value = doc.contents ? walk(doc.contents as Node, [], undefined, undefined, root) : null;
  } catch (e) {
    if (!(e instanceof TooManyAliasedValues)) throw e;
    throw new ConfigError([
      { origin: e.origin, message: `the aliases expand to more than ${MAX_ALIASED_VALUES} values (refused as an alias bomb): expected anchors that share settings, not aliases of aliases that multiply` },
    ]);
  }
  if (problems.length) throw new ConfigError(problems);
  root.origin = originAt({ line: 1, col: 1 }, []);
  return Sourced.withOrigins(value, root);
}

/** A node of an OriginTree while parseYamlText builds it. */
interface TreeBuilder {
  origin?: Origin;
  children?: Map<string | number, TreeBuilder>;
}

/** The child of `tree` at `key`, made empty if it is new. */
function child(tree: TreeBuilder, key: string | number): TreeBuilder {
  tree.children ??= new Map();
  let c = tree.children.get(key);
  if (!c) tree.children.set(key, (c = {}));
  return c;
}

const CORE = 'tag:yaml.org,2002:';

/**
 * The tags of YAML 1.2's core schema, with what the node they are written on must hold. Configs
 * hold mappings, lists, strings, numbers, booleans and null; any other tag (`!!binary`, `!!set`,
 * `!!timestamp`, an application tag such as `!foo`) was read as a plain string or as a value no
 * setting takes, without a word, so it is refused.
 */
const CORE_TAGS: Record<string, [string, (node: Node) => boolean]> = {
  [`${CORE}str`]: ['a string', (n) => isScalar(n) && typeof n.value === 'string'],
  [`${CORE}int`]: ['an integer', (n) => isScalar(n) && Number.isInteger(n.value)],
  [`${CORE}float`]: ['a number', (n) => isScalar(n) && typeof n.value === 'number'],
  [`${CORE}bool`]: ['true or false', (n) => isScalar(n) && typeof n.value === 'boolean'],
  [`${CORE}null`]: ['null', (n) => isScalar(n) && n.value === null],
  [`${CORE}map`]: ['a mapping', (n) => isMap(n)],
  [`${CORE}seq`]: ['a list', (n) => isSeq(n)],
};

/** What is wrong with the tag written on `node`, or undefined when it has none or a core one that fits. */
function tagProblem(node: Node): string | undefined {
  const tag = node.tag;
  if (tag === undefined) return undefined;
  const shown = (t: string) => (t.startsWith(CORE) ? `!!${t.slice(CORE.length)}` : t);
  const core = CORE_TAGS[tag];
  if (!core) return `unknown YAML tag ${shown(tag)}: expected no tag, or one of ${Object.keys(CORE_TAGS).map(shown).join(', ')}`;
  // The parser leaves a value that its tag cannot read (`!!int 1.5`) as a string.
  if (!core[1](node)) return `the YAML tag ${shown(tag)} does not fit the value written after it: expected ${core[0]}, or no tag`;
  return undefined;
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

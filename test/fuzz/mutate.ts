/**
 * Seeded generation of broken config files for the fuzz suite (config-fuzz.test.ts): experiment
 * files, tuning files and cards, each made from a valid seed file by one mutation of a known
 * category (and sometimes a second, random one). Everything here is a pure function of the PRNG,
 * so a seed reproduces the same files byte for byte.
 */
import { stringify } from 'yaml';
import { mulberry32 } from '../support/random';


export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

export type Kind = 'experiment' | 'tune' | 'card';

export interface Seed {
  kind: Kind;
  name: string;
  text: string;
  value: Record<string, unknown>;
}

export interface Generated {
  kind: Kind;
  /** The mutation category (and the extra one, if any), for counts and failure reports. */
  tag: string;
  content: string | Buffer;
}

type Tree = unknown;
type Path = (string | number)[];

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);

/** Every node below the root, with its path. */
function nodes(tree: Tree, path: Path = [], out: { path: Path; value: unknown }[] = []): { path: Path; value: unknown }[] {
  if (Array.isArray(tree)) tree.forEach((v, i) => (out.push({ path: [...path, i], value: v }), nodes(v, [...path, i], out)));
  else if (isMap(tree)) for (const [k, v] of Object.entries(tree)) out.push({ path: [...path, k], value: v }), nodes(v, [...path, k], out);
  return out;
}

function parentOf(tree: Tree, path: Path): any {
  let v: any = tree;
  for (const p of path.slice(0, -1)) v = v[p];
  return v;
}

function setAt(tree: Tree, path: Path, value: unknown): void {
  parentOf(tree, path)[path[path.length - 1]] = value;
}

/** Renames a mapping key in place, keeping its position. */
function renameKey(obj: Record<string, unknown>, from: string, to: string): void {
  const entries = Object.entries(obj).map(([k, v]) => [k === from ? to : k, v] as const);
  for (const k of Object.keys(obj)) delete obj[k];
  for (const [k, v] of entries) obj[k] = v;
}

/** Text spliced in after serialisation, where a JS value cannot say it (aliases, `__proto__` keys, deep flow text). */
class Placeholders {
  private readonly texts: string[] = [];
  add(text: string): string {
    this.texts.push(text);
    return `@@PH${this.texts.length - 1}@@`;
  }
  apply(yaml: string): string {
    return yaml.replace(/(["']?)@@PH(\d+)@@\1/g, (_, _q, n) => this.texts[Number(n)]);
  }
}

function misspell(rng: Rng, word: string): string {
  if (word.length === 0) return 'x';
  for (let tries = 0; tries < 10; tries++) {
    const i = rng.int(word.length);
    let w: string;
    switch (rng.int(6)) {
      case 0: // transpose
        w = i < word.length - 1 ? word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2) : word + 's';
        break;
      case 1: // drop
        w = word.slice(0, i) + word.slice(i + 1);
        break;
      case 2: // double
        w = word.slice(0, i) + word[i] + word.slice(i);
        break;
      case 3: // substitute
        w = word.slice(0, i) + rng.pick('aeiouxz_-'.split('')) + word.slice(i + 1);
        break;
      case 4: // case
        w = word.toUpperCase() === word ? word.toLowerCase() + 'x' : word[0].toUpperCase() + word.slice(1);
        break;
      default: // suffix / separator
        w = rng.pick([`${word}s`, `${word}-`, `${word.replace(/_/g, '-')}`, ` ${word}`, `${word} `, `${word}:`]);
    }
    if (w !== word && w !== '') return w;
  }
  return `${word}_x`;
}

const BAD_NUMBERS = [-1, 0, -0.5, 0.5, -1e12, 1e12, 1e308, -1e308, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 63, 1e-320, -0.000001, 3.5];

const BAD_PRESETS = [
  '../../etc/passwd',
  '../../../../../../etc/passwd',
  '../model/small',
  '/etc/passwd',
  'small/../small',
  '..',
  '.',
  '',
  ' small',
  'small ',
  'smal',
  'Small',
  'small.yaml',
  'nonexistent',
  'a'.repeat(300),
  '-small',
  'small\n',
  '%2e%2e%2fetc%2fpasswd',
  'C:\\Windows\\win.ini',
  '~/x',
  'small\u0000',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '_..',
  '.hidden',
];

const BAD_SAMPLERS = ['sgdl', 'HMC', 'nuts', '', '../../etc/passwd', '__proto__', 'constructor', 'toString', 'sgld\n', 'sg ld', 'a'.repeat(500), 'flow/../hmc'];

const CONTROL_STRINGS = ['cpu\nexport X=1', 'cpu\u0007', 'a b', '\u001b[31mred', 'x\u0000y', 'cpu\r', 'cpu\u0085', 'cpu\u2028x', '\t', 'cpu;rm -rf /', "cpu'x", '$(reboot)', '`id`', ' ', ''];

const LONG = (rng: Rng) => rng.pick(['a', 'é', '\u{1F600}', 'ab ']).repeat(rng.pick([101, 1000, 20_000, 200_000]));

/** A value of another type than `v`. */
function otherType(rng: Rng, v: unknown): unknown {
  if (typeof v === 'number') return rng.pick([String(v), `${v}`, [v], { value: v }, true, null, 'abc']);
  if (typeof v === 'string') return rng.pick([42, -3, [v], { [v || 'x']: 1 }, true, 1.5]);
  if (typeof v === 'boolean') return rng.pick(['yes', 1, [v], { v }]);
  if (v === null) return rng.pick([{}, [], 'null', 0, { a: 1 }]);
  if (Array.isArray(v)) return rng.pick([{ list: v }, 'x', 3, v.length ? v[0] : 1, {}]);
  return rng.pick([[v], 'x', 0, [], true]);
}

const paths = (tree: Tree) => nodes(tree).map((n) => n.path);
const keyPaths = (tree: Tree) => paths(tree).filter((p) => typeof p[p.length - 1] === 'string');

function flowDeep(rng: Rng, depth: number): string {
  return rng.chance(0.5) ? '['.repeat(depth) + '1' + ']'.repeat(depth) : '{a: '.repeat(depth) + '1' + '}'.repeat(depth);
}

function aliasBomb(levels: number, width: number): string {
  const parts = [`&a0 [${Array(width).fill('lol').join(', ')}]`];
  for (let l = 1; l < levels; l++) parts.push(`&a${l} [${Array(width).fill(`*a${l - 1}`).join(', ')}]`);
  return `[${parts.join(', ')}]`;
}

/** Lists of entries in each kind of file, which duplication and preset mutations aim at. */
const ENTRY_LISTS: Record<Kind, string[]> = { experiment: ['targets', 'samplers'], tune: ['problems', 'methods'], card: [] };
const TARGET_LIST: Record<Kind, string | undefined> = { experiment: 'targets', tune: 'problems', card: undefined };
const SAMPLER_LIST: Record<Kind, string | undefined> = { experiment: 'samplers', tune: 'methods', card: undefined };

const INVALID_SWEEPS: unknown[] = [
  {},
  [],
  'seed',
  { seed: [] },
  { seed: { from: 5, to: 1 } },
  { seed: { from: 0, to: 1e12 } },
  { seed: { from: 0, to: 10, step: 0 } },
  { seed: { from: 0, to: 10, step: -1 } },
  { seed: { from: 0.5, to: 3 } },
  { seed: { from: 0, to: Infinity } },
  { seed: { from: NaN, to: 3 } },
  { seed: { from: 0, too: 3 } },
  { seed: { from: 0 } },
  { seed: 'abc' },
  { seed: 3 },
  { seed: null },
  { name: ['hmc', 'sgld'] },
  { label: ['a', 'b'] },
  { sweep: [1] },
  { bogus: [1, 2] },
  { 'overrides.': [1] },
  { '.seed': [1] },
  { 'overrides..x': [1] },
  { 'seed.x': [1, 2] },
  { 'overrides.__proto__.x': [1] },
  { 'overrides.constructor': [1] },
  { 'posterior.prototype': [1] },
  { seed: [1, 1] },
  { seed: [-1, 2] },
  { seed: ['a', 'b'] },
  { overrides: [{}, {}], 'overrides.steps': [1] },
  { 'overrides.training.steps': [-1, 10] },
  { 'overrides.step_size': [-1, 0] },
  { 'overrides.nope': [1, 2] },
  { seed: { from: 0, to: 99 }, 'overrides.model.widths': [[4], [4]], 'overrides.training.steps': { from: 1, to: 2000 } },
  { seed: [[1, 2]] },
  { seed: [{ a: 1 }] },
];

const BAD_SPACES: unknown[] = [
  { type: 'float', low: 1, high: 0 },
  { type: 'float', low: 0, high: 1, log: true },
  { type: 'float', low: -1, high: 1, log: true },
  { type: 'float', low: NaN, high: 1 },
  { type: 'float', low: 0, high: Infinity },
  { type: 'int', low: 1, high: 10, step: 0 },
  { type: 'int', low: 0.5, high: 10 },
  { type: 'int', low: 10, high: 1 },
  { type: 'categorical', choices: [] },
  { type: 'categorical', choices: 'abc' },
  { type: 'categorical', choices: [null, {}, []] },
  { type: 'uniform', low: 0, high: 1 },
  { type: 'float' },
  { low: 0, high: 1 },
  {},
  [],
  'float',
  { type: 'float', low: 1e-6, high: 1e-2, log: 'yes' },
  { type: 'float', low: 1e-6, high: 1e-2, extra: 1 },
  { type: 'int', low: -1e12, high: 1e12 },
];

const BAD_CARD_VALUES: [string, unknown[]][] = [
  ['walltime', ['25:00', '1-', '00:00:60x', '-1:00:00', '', '00:20', 1200, '999-99:99:99\n', 'a'.repeat(1000)]],
  ['mem_per_task', ['4GB', '-4G', '4 G', '', '4g', 4, '1e12', '4G\n#SBATCH --x']],
  ['partition', CONTROL_STRINGS],
  ['account', CONTROL_STRINGS],
  ['qos', CONTROL_STRINGS],
  ['constraint', CONTROL_STRINGS],
  ['gpu_type', CONTROL_STRINGS],
  ['sbatch_extra', [['--exclusive\nrm -rf /'], ['exclusive'], ['--x\u0007'], 'exclusive', [1], [null]]],
  ['worker_init', ['module load x', [1, 2], [{}], null]],
  ['node', ['', 0, [], {}]],
  ['poll_seconds', [0, -1, NaN, Infinity, '2', null]],
  ['env', [{ '1X': 'a' }, { 'A-B': 'a' }, { NODE_OPTIONS: '--require x' }, { ld_preload: 'x.so' }, { LD_AUDIT: 'x' }, { DYLD_INSERT_LIBRARIES: 'x' }, { 'A B': 'x' }, { '': 'x' }, { X: 1 }, { X: null }, { X: ['a'] }, { 'X\n': 'a' }, []]],
  ['backend', ['slurm-cpu', 'Local', 'pbs', '', null, 1, ['local'], '../../etc/passwd']],
  ['threads', [0, -1, 1.5, '1', null, 1e12]],
  ['max_jobs', [0, -1, 1.5, '200', NaN]],
  ['tasks_per_job', [0, -5, 1.5, '20']],
  ['retries', [-1, 0.5, 'one']],
  ['cpus_per_task', [0, -2, 2.5]],
  ['gpus', [-1, 0.5, 'a100']],
];

/** Explicitly tagged values: the YAML 1.1 types the parser still knows, failed casts, unknown tags. */
const YAML_TAGS = [
  '!!binary aGVsbG8=',
  '!!timestamp 2001-12-14',
  '!!timestamp 2001-12-14t21:59:43.10-05:00',
  '!!set {a, b}',
  '!!omap [a: 1, b: 2]',
  '!!pairs [a: 1, a: 2]',
  '!!float 1',
  '!!float abc',
  '!!int "x"',
  '!!int 0x1F',
  '!!str 1',
  '!!null x',
  '!!bool yes',
  '!!map [1, 2]',
  '!!seq {a: 1}',
  '!foo bar',
  '!<tag:example.com,2000:x> 1',
  '!!python/object:os.system ls',
  '!!js/function "function () { return 1 }"',
];

/** Text mutations that break the YAML itself. */
function yamlSyntax(rng: Rng, text: string): { tag: string; text: string } {
  const lines = text.split('\n');
  const content = lines.map((l, i) => [l, i] as const).filter(([l]) => l.trim() !== '' && !l.trim().startsWith('#'));
  const [line, at] = content.length ? rng.pick(content) : ['', 0];
  const setLine = (l: string) => ((lines[at] = l), lines.join('\n'));
  switch (rng.int(14)) {
    case 0:
      return { tag: 'unclosed-bracket', text: setLine(line.replace(/\]\s*$|\}\s*$/, '') + (/[\]}]\s*$/.test(line) ? '' : ' [1, 2')) };
    case 1:
      return { tag: 'unclosed-brace', text: setLine(`${line.replace(/:\s.*$/, ':')} { a: 1, b: [2`) };
    case 2:
      return { tag: 'unclosed-quote', text: setLine(`${line.replace(/:\s.*$/, ':')} "never closed`) };
    case 3:
      return { tag: 'tab-indent', text: setLine(line.replace(/^( *)/, (s) => '\t'.repeat(Math.max(1, s.length / 2)))) };
    case 4:
      return { tag: 'bad-indent', text: setLine(' '.repeat(rng.pick([1, 3, 5])) + line) };
    case 5:
      return { tag: 'truncated', text: text.slice(0, rng.int(text.length)) + rng.pick(['', '[', '{', '"', "'", '&', '*', '!']) };
    case 6:
      return { tag: 'duplicate-key', text: setLine(`${line}\n${line}`) };
    case 7:
      return { tag: 'multi-document', text: `${text}\n---\n${text}` };
    case 8:
      return { tag: 'stray-colon', text: setLine(`${line}: : x`) };
    case 9:
      return { tag: 'directive', text: `%YAML 9.9\n%FOO bar\n---\n${text}` };
    case 10:
      return { tag: 'unbalanced-close', text: setLine(`${line} ]]}`) };
    case 11:
      return { tag: 'seq-in-map', text: setLine(`${line}\n- stray item`) };
    case 12:
      return { tag: 'bad-tag', text: setLine(line.replace(/:\s+(\S)/, ': !!python/object:os.system $1')) };
    default:
      return { tag: 'raw-control-char', text: setLine(line + rng.pick(['\u0001', '\u0000', '\u001b', '\u007f', '\ufeff', '\ud800'])) };
  }
}

function garbage(rng: Rng, seedText: string): { tag: string; content: string | Buffer } {
  switch (rng.int(5)) {
    case 0: {
      const bytes = Buffer.alloc(1 + rng.int(4096));
      for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(256);
      return { tag: 'random-bytes', content: bytes };
    }
    case 1: {
      const b = Buffer.from(seedText, 'utf8');
      for (let n = 0; n < 1 + rng.int(8); n++) b[rng.int(b.length)] = rng.int(256);
      return { tag: 'flipped-bytes', content: b };
    }
    case 2:
      return { tag: 'utf16', content: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(seedText, 'utf16le')]) };
    case 3:
      return { tag: 'invalid-utf8', content: Buffer.concat([Buffer.from(seedText.slice(0, 40)), Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc]), Buffer.from(seedText.slice(40))]) };
    default:
      return { tag: 'nul-bytes', content: Buffer.alloc(1 + rng.int(512)) };
  }
}

const EMPTYISH = ['', '\n', '   \n\t\n', '# only a comment\n', '---\n', '...\n', '--- \n...\n', '~\n', 'null\n', '[]\n', '{}\n', '42\n', '"a string"\n', '\ufeff', 'true\n', '- a\n- b\n', '.nan\n', '.inf\n'];

/** The mutation categories, in the round-robin order that spreads files over them. */
export const CATEGORIES = [
  'misspelt-key',
  'wrong-type',
  'out-of-range',
  'missing-key',
  'unknown-preset',
  'duplicate',
  'invalid-sweep',
  'proto-key',
  'yaml-syntax',
  'deep-nesting',
  'alias',
  'long-string',
  'control-chars',
  'garbage',
  'empty',
  'kind-specific',
  'yaml-tags',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** A mutation of the tree; returns its tag, or undefined when it does not apply to this tree. */
type TreeMutation = (rng: Rng, tree: Record<string, unknown>, kind: Kind, ph: Placeholders) => string | undefined;

const TREE: Partial<Record<Category, TreeMutation>> = {
  'misspelt-key': (rng, tree) => {
    const p = rng.pick(keyPaths(tree));
    const key = p[p.length - 1] as string;
    renameKey(parentOf(tree, p), key, misspell(rng, key));
    return 'misspelt-key';
  },
  'wrong-type': (rng, tree) => {
    const n = rng.pick(nodes(tree));
    setAt(tree, n.path, otherType(rng, n.value));
    return 'wrong-type';
  },
  'out-of-range': (rng, tree) => {
    const all = nodes(tree);
    const numeric = all.filter((n) => typeof n.value === 'number');
    const n = numeric.length && rng.chance(0.85) ? rng.pick(numeric) : rng.pick(all);
    setAt(tree, n.path, rng.pick(BAD_NUMBERS));
    return 'out-of-range';
  },
  'missing-key': (rng, tree) => {
    const p = rng.pick(keyPaths(tree).filter((q) => q.length <= 3));
    delete parentOf(tree, p)[p[p.length - 1]];
    return 'missing-key';
  },
  'unknown-preset': (rng, tree, kind) => {
    if (kind === 'card') return (tree.backend = rng.pick(['pbs', 'slurm-cpu', '../../etc/passwd', 'local/../slurm', '__proto__', 'constructor', ''])), 'unknown-backend';
    const targets = tree[TARGET_LIST[kind]!] as unknown[];
    const samplers = tree[SAMPLER_LIST[kind]!] as unknown[];
    if (rng.chance(0.6) && Array.isArray(targets) && targets.length) {
      const t = targets[rng.int(targets.length)] as Record<string, unknown>;
      t[rng.pick(['model', 'data', 'teacher', 'training'])] = rng.pick(BAD_PRESETS);
      return 'unknown-preset';
    }
    if (kind === 'tune' && rng.chance(0.3)) {
      // The search space of an unknown method, or a method without a search space.
      (tree.search_space as Record<string, unknown>)[rng.pick(BAD_SAMPLERS) || 'x'] = { step_size: { type: 'float', low: 0.1, high: 1 } };
      return 'unknown-method-space';
    }
    if (Array.isArray(samplers) && samplers.length) {
      const i = rng.int(samplers.length);
      const s = samplers[i];
      if (isMap(s)) s.name = rng.pick(BAD_SAMPLERS);
      else samplers[i] = rng.pick(BAD_SAMPLERS);
      return 'unknown-sampler';
    }
    return undefined;
  },
  duplicate: (rng, tree, kind, ph) => {
    if (kind === 'card') {
      const list = rng.pick(['worker_init', 'sbatch_extra'] as const);
      tree[list] = [];
      // A duplicated key, which YAML itself refuses.
      const key = ph.add(rng.pick(Object.keys(tree)));
      tree[key] = 'duplicate';
      return 'duplicate-key';
    }
    const list = tree[rng.pick(ENTRY_LISTS[kind])];
    if (!Array.isArray(list) || list.length === 0) return undefined;
    const i = rng.int(list.length);
    // Half the time the same object twice, which the YAML writer turns into an anchor and an alias.
    list.splice(rng.int(list.length + 1), 0, rng.chance(0.5) ? list[i] : clone(list[i]));
    return 'duplicate-entry';
  },
  'invalid-sweep': (rng, tree, kind) => {
    const lists = kind === 'card' ? [] : ENTRY_LISTS[kind];
    if (!lists.length) return undefined;
    const list = tree[rng.pick(lists)];
    if (!Array.isArray(list) || !list.length) return undefined;
    const i = rng.int(list.length);
    const entry: Record<string, unknown> = isMap(list[i]) ? list[i] : (list[i] = { name: list[i] });
    entry.sweep = clone(rng.pick(INVALID_SWEEPS));
    return 'invalid-sweep';
  },
  'proto-key': (rng, tree, _kind, ph) => {
    const maps = [{ path: [] as Path, value: tree as unknown }, ...nodes(tree)].filter((n) => isMap(n.value));
    const target = rng.pick(maps).value as Record<string, unknown>;
    target[ph.add(rng.pick(['__proto__', 'constructor', 'prototype', '"__proto__"', "'constructor'"]))] = rng.pick([{ polluted: true }, 1, 'x', null, [1]]);
    return 'proto-key';
  },
  'deep-nesting': (rng, tree, _kind, ph) => {
    const n = rng.pick(nodes(tree));
    setAt(tree, n.path, ph.add(flowDeep(rng, rng.pick([20, 200, 700, 900, 1000, 1100, 1500, 3000]))));
    return 'deep-nesting';
  },
  alias: (rng, tree, _kind, ph) => {
    const all = nodes(tree);
    const n = rng.pick(all);
    switch (rng.int(5)) {
      case 0: {
        // A valid anchor and alias: the same object in two places (YAML writes &a1 … *a1).
        // Not an ancestor of the node it replaces: that would make a cycle (tested apart, as alias-self).
        const maps = all.filter((m) => isMap(m.value) && !m.path.every((s, i) => n.path[i] === s));
        if (!maps.length) return undefined;
        setAt(tree, n.path, rng.pick(maps).value);
        return 'alias-valid';
      }
      case 1:
        setAt(tree, n.path, ph.add(rng.pick(['*nope', '*', '*a1', '&x *x'])));
        return 'alias-unknown';
      case 2:
        setAt(tree, n.path, ph.add(rng.pick(['&s [*s]', '&m {a: *m}'])));
        return 'alias-self';
      case 3:
        setAt(tree, n.path, ph.add(aliasBomb(rng.pick([4, 6, 9]), rng.pick([8, 10]))));
        return 'alias-bomb';
      default: {
        const maps = [tree as unknown, ...all.map((m) => m.value)].filter(isMap);
        rng.pick(maps)[ph.add(rng.pick(['*nope', '? *nope']))] = 1;
        return 'alias-key';
      }
    }
  },
  'long-string': (rng, tree, _kind, ph) => {
    if (rng.chance(0.2)) {
      // A long list: every value of it validated, none of it slow. Not under a sweep, where each
      // value is an entry to resolve (a 1,000-value sweep resolving in about a second is no bug).
      const n = rng.pick(nodes(tree).filter((m) => !m.path.includes('sweep')));
      const length = rng.pick([1000, 10_000, 50_000]);
      setAt(tree, n.path, ph.add(`[${Array.from({ length }, (_, i) => (rng.chance(0.5) ? i : `x${i}`)).join(', ')}]`));
      return 'long-list';
    }
    if (rng.chance(0.3)) {
      const maps = [tree as unknown, ...nodes(tree).map((m) => m.value)].filter(isMap);
      rng.pick(maps)[ph.add(JSON.stringify(LONG(rng)))] = 1;
      return 'long-key';
    }
    const n = rng.pick(nodes(tree).filter((m) => typeof m.value !== 'object' || m.value === null));
    setAt(tree, n.path, LONG(rng));
    return 'long-string';
  },
  'control-chars': (rng, tree, kind) => {
    if (kind === 'card') {
      const field = rng.pick(['partition', 'account', 'qos', 'constraint', 'gpu_type', 'sbatch_extra', 'env', 'walltime', 'mem_per_task']);
      const s = rng.pick(CONTROL_STRINGS);
      if (field === 'sbatch_extra') tree.sbatch_extra = [`--${s}`];
      else if (field === 'env') tree.env = rng.chance(0.5) ? { [s || 'X']: 'v' } : { LAMBDA_HAT_X: s };
      else tree[field] = s;
      return 'control-chars';
    }
    const strings = nodes(tree).filter((m) => typeof m.value === 'string');
    const n = strings.length ? rng.pick(strings) : rng.pick(nodes(tree));
    setAt(tree, n.path, `${typeof n.value === 'string' ? n.value : 'x'}${rng.pick(CONTROL_STRINGS)}`);
    return 'control-chars';
  },
  'yaml-tags': (rng, tree, _kind, ph) => {
    const n = rng.pick(nodes(tree));
    setAt(tree, n.path, ph.add(rng.pick(YAML_TAGS)));
    return 'yaml-tag';
  },
  'kind-specific': (rng, tree, kind) => {
    if (kind === 'card') {
      const [field, values] = rng.pick(BAD_CARD_VALUES);
      tree[field] = clone(rng.pick(values));
      return `card-${field}`;
    }
    if (kind === 'tune') {
      const space = tree.search_space as Record<string, Record<string, unknown>>;
      const method = rng.pick(Object.keys(space));
      const params = Object.keys(space[method]);
      space[method][rng.chance(0.8) && params.length ? rng.pick(params) : 'eps'] = clone(rng.pick(BAD_SPACES));
      return 'bad-search-space';
    }
    // Experiment: a name that is reserved, too long or not a name; a label that is empty or not a string.
    if (rng.chance(0.5)) {
      tree.experiment = rng.pick(['tune-dev', 'tgt_0123456789ab', 'sgld_0123456789ab', '_lambda-hat-code', 'a'.repeat(101), '1abc', 'a b', 'a/b', '../x', '']);
      return 'bad-experiment-name';
    }
    const list = tree[rng.pick(['targets', 'samplers'])] as Record<string, unknown>[];
    list[rng.int(list.length)].label = rng.pick(['', '   ', 3, null, [], {}]);
    return 'bad-label';
  },
};

/** One generated file of `kind` from `seed`, mutated by `category` (and, 30% of the time, one more tree mutation). */
export function generate(rng: Rng, seed: Seed, category: Category): Generated {
  const kind = seed.kind;
  if (category === 'yaml-syntax') {
    const base = rng.chance(0.5) ? seed.text : stringify(seed.value, { lineWidth: 0 });
    const m = yamlSyntax(rng, base);
    return { kind, tag: m.tag, content: m.text };
  }
  if (category === 'garbage') {
    const g = garbage(rng, seed.text);
    return { kind, tag: g.tag, content: g.content };
  }
  if (category === 'empty') return { kind, tag: 'empty', content: rng.pick(EMPTYISH) };

  const ph = new Placeholders();
  const tree = clone(seed.value);
  const tags: string[] = [];
  const apply = (c: Category) => {
    const t = TREE[c]?.(rng, tree, kind, ph);
    if (t) tags.push(t);
    return t;
  };
  if (!apply(category)) apply(rng.pick(['misspelt-key', 'wrong-type', 'out-of-range'] as const));
  if (rng.chance(0.3)) apply(rng.pick(Object.keys(TREE) as Category[]));
  const style = rng.pick(['block', 'flow', 'any'] as const);
  const text = ph.apply(stringify(tree, { lineWidth: 0, collectionStyle: style, aliasDuplicateObjects: true }));
  return { kind, tag: tags.join('+'), content: text };
}

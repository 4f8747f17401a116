/**
 * Seeded fuzzing of the config loaders (README: "The experiment file", "Tuning", "Running on
 * Slurm"). From the valid files under config/ it makes 1,000 broken ones — misspelt keys, wrong
 * types, numbers out of range, missing keys, unknown and path-traversing presets, duplicates, bad
 * sweeps, `__proto__` keys, YAML syntax errors, deep nesting, aliases, long strings, control
 * characters, binary garbage, empty files — and loads each in this process. Each must load (a
 * mutation can be harmless; at least 90% must be refused) or throw a ConfigError whose every line
 * names the file and holds no stack frame; anything else thrown is a bug. A line about a preset
 * under config/ also names the place in the file that uses the preset. Two things must always be
 * refused, judged without the loaders (the fuzz found both loaded silently): bytes that are not
 * UTF-8 (Node's own check) and YAML tags outside the core schema (the parser's own reading). A
 * sample also goes through the real CLI: exit status 2, no stack trace. The seed is fixed, so a
 * failure reproduces.
 */
import { isUtf8 } from 'node:buffer';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { isNode, parse, parseDocument, visit } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadExperiment } from '../../rules/experiment';
import { loadTuneConfig } from '../../rules/tune/config';
import { loadCard } from '../../runner/cards';
import { CATEGORIES, Generated, generate, Kind, Rng, Seed } from './mutate';

const SEED = 0x5eed_1a4b;
const COUNTS: Record<Kind, number> = { experiment: 500, tune: 300, card: 200 };
const MIN_REFUSED = 0.9;
const MAX_LOAD_MS = 2000;
const MAX_RSS_GROWTH = 1024 * 1024 * 1024;
const CLI_SAMPLE: Record<Kind, number> = { experiment: 8, tune: 7, card: 5 };
const STACK_FRAME = /\n\s+at /;

const repo = join(__dirname, '..', '..');
const root = mkdtempSync(join(tmpdir(), 'lh-fuzz-'));
symlinkSync(join(repo, 'config'), join(root, 'config'));
mkdirSync(join(root, 'gen'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const ws = { root, presets: 'config' };

/** The README's sweep example, as a second experiment seed, so sweeps and labels are there to break. */
const SWEEP_SEED = `experiment: swept
targets:
  - { label: s, model: small, data: small, sweep: { seed: { from: 1, to: 3 }, overrides.model.widths: [[4, 4], [8, 8]] } }
samplers:
  - name: sgld
    overrides: { steps: 100000 }
    sweep: { seed: [1, 2], overrides.step_size: [1.0e-5, 1.0e-4] }
  - { name: hmc, posterior: { gamma: 10.0 } }
`;

function seeds(): Record<Kind, Seed[]> {
  const read = (kind: Kind, rel: string): Seed => {
    const text = readFileSync(join(repo, rel), 'utf8');
    return { kind, name: rel, text, value: parse(text) };
  };
  return {
    experiment: [read('experiment', 'config/experiments.yaml'), { kind: 'experiment', name: 'sweep example', text: SWEEP_SEED, value: parse(SWEEP_SEED) }],
    tune: [read('tune', 'config/tune/dev.yaml')],
    card: readdirSync(join(repo, 'config/cards'))
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => read('card', `config/cards/${f}`)),
  };
}

interface Outcome {
  file: string;
  gen: Generated;
  refused: boolean;
  ms: number;
  failure?: string;
  /** Refused with every line naming a preset under config/ rather than the file itself. */
  onlyPresets?: boolean;
}

async function load(kind: Kind, abs: string): Promise<unknown> {
  if (kind === 'experiment') return loadExperiment(ws, abs);
  if (kind === 'tune') return loadTuneConfig(ws, abs);
  return loadCard(root, { card: abs, from: 'flags' });
}

/** What is wrong with what loading `rel` threw, or undefined when it is a well-formed ConfigError. */
function checkError(e: unknown, rel: string, kind: Kind): string | undefined {
  if (!(e instanceof ConfigError)) return `threw ${(e as Error)?.constructor?.name ?? typeof e}, not a ConfigError: ${(e as Error)?.stack ?? String(e)}`;
  if (e.problems.length === 0 || e.message.trim() === '') return 'a ConfigError without problems';
  if (STACK_FRAME.test(e.message)) return `a stack frame in the message:\n${e.message.slice(0, 2000)}`;
  for (const line of e.message.split('\n')) {
    // Every line names the file; a problem found in a preset merged under the file names the preset.
    if (!line.startsWith(`${rel}:`) && !/^config\/[\w/.-]+\.yaml:\d+:\d+: /.test(line)) return `a message line that names no file: ${JSON.stringify(line.slice(0, 300))}`;
    // …and the entry of the file that uses the preset (cards merge over theirs, no entry names them).
    if (kind !== 'card' && !line.startsWith(`${rel}:`) && !line.includes(`(a preset, used at ${rel}:`))
      return `a problem in a preset that names no place in the file using it: ${JSON.stringify(line.slice(0, 300))}`;
  }
  return undefined;
}

const CORE_TAGS = ['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`);

/**
 * What in `content` must keep it from loading, judged without the loaders, and the words the
 * refusal must use: bytes that are not UTF-8, or a YAML tag outside the core schema.
 */
function mustRefuse(content: string | Buffer): { what: string; says: RegExp } | undefined {
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  if (!isUtf8(bytes)) return { what: 'bytes that are not UTF-8', says: /:\d+:\d+: invalid UTF-8 at byte offset \d+ / };
  const doc = parseDocument(bytes.toString('utf8'), { schema: 'core', uniqueKeys: true, strict: true });
  if (doc.errors.length) return undefined;
  let tag: string | undefined;
  visit(doc, (_, node) => {
    if (isNode(node) && node.tag !== undefined && !CORE_TAGS.includes(node.tag)) {
      tag = node.tag;
      return visit.BREAK;
    }
    return undefined;
  });
  // Another problem may stop the walk before the tag (an alias bomb) or leave the tagged node unread (under a refused key).
  return tag === undefined ? undefined : { what: `the YAML tag ${tag}`, says: /unknown YAML tag |alias|cannot be a key/ };
}

function preview(content: string | Buffer): string {
  const s = typeof content === 'string' ? content : content.toString('latin1');
  return JSON.stringify(s.length > 600 ? `${s.slice(0, 600)}…(${s.length} chars)` : s);
}

function runCli(args: string[]): Promise<{ status: number | null; stderr: string; stdout: string }> {
  return new Promise((done) => {
    const p = spawn(process.execPath, [join(repo, 'bin/lambda-hat.js'), ...args], { cwd: repo, timeout: 30_000 });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => done({ status, stderr, stdout }));
  });
}

describe(`config fuzz (seed ${SEED.toString(16)})`, () => {
  const outcomes: Outcome[] = [];

  it('every generated file loads or is refused with a ConfigError naming the file, quickly and without a stack trace', async () => {
    const rng = new Rng(SEED);
    const all = seeds();
    const rss0 = process.memoryUsage().rss;
    let rssMax = rss0;
    const t0 = performance.now();
    for (const kind of ['experiment', 'tune', 'card'] as const) {
      for (let i = 0; i < COUNTS[kind]; i++) {
        const gen = generate(rng, rng.pick(all[kind]), CATEGORIES[i % CATEGORIES.length]);
        const rel = join('gen', `${kind}-${String(i).padStart(4, '0')}.yaml`);
        const abs = join(root, rel);
        writeFileSync(abs, gen.content);
        const start = performance.now();
        let refused = false;
        let failure: string | undefined;
        let onlyPresets = false;
        let caught: unknown;
        try {
          await load(kind, abs);
        } catch (e) {
          refused = true;
          caught = e;
          failure = checkError(e, rel, kind);
          onlyPresets = e instanceof ConfigError && !e.message.split('\n').some((l) => l.startsWith(`${rel}:`));
        }
        const refuse = mustRefuse(gen.content);
        if (refuse && !refused) failure = `loaded although it holds ${refuse.what}`;
        else if (refuse && !failure && !refuse.says.test((caught as Error).message)) failure = `refused without a word about ${refuse.what}: ${(caught as Error).message.slice(0, 600)}`;
        const ms = performance.now() - start;
        if (ms > MAX_LOAD_MS) failure = `${failure ? `${failure}; ` : ''}took ${ms.toFixed(0)} ms (limit ${MAX_LOAD_MS})`;
        outcomes.push({ file: rel, gen, refused, ms, failure, onlyPresets });
        if (i % 50 === 0) rssMax = Math.max(rssMax, process.memoryUsage().rss);
      }
    }
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
    const elapsed = performance.now() - t0;

    const summary: Record<string, { files: number; refused: number; slowest_ms: number }> = {};
    for (const o of outcomes) {
      const s = (summary[o.gen.kind] ??= { files: 0, refused: 0, slowest_ms: 0 });
      s.files++;
      s.refused += o.refused ? 1 : 0;
      s.slowest_ms = Math.max(s.slowest_ms, Math.round(o.ms));
    }
    const harmless = outcomes.filter((o) => !o.refused).map((o) => `${o.file} (${o.gen.tag})`);
    console.log(
      `config fuzz: seed 0x${SEED.toString(16)}, ${outcomes.length} files in ${(elapsed / 1000).toFixed(1)} s, rss +${((rssMax - rss0) / 2 ** 20).toFixed(0)} MiB:`,
      JSON.stringify(summary),
      `; harmless mutations (loaded): ${harmless.length}; refused naming only a preset: ${outcomes.filter((o) => o.onlyPresets).map((o) => o.file).join(', ') || 'none'}`,
    );

    const failures = outcomes.filter((o) => o.failure).map((o) => `${o.file} [${o.gen.tag}]: ${o.failure}\n  input: ${preview(o.gen.content)}`);
    expect(failures.slice(0, 10).join('\n\n'), `${failures.length} of ${outcomes.length} files failed`).toBe('');
    const refused = outcomes.filter((o) => o.refused).length;
    expect(refused / outcomes.length, `refused ${refused} of ${outcomes.length}; loaded: ${harmless.join(', ')}`).toBeGreaterThanOrEqual(MIN_REFUSED);
    for (const kind of ['experiment', 'tune', 'card'] as const) expect(summary[kind].files).toBe(COUNTS[kind]);
    expect(rssMax - rss0).toBeLessThan(MAX_RSS_GROWTH);
  });

  it('a sample of the refused files fails through the CLI with status 2 and no stack trace', async () => {
    const sample: Outcome[] = [];
    for (const kind of ['experiment', 'tune', 'card'] as const) {
      // Spread over the categories: every k-th refused file of the kind.
      const refused = outcomes.filter((o) => o.gen.kind === kind && o.refused && !o.failure);
      const step = Math.max(1, Math.floor(refused.length / CLI_SAMPLE[kind]));
      for (let i = 0; i < CLI_SAMPLE[kind] && i * step < refused.length; i++) sample.push(refused[i * step]);
    }
    expect(sample.length).toBeGreaterThanOrEqual(15);
    const args = (o: Outcome) => {
      const abs = join(root, o.file);
      if (o.gen.kind === 'experiment') return ['validate', abs];
      if (o.gen.kind === 'tune') return ['tune', '--config', abs, '--dry-run'];
      // A refused card stops `tune` before anything runs (the tuning file itself is valid).
      return ['tune', '--config', join(repo, 'config/tune/dev.yaml'), '--card', abs];
    };
    const problems: string[] = [];
    // Two at a time: the CLI starts in about a second, and the machine may have two cores.
    for (let i = 0; i < sample.length; i += 2) {
      const results = await Promise.all(sample.slice(i, i + 2).map(async (o) => ({ o, r: await runCli(args(o)) })));
      for (const { o, r } of results) {
        const name = o.file.split('/').pop()!;
        if (r.status !== 2) problems.push(`${o.file} [${o.gen.tag}]: exit status ${r.status}, expected 2\n${r.stderr.slice(0, 1000)}`);
        else if (STACK_FRAME.test(r.stderr)) problems.push(`${o.file} [${o.gen.tag}]: a stack trace on stderr\n${r.stderr.slice(0, 2000)}`);
        else if (!r.stderr.includes(name)) problems.push(`${o.file} [${o.gen.tag}]: stderr does not name the file\n${r.stderr.slice(0, 1000)}`);
      }
    }
    expect(problems.join('\n\n')).toBe('');
  });
});

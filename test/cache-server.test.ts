/**
 * `lambda-hat cache serve`, the Nx remote cache server: its HTTP contract (round trip, misses,
 * immutability, concurrent writers, truncated uploads, tokens, LRU eviction, a full disk, health),
 * run as a child process as a user would start it, and then the real `nx` CLI restoring a whole
 * experiment from it into a second clone on another machine id.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, ScratchWorkspace } from './support/workspace';

const BIN = join(REPO, 'bin', 'lambda-hat.js');

interface Running {
  url: string;
  dir: string;
  child: ChildProcess;
  /** Everything it wrote to stderr so far: the request log. */
  log(): string;
  stop(): Promise<number | null>;
}

const servers: Running[] = [];
const tempDirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'lh-cache-'));
  tempDirs.push(dir);
  return dir;
};

/** Starts `lambda-hat cache serve --dir <dir> --port 0 ...args` and reads its URL off its first stdout line. */
function serve(args: string[] = [], dir = tempDir()): Promise<Running> {
  const child = spawn(process.execPath, [BIN, 'cache', 'serve', '--dir', dir, '--port', '0', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (b) => (stderr += b));
  const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)));
  return new Promise((ok, fail) => {
    child.stdout!.on('data', (b) => {
      stdout += b;
      const m = /^lambda-hat cache: serving (.+) at (http:\/\/\S+)\n/.exec(stdout);
      if (!m) return;
      const running: Running = {
        url: m[2],
        dir,
        child,
        log: () => stderr,
        stop: () => {
          if (child.exitCode === null) child.kill('SIGTERM');
          return exited;
        },
      };
      servers.push(running);
      ok(running);
    });
    void exited.then((code) => fail(new Error(`the server exited with ${code} before listening:\n${stdout}${stderr}`)));
  });
}

const auth = (token?: string): Record<string, string> => (token ? { Authorization: `Bearer ${token}` } : {});

async function put(s: Running, hash: string, body: Buffer, token?: string): Promise<number> {
  const res = await fetch(`${s.url}/v1/cache/${hash}`, { method: 'PUT', body, headers: { 'Content-Type': 'application/octet-stream', ...auth(token) } });
  await res.arrayBuffer();
  return res.status;
}

async function get(s: Running, hash: string, token?: string): Promise<{ status: number; body: Buffer; type: string | null }> {
  const res = await fetch(`${s.url}/v1/cache/${hash}`, { headers: { Accept: 'application/octet-stream', ...auth(token) } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type') };
}

async function health(s: Running): Promise<{ status: string; entries: number; bytes: number }> {
  const res = await fetch(`${s.url}/health`);
  expect(res.status).toBe(200);
  return (await res.json()) as { status: string; entries: number; bytes: number };
}

const tempFiles = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('.tmp-'));

async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('lambda-hat cache serve', () => {
  let open: Running;
  beforeAll(async () => {
    open = await serve();
  });

  it('warns that a server without tokens is open', async () => {
    await until('the warning', () => open.log().includes('warning'));
    expect(open.log()).toMatch(/^lambda-hat cache: warning: no --read-token or --write-token/m);
  });

  it('stores an entry and returns the same bytes, as application/octet-stream', async () => {
    const body = randomBytes(100_000);
    expect(await put(open, 'roundtrip123', body)).toBe(200);
    const r = await get(open, 'roundtrip123');
    expect(r.status).toBe(200);
    expect(r.type).toBe('application/octet-stream');
    expect(r.body.equals(body)).toBe(true);
    expect(readFileSync(join(open.dir, 'roundtrip123')).equals(body)).toBe(true);
  });

  it('answers 404 for a hash it does not have', async () => {
    expect((await get(open, 'absent0')).status).toBe(404);
  });

  it('keeps entries immutable: a second PUT of a hash is 409 and the first bytes stay', async () => {
    const first = Buffer.from('first');
    expect(await put(open, 'immutable1', first)).toBe(200);
    expect(await put(open, 'immutable1', Buffer.from('second'))).toBe(409);
    expect((await get(open, 'immutable1')).body.equals(first)).toBe(true);
  });

  it('of 8 concurrent PUTs of one hash exactly one wins, and GET returns the winner’s bytes', async () => {
    const bodies = Array.from({ length: 8 }, () => randomBytes(512 * 1024));
    const statuses = await Promise.all(bodies.map((b) => put(open, 'contended', b)));
    expect([...statuses].sort()).toEqual([200, 409, 409, 409, 409, 409, 409, 409]);
    const winner = bodies[statuses.indexOf(200)];
    const r = await get(open, 'contended');
    expect(r.status).toBe(200);
    expect(r.body.equals(winner)).toBe(true);
    expect(tempFiles(open.dir)).toEqual([]);
  });

  it('rejects a hash with other characters than [A-Za-z0-9_-] or longer than 128 with 400', async () => {
    expect((await get(open, 'a.b')).status).toBe(400);
    expect(await put(open, 'x'.repeat(129), Buffer.from('x'))).toBe(400);
    expect((await get(open, 'x'.repeat(128))).status).toBe(404);
  });

  it('never serves a truncated upload, and removes its temp file', async () => {
    const { hostname, port } = new URL(open.url);
    const socket = connect(Number(port), hostname);
    await new Promise<void>((ok) => socket.once('connect', () => ok()));
    socket.write('PUT /v1/cache/truncated HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n');
    socket.write(randomBytes(10));
    // While the upload is under way its bytes are in a temp file, and the entry does not exist.
    await until('the temp file', () => tempFiles(open.dir).length === 1);
    expect((await get(open, 'truncated')).status).toBe(404);
    socket.destroy();
    await until('the log line of the aborted PUT', () => /^PUT truncated 400 /m.test(open.log()));
    expect((await get(open, 'truncated')).status).toBe(404);
    expect(tempFiles(open.dir)).toEqual([]);
    expect(readdirSync(open.dir)).not.toContain('truncated');
  });

  it('answers /health without a token, with the entries and their bytes', async () => {
    const files = readdirSync(open.dir).filter((f) => !f.startsWith('.'));
    const bytes = files.reduce((sum, f) => sum + statSync(join(open.dir, f)).size, 0);
    expect(await health(open)).toEqual({ status: 'ok', entries: files.length, bytes });
  });

  it('logs one line per request: method, hash, status, bytes, hit or miss, milliseconds', () => {
    expect(open.log()).toMatch(/^PUT roundtrip123 200 100000B [\d.]+ms$/m);
    expect(open.log()).toMatch(/^GET roundtrip123 200 100000B hit [\d.]+ms$/m);
    expect(open.log()).toMatch(/^GET absent0 404 0B miss [\d.]+ms$/m);
    expect(open.log()).toMatch(/^PUT immutable1 409 6B [\d.]+ms$/m);
  });

  it('stops on SIGTERM with status 0', async () => {
    const s = await serve();
    expect(await s.stop()).toBe(0);
  });

  it('prints a one-line usage error and exits with 2 for an unknown flag or a missing --dir', () => {
    for (const args of [['serve', '--dir', tempDir(), '--bogus'], ['serve'], ['serve', '--dir', tempDir(), '--max-bytes', 'lots'], ['clean']]) {
      const r = spawnSync(process.execPath, [BIN, 'cache', ...args], { cwd: REPO, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/usage: lambda-hat cache serve --dir <dir>/);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });
});

describe('tokens', () => {
  let s: Running;
  beforeAll(async () => {
    s = await serve(['--read-token', 'reader', '--write-token', 'writer']);
  });

  it('missing or wrong token: 401, as text/plain (Nx prints the body then)', async () => {
    const missing = await get(s, 'tok1');
    expect(missing.status).toBe(401);
    expect(missing.type).toBe('text/plain');
    expect((await get(s, 'tok1', 'nope')).status).toBe(401);
    expect(await put(s, 'tok1', Buffer.from('x'), 'nope')).toBe(401);
    expect(await put(s, 'tok1', Buffer.from('x'))).toBe(401);
  });

  it('the read token may GET, not PUT (403); the write token may both', async () => {
    expect(await put(s, 'tok1', Buffer.from('by reader'), 'reader')).toBe(403);
    expect((await get(s, 'tok1', 'reader')).status).toBe(404);
    expect(await put(s, 'tok1', Buffer.from('by writer'), 'writer')).toBe(200);
    const r = await get(s, 'tok1', 'reader');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('by writer');
    expect((await get(s, 'tok1', 'writer')).status).toBe(200);
  });

  it('health needs no token', async () => {
    expect(await health(s)).toEqual({ status: 'ok', entries: 1, bytes: 9 });
  });
});

describe('--max-bytes', () => {
  it('evicts the least recently read entries to stay within the limit, and refuses a larger entry with 413', async () => {
    const s = await serve(['--max-bytes', '3000']);
    const body = (c: string) => Buffer.alloc(1000, c);
    for (const h of ['a', 'b', 'c']) expect(await put(s, `lru-${h}`, body(h))).toBe(200);
    expect(await health(s)).toMatchObject({ entries: 3, bytes: 3000 });
    // Read a: b is now the least recently used.
    expect((await get(s, 'lru-a')).status).toBe(200);
    expect(await put(s, 'lru-d', body('d'))).toBe(200);
    expect((await get(s, 'lru-b')).status).toBe(404);
    for (const h of ['a', 'c', 'd']) expect((await get(s, `lru-${h}`)).body.equals(body(h))).toBe(true);
    expect(await health(s)).toMatchObject({ entries: 3, bytes: 3000 });
    expect(readdirSync(s.dir).sort()).toEqual(['lru-a', 'lru-c', 'lru-d']);
    // Reading order now a, c, d: the next entry evicts a.
    expect(await put(s, 'lru-e', body('e'))).toBe(200);
    expect(readdirSync(s.dir).sort()).toEqual(['lru-c', 'lru-d', 'lru-e']);
    expect(await put(s, 'lru-big', Buffer.alloc(3001))).toBe(413);
    expect((await get(s, 'lru-big')).status).toBe(404);
    expect(readdirSync(s.dir).sort()).toEqual(['lru-c', 'lru-d', 'lru-e']);
  });
});

describe('a full disk', () => {
  it('answers 507 to an upload larger than the free space, serves nothing for it, and keeps working', async (ctx) => {
    if (process.getuid?.() !== 0) ctx.skip('needs root to mount a 64 KiB tmpfs (CI runs as root)');
    const dir = tempDir();
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { encoding: 'utf8' });
    if (mount.status !== 0) ctx.skip(`cannot mount a tmpfs here (${(mount.stderr || mount.error?.message || '').trim()})`);
    try {
      const s = await serve([], dir);
      expect(await put(s, 'toobig', randomBytes(256 * 1024))).toBe(507);
      expect((await get(s, 'toobig')).status).toBe(404);
      expect(readdirSync(dir)).toEqual([]);
      expect(s.log()).toMatch(/^PUT toobig 507 262144B \(write failed: .*ENOSPC/m);
      // The space is free again.
      const small = randomBytes(8 * 1024);
      expect(await put(s, 'small', small)).toBe(200);
      expect((await get(s, 'small')).body.equals(small)).toBe(true);
      expect(await health(s)).toMatchObject({ entries: 1, bytes: small.length });
      expect(await s.stop()).toBe(0);
    } finally {
      spawnSync('umount', [dir]);
    }
  });
});

/** Every file under `dir`, by relative path, with its bytes. */
function snapshot(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return files;
}

/** Whether this process may make a private mount namespace (root, or unprivileged user namespaces). */
const privateMounts = spawnSync('unshare', ['-m', 'true']).status === 0;

describe('the real nx CLI against the server', () => {
  const experiment = `experiment: shared
targets:
  - { model: small, data: small, seed: 1, overrides: { training: { steps: 50 } } }
samplers:
  - { name: sgld, overrides: { steps: 200, warmup: 20, eval_every: 20, batch_size: 32 } }
`;
  const machines: ScratchWorkspace[] = [];
  afterAll(() => machines.forEach((ws) => ws.dispose()));

  /**
   * A fresh clone in a folder of its own, as on another machine: its own .nx, and its own
   * /etc/machine-id (Nx keys its local cache database by it), bind-mounted in a private mount namespace.
   */
  function machine(id: string): ScratchWorkspace {
    const ws = new ScratchWorkspace(experiment);
    machines.push(ws);
    ws.write('machine-id', `${id.repeat(32).slice(0, 32)}\n`);
    ws.prefix = ['unshare', '-m', 'sh', '-c', 'mount --bind "$0" /etc/machine-id && exec "$@"', ws.path('machine-id')];
    const [command, ...args] = [...ws.prefix, 'cat', '/etc/machine-id'];
    expect(spawnSync(command, args, { encoding: 'utf8' }).stdout.trim()).toBe(id.repeat(32).slice(0, 32));
    return ws;
  }

  it.skipIf(!privateMounts)('a second clone on another machine id gets every task from the remote cache, byte for byte', async () => {
    const s = await serve(['--read-token', 'reader', '--write-token', 'writer']);
    const ws = machine('a');
    const other = machine('b');
    expect(other.root).not.toBe(ws.root);
    for (const w of [ws, other]) w.env.NX_SELF_HOSTED_REMOTE_CACHE_SERVER = s.url;
    ws.env.NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN = 'writer';
    const first = ws.nx('run-many', '-t', 'sample');
    expect(first.status, first.output).toBe(0);
    expect(first.cached).toEqual([]);
    const tasks = first.ran;
    expect(tasks.length).toBeGreaterThanOrEqual(3);
    expect((await health(s)).entries).toBeGreaterThanOrEqual(tasks.length);
    const artifacts = snapshot(ws.path('artifacts'));

    // A pull request's job on the other machine: the read token.
    other.env.NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN = 'reader';
    const second = other.nx('run-many', '-t', 'sample');
    expect(second.status, second.output).toBe(0);
    expect(second.ran).toEqual([]);
    expect(second.cached).toEqual(tasks);
    for (const m of second.output.matchAll(/^> nx run (\S+)(.*)$/gm)) if (!second.summaries.includes(m[1])) expect(m[2], m[1]).toContain('[remote cache]');
    // All but the summary at the end, which is never cached.
    expect(second.output).toContain(`Nx read the output from the cache instead of running the command for ${tasks.length} out of ${tasks.length + 1} tasks`);
    const restored = snapshot(other.path('artifacts'));
    expect([...restored.keys()].sort()).toEqual([...artifacts.keys()].sort());
    for (const [file, bytes] of artifacts) expect(restored.get(file)!.equals(bytes), file).toBe(true);
    // spawnSync blocked this process, so the server's log lines are read only now.
    await until('the log lines of the hits', () => s.log().match(/^GET \S+ 200 \d+B hit /gm)?.length === second.cached.length);
    // Misses (404) in the first run, and no other error status in either.
    const failures = s.log().split('\n').filter((l) => /^(GET|PUT) \S+ [45]\d\d /.test(l) && !/^GET \S+ 404 0B miss /.test(l));
    expect(failures).toEqual([]);
  });
});

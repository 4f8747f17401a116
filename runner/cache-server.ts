/**
 * `lambda-hat cache serve`: a remote cache server for Nx (README, "Sharing a cache").
 *
 *   lambda-hat cache serve --dir <dir> [--port 3000] [--host 127.0.0.1] [--read-token T]
 *                          [--write-token W] [--max-bytes N]
 *
 * It implements Nx's self-hosted remote cache specification (Nx ≥ 20.8 uses it when
 * NX_SELF_HOSTED_REMOTE_CACHE_SERVER is set): `PUT /v1/cache/<hash>` stores a task's cache entry (a
 * tar archive, taken as opaque bytes), `GET /v1/cache/<hash>` returns it. Entries are immutable:
 * a second PUT of a hash is 409. Each entry is the file `<dir>/<hash>`, written atomically: the
 * body goes to a temp file in the same directory, is checked against Content-Length and fsynced,
 * then hard-linked to its name (link() fails if the name exists, so of concurrent writers exactly
 * one wins). A reader never sees a partial entry; a truncated upload or a failed write leaves
 * nothing behind. `GET /health` answers without a token.
 *
 * Tokens: the read token may GET, the write token may GET and PUT; with neither the server is
 * open. `--max-bytes` bounds the directory: after each stored entry the least recently read (or
 * written) entries are removed until the total fits. One server per directory: the sizes and the
 * recency order are kept in memory, rebuilt from the directory (file sizes and mtimes) at start,
 * and a read touches the file's mtime so the order survives a restart.
 */
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import { constants, createReadStream, promises as fsp } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { withInputErrors } from '../rules/cli';
import { UserError } from '../rules/rule';

const USAGE =
  'usage: lambda-hat cache serve --dir <dir> [--port 3000] [--host 127.0.0.1] [--read-token T] [--write-token W] [--max-bytes N]';

const HASH = /^[A-Za-z0-9_-]{1,128}$/;
const TEMP_PREFIX = '.tmp-';
/** Temp files older than this at start are left over from a killed server, and removed. */
const STALE_TEMP_MS = 60 * 60 * 1000;

export interface CacheServerOptions {
  dir: string;
  host?: string;
  /** 0: any free port. */
  port?: number;
  readToken?: string;
  writeToken?: string;
  /** The most bytes the entries may take; undefined: no limit. */
  maxBytes?: number;
  /** One line per request; default: stderr. */
  log?: (line: string) => void;
}

export interface CacheServer {
  url: string;
  server: Server;
  /** Stops accepting, waits for the requests in progress (at most `graceMs`), then closes. */
  close(graceMs?: number): Promise<void>;
}

/** Sizes of the entries in least- to most-recently-used order (a Map keeps insertion order). */
class Index {
  private readonly entries = new Map<string, number>();
  bytes = 0;

  get size(): number {
    return this.entries.size;
  }

  has(hash: string): boolean {
    return this.entries.has(hash);
  }

  /** Adds or refreshes `hash` as the most recently used entry. */
  touch(hash: string, size: number): void {
    this.remove(hash);
    this.entries.set(hash, size);
    this.bytes += size;
  }

  remove(hash: string): void {
    const size = this.entries.get(hash);
    if (size === undefined) return;
    this.entries.delete(hash);
    this.bytes -= size;
  }

  /** The least recently used entry other than `keep`. */
  oldest(keep: string): string | undefined {
    for (const hash of this.entries.keys()) if (hash !== keep) return hash;
    return undefined;
  }
}

async function loadIndex(dir: string): Promise<Index> {
  const found: { hash: string; size: number; mtime: number }[] = [];
  for (const name of await fsp.readdir(dir)) {
    const path = join(dir, name);
    if (name.startsWith(TEMP_PREFIX)) {
      const st = await fsp.stat(path).catch(() => null);
      if (st && Date.now() - st.mtimeMs > STALE_TEMP_MS) await fsp.rm(path, { force: true });
      continue;
    }
    if (!HASH.test(name)) continue;
    const st = await fsp.stat(path).catch(() => null);
    if (st?.isFile()) found.push({ hash: name, size: st.size, mtime: st.mtimeMs });
  }
  const index = new Index();
  for (const e of found.sort((a, b) => a.mtime - b.mtime)) index.touch(e.hash, e.size);
  return index;
}

const digest = (s: string) => createHash('sha256').update(s).digest();
const sameToken = (given: string, expected: string) => timingSafeEqual(digest(given), digest(expected));

type Access = 'none' | 'read' | 'write';

function accessOf(req: IncomingMessage, opts: CacheServerOptions): Access | 'invalid' {
  if (opts.readToken === undefined && opts.writeToken === undefined) return 'write';
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!m) return 'none';
  if (opts.writeToken !== undefined && sameToken(m[1], opts.writeToken)) return 'write';
  if (opts.readToken !== undefined && sameToken(m[1], opts.readToken)) return 'read';
  return 'invalid';
}

interface Body {
  bytes: number;
  /** The client went away or the connection broke before the body was complete. */
  aborted: boolean;
  writeError?: Error;
}

/**
 * Streams the request body to `fh`, one chunk at a time (the request is paused while a chunk is
 * written). On a write error the rest of the body is read and dropped, so the client, still
 * sending, can read the response.
 */
function receive(req: IncomingMessage, fh: fsp.FileHandle): Promise<Body> {
  return new Promise((resolveBody) => {
    let bytes = 0;
    let writeError: Error | undefined;
    let pending: Promise<void> = Promise.resolve();
    let settled = false;
    const settle = (aborted: boolean) => {
      if (settled) return;
      settled = true;
      void pending.then(() => resolveBody({ bytes, aborted, writeError }));
    };
    req.on('data', (chunk: Buffer) => {
      if (writeError) return;
      req.pause();
      pending = (async () => {
        let off = 0;
        while (off < chunk.length) {
          const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
          off += bytesWritten;
          bytes += bytesWritten;
        }
      })().then(
        () => {
          req.resume();
        },
        (e: Error) => {
          writeError = e;
          req.resume();
          settle(false);
        },
      );
    });
    req.on('end', () => settle(false));
    req.on('error', () => settle(true));
    req.on('close', () => settle(!req.complete));
  });
}

export async function startCacheServer(opts: CacheServerOptions): Promise<CacheServer> {
  const dir = resolve(opts.dir);
  await fsp.mkdir(dir, { recursive: true });
  const index = await loadIndex(dir);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const inFlight = new Set<Promise<void>>();

  async function evict(keep: string): Promise<void> {
    if (opts.maxBytes === undefined) return;
    while (index.bytes > opts.maxBytes) {
      const victim = index.oldest(keep);
      if (victim === undefined) return;
      index.remove(victim);
      await fsp.rm(join(dir, victim), { force: true });
      log(`EVICT ${victim}`);
    }
  }

  async function put(req: IncomingMessage, hash: string): Promise<[number, string?]> {
    const lengthHeader = req.headers['content-length'];
    if (lengthHeader === undefined || !/^\d+$/.test(lengthHeader)) return [411, 'Content-Length required'];
    const length = Number(lengthHeader);
    if (opts.maxBytes !== undefined && length > opts.maxBytes) return [413, `entry of ${length} bytes exceeds --max-bytes ${opts.maxBytes}`];
    const final = join(dir, hash);
    if (index.has(hash) || (await fsp.access(final).then(() => true, () => false))) return [409, 'entry exists'];
    const temp = join(dir, `${TEMP_PREFIX}${hash}-${randomBytes(6).toString('hex')}`);
    let fh: fsp.FileHandle | undefined;
    let linked = false;
    try {
      try {
        fh = await fsp.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
      } catch (e) {
        return [507, `cannot create a temp file: ${(e as Error).message}`];
      }
      const body = await receive(req, fh);
      if (body.writeError) return [507, `write failed: ${body.writeError.message}`];
      if (body.aborted || body.bytes !== length) return [400, `incomplete upload: ${body.bytes} of ${length} bytes`];
      try {
        await fh.sync();
        await fh.close();
        fh = undefined;
      } catch (e) {
        return [507, `write failed: ${(e as Error).message}`];
      }
      try {
        await fsp.link(temp, final);
        linked = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return [409, 'entry exists; a concurrent upload won'];
        throw e;
      }
      index.touch(hash, length);
      await evict(hash);
      return [200];
    } finally {
      await fh?.close().catch(() => undefined);
      await fsp.rm(temp, { force: true }).catch(() => undefined);
      if (linked) await syncDir(dir);
    }
  }

  async function get(res: ServerResponse, hash: string): Promise<[number, string?, number?]> {
    const path = join(dir, hash);
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        index.remove(hash);
        return [404, 'not found'];
      }
      throw e;
    }
    // The open handle keeps the bytes readable even if the entry is evicted meanwhile.
    const { size } = await fh.stat();
    index.touch(hash, size);
    const now = new Date();
    void fsp.utimes(path, now, now).catch(() => undefined);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': size });
    // pipeline closes the file however the transfer ends (a client that goes away included).
    await pipeline(createReadStream('', { fd: fh, autoClose: true }), res).catch(() => undefined);
    return [200, undefined, size];
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const url = (req.url ?? '/').split('?')[0];
    let status = 500;
    let bytes = 0;
    let hash = '-';
    let note = '';
    const reply = (code: number, message?: string, headers: Record<string, string> = {}) => {
      status = code;
      if (res.headersSent) return;
      const text = message === undefined ? '' : `${message}\n`;
      // Nx's client insists on exactly `text/plain` on a 401 (it then prints the body) and calls any
      // other type a misconfigured endpoint.
      res.writeHead(code, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text), ...headers });
      res.end(text);
    };
    try {
      if (url === '/health') {
        if (req.method !== 'GET' && req.method !== 'HEAD') reply(405, 'method not allowed', { Allow: 'GET' });
        else {
          const text = JSON.stringify({ status: 'ok', entries: index.size, bytes: index.bytes });
          status = 200;
          res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
          res.end(text);
        }
        return;
      }
      const m = /^\/v1\/cache\/([^/]*)$/.exec(url);
      if (!m) return reply(404, 'not found');
      hash = m[1].slice(0, 200);
      if (req.method !== 'GET' && req.method !== 'PUT') return reply(405, 'method not allowed', { Allow: 'GET, PUT' });
      if (req.method === 'PUT') bytes = Number(req.headers['content-length'] ?? 0);
      const access = accessOf(req, opts);
      if (access === 'none' || access === 'invalid') return reply(401, access === 'none' ? 'missing bearer token' : 'invalid token', { 'WWW-Authenticate': 'Bearer' });
      if (req.method === 'PUT' && access !== 'write') return reply(403, 'this token may only read');
      if (!HASH.test(hash)) return reply(400, 'invalid hash');
      if (req.method === 'GET') {
        const [code, message, size] = await get(res, hash);
        note = code === 200 ? ' hit' : ' miss';
        bytes = size ?? 0;
        if (code === 200) status = 200;
        else reply(code, message);
      } else {
        const [code, message] = await put(req, hash);
        if (message && message !== 'entry exists') note = ` (${message})`;
        // The client may be gone (an aborted upload): then nothing can be sent.
        if (!req.socket.destroyed) reply(code, message);
        else status = code;
      }
    } catch (e) {
      note = ` (${(e as Error).message})`;
      reply(500, 'internal error');
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log(`${req.method} ${url === '/health' ? '/health' : hash} ${status} ${bytes}B${note} ${ms.toFixed(1)}ms`);
    }
  }

  const server = createServer((req, res) => {
    const p = handle(req, res);
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 3000, opts.host ?? '127.0.0.1', () => {
      server.off('error', fail);
      ok();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    server,
    async close(graceMs = 10_000) {
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      server.closeIdleConnections();
      const timer = new Promise<void>((ok) => setTimeout(ok, graceMs).unref());
      await Promise.race([Promise.all([...inFlight]), timer]);
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Makes a new directory entry durable; best effort (not every filesystem can fsync a directory). */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await fsp.open(dir, 'r');
    await fh.sync().catch(() => undefined);
    await fh.close();
  } catch {
    /* ignore */
  }
}

function parseSize(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+)([kKmMgGtT]?)$/.exec(text);
  if (!m) throw new UserError(`--${name} must be a number of bytes (optionally with k, M, G or T), not "${text}"; ${USAGE}`);
  const scale = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Number(m[1]) * scale;
}

async function serveCommand(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        dir: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'read-token': { type: 'string' },
        'write-token': { type: 'string' },
        'max-bytes': { type: 'string' },
      },
      strict: true,
    }).values;
  } catch (e) {
    throw new UserError(`${(e as Error).message}; ${USAGE}`);
  }
  if (!args.dir) throw new UserError(`missing --dir; ${USAGE}`);
  const port = args.port === undefined ? 3000 : Number(args.port);
  if (!/^\d+$/.test(args.port ?? '0') || port > 65535) throw new UserError(`--port must be a port number (0: any free port), not "${args.port}"; ${USAGE}`);
  for (const t of ['read-token', 'write-token'] as const) if (args[t] === '') throw new UserError(`--${t} must not be empty; ${USAGE}`);
  const maxBytes = parseSize('max-bytes', args['max-bytes']);
  const dir = resolve(args.dir);
  let cache: CacheServer;
  try {
    cache = await startCacheServer({ dir, port, host: args.host, readToken: args['read-token'], writeToken: args['write-token'], maxBytes });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE' || err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTDIR' || err.code === 'EEXIST')
      throw new UserError(`lambda-hat cache: ${err.message}`);
    throw e;
  }
  // The handlers go in before the URL is printed: whoever reads that line may signal at once.
  const stopped = new Promise<void>((done) => {
    const stop = (signal: string) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      console.error(`lambda-hat cache: ${signal}, stopping`);
      void cache.close().then(done);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  if (args['read-token'] === undefined && args['write-token'] === undefined)
    console.error('lambda-hat cache: warning: no --read-token or --write-token, so anyone who can reach this port may read and write the cache');
  console.log(`lambda-hat cache: serving ${dir} at ${cache.url}`);
  await stopped;
  return 0;
}

/** Entry point from bin/lambda-hat.js (`lambda-hat cache <subcommand>`): input mistakes exit with 2. */
export function main(argv: string[]): Promise<number> {
  return withInputErrors(async () => {
    const [sub, ...rest] = argv;
    if (sub !== 'serve') throw new UserError(sub === undefined ? USAGE : `unknown subcommand "cache ${sub}"; ${USAGE}`);
    return serveCommand(rest);
  });
}

import { closeSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let counter = 0;
function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${counter++}`);
}

/** A temporary name of tempName's making, with the writer's process id. */
const TEMP = /^\..+\.tmp-(\d+)-\d+$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const swept = new Set<string>();

/** Why writing can fail for reasons of the machine rather than the code, and what to do. */
const WRITE_FAILURES: Record<string, string> = {
  ENOSPC: 'no space is left on the device: free some, or put artifacts/ on a larger disk',
  EDQUOT: 'the disk quota is used up: free some space, or raise the quota',
  EACCES: 'permission denied: make the folder writable for this user',
  EPERM: 'not permitted: make the folder writable for this user',
  EROFS: 'the file system is read-only',
};

/** A write that failed for a reason of the machine (a full disk, permissions), naming the artifact: reported as its message alone. */
export class ArtifactWriteError extends Error {
  override name = 'ArtifactWriteError';
}

/** `e` as an ArtifactWriteError naming `artifact` when it is such a failure; otherwise `e` itself. */
function explained(artifact: string, e: unknown): unknown {
  const err = e as NodeJS.ErrnoException;
  const why = err?.code ? WRITE_FAILURES[err.code] : undefined;
  if (!why || e instanceof ArtifactWriteError) return e;
  const file = err.path && err.path !== artifact ? ` (writing ${err.path})` : '';
  return new ArtifactWriteError(`cannot write ${artifact}${file}: ${why} (${err.code}); nothing of it was kept`);
}

/**
 * Removes what killed writers left in `dir`: temporary files and directories whose process is gone
 * on this machine. Once per directory and process, the first time something is written there (a
 * folder of 10,000 runs is listed once, not once per run). Writers on other machines of a shared
 * filesystem are told apart only by process id; two machines writing one artifact at once is a
 * conflict of its own.
 */
export function removeStaleTemps(dir: string): void {
  if (swept.has(dir)) return;
  swept.add(dir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = TEMP.exec(name);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) rmSync(join(dir, name), { recursive: true, force: true });
  }
}

/**
 * A file written piece by piece under a temporary name in its own directory (so the final rename
 * never crosses file systems): readers see the previous file, or none, until `commit` renames it
 * into place; `abort` removes it.
 */
export class AtomicFile {
  /** Where the file is until it is committed. */
  readonly tempPath: string;
  private fd: number | null;

  constructor(readonly path: string) {
    this.tempPath = tempName(path);
    try {
      mkdirSync(dirname(path), { recursive: true });
      removeStaleTemps(dirname(path));
      this.fd = openSync(this.tempPath, 'w');
    } catch (e) {
      throw explained(path, e);
    }
  }

  write(data: string | Uint8Array): void {
    // A closed descriptor's number may already belong to another file: never write through it.
    if (this.fd === null) throw new Error(`${this.path}: written after it was closed`);
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    try {
      for (let done = 0; done < bytes.byteLength; ) done += writeSync(this.fd, bytes, done);
    } catch (e) {
      throw explained(this.path, e);
    }
  }

  /** Closes the temporary file: complete, and open to a check, but not yet in place. */
  finish(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  commit(): void {
    try {
      this.finish();
      renameSync(this.tempPath, this.path);
    } catch (e) {
      throw explained(this.path, e);
    }
  }

  abort(): void {
    try {
      this.finish();
    } finally {
      rmSync(this.tempPath, { force: true });
    }
  }
}

/** Writes a file so that readers see either the old content or the new, never a partial file. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const file = new AtomicFile(path);
  try {
    file.write(data);
    file.commit();
  } catch (e) {
    file.abort();
    throw e;
  }
}

/**
 * Builds a directory under a temporary name and moves it into place only when `fill` succeeds, so
 * an artifact directory is either complete or absent. An existing directory is replaced.
 */
export async function writeDirAtomic(path: string, fill: (tmpDir: string) => Promise<void> | void): Promise<void> {
  const tmp = tempName(path);
  try {
    mkdirSync(dirname(path), { recursive: true });
    removeStaleTemps(dirname(path));
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    await fill(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw explained(path, e);
  }
  try {
    if (existsSync(path)) {
      const old = tempName(path);
      renameSync(path, old);
      renameSync(tmp, path);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, path);
    }
  } catch (e) {
    throw explained(path, e);
  }
}

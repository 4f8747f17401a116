/**
 * A scratch copy of this workspace for tests that run the real `nx` CLI: its own experiment file,
 * artifacts and Nx cache, with node_modules linked to the repository's.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const REPO = join(__dirname, '..', '..');
const COPIED = ['package.json', 'package-lock.json', 'nx.json', 'tsconfig.json', 'tsconfig.base.json', 'bin', 'config', 'packages', 'plugins', 'rules'];

export interface NxResult {
  status: number | null;
  output: string;
  /** Tasks (`project:target`) that ran their executor in this invocation. */
  ran: string[];
  /** Tasks whose outputs came from the cache. */
  cached: string[];
}

export class ScratchWorkspace {
  readonly root = mkdtempSync(join(tmpdir(), 'lh-ws-'));

  /** With an experiment file, it replaces the repository's experiments; without, they are kept. */
  constructor(experimentYaml?: string) {
    for (const entry of COPIED) cpSync(join(REPO, entry), join(this.root, entry), { recursive: true });
    symlinkSync(join(REPO, 'node_modules'), join(this.root, 'node_modules'));
    if (experimentYaml !== undefined) {
      rmSync(join(this.root, 'config', 'experiments'), { recursive: true, force: true });
      this.write('config/experiments.yaml', experimentYaml);
    }
  }

  path(rel: string): string {
    return join(this.root, rel);
  }

  write(rel: string, text: string): void {
    mkdirSync(dirname(this.path(rel)), { recursive: true });
    writeFileSync(this.path(rel), text);
  }

  append(rel: string, text: string): void {
    appendFileSync(this.path(rel), text);
  }

  read(rel: string): Buffer {
    return readFileSync(this.path(rel));
  }

  remove(rel: string): void {
    rmSync(this.path(rel), { recursive: true, force: true });
  }

  exists(rel: string): boolean {
    return existsSync(this.path(rel));
  }

  /** Runs the workspace's nx (no daemon, no colours, static output) and classifies its tasks. */
  nx(...args: string[]): NxResult {
    const proc = spawnSync(join(this.root, 'node_modules', '.bin', 'nx'), [...args, '--outputStyle=static'], {
      cwd: this.root,
      encoding: 'utf8',
      env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', FORCE_COLOR: '0' },
      maxBuffer: 64 * 1024 * 1024,
    });
    const output = `${proc.stdout}${proc.stderr}`;
    const ran: string[] = [];
    const cached: string[] = [];
    for (const m of output.matchAll(/^> nx run (\S+)(.*)$/gm)) (/\[(local cache|remote cache|existing outputs match the cache)/.test(m[2]) ? cached : ran).push(m[1]);
    return { status: proc.status, output, ran: ran.sort(), cached: cached.sort() };
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

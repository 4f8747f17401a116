/**
 * A scratch copy of this workspace for tests that run the real `nx` CLI: its own experiment file,
 * artifacts and Nx cache, with node_modules linked to the repository's.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const REPO = join(__dirname, '..', '..');
const COPIED = ['package.json', '.gitignore', '.env', 'package-lock.json', 'nx.json', 'tsconfig.json', 'tsconfig.base.json', 'bin', 'config', 'packages', 'plugins', 'runner', 'rules'];

/** What Nx 23 reads to decide it is driven by an AI agent (its native is_ai_agent). */
const AI_AGENT_VARIABLES = ['CLAUDECODE', 'CLAUDE_CODE', 'CODEX_THREAD_ID', 'SUPERSET_AGENT_ID', 'CURSOR_TRACE_ID', 'COMPOSER_NO_INTERACTION', 'GEMINI_CLI', 'REPL_ID', 'VSCODE_AGENT', 'OPENCODE', 'COPILOT_CLI'];

export interface NxResult {
  status: number | null;
  output: string;
  /** Tasks (`project:target`) that ran their executor in this invocation. */
  ran: string[];
  /** Tasks whose outputs came from the cache. */
  cached: string[];
  /** Experiments' `sample` tasks, which print the run table every time (never cached, so in neither list). */
  summaries: string[];
}

function classify(status: number | null, output: string): NxResult {
  const ran = new Set<string>();
  const cached = new Set<string>();
  const summaries = new Set<string>();
  // In batch mode Nx may head a batch's own output with the line of its task, then print the task's.
  for (const m of output.matchAll(/^> nx run (\S+)(.*)$/gm)) {
    const [project, target] = m[1].split(':');
    // The summary's output (rules/summary.ts) begins `<experiment>: <n> runs` or `<experiment>: no results yet`.
    const next = output.slice(m.index! + m[0].length).trimStart();
    if (target === 'sample' && (next.startsWith(`${project}: `) && /^\S+: (\d+ runs|no results yet)/.test(next))) summaries.add(m[1]);
    else (/\[(local cache|remote cache|existing outputs match the cache)/.test(m[2]) ? cached : ran).add(m[1]);
  }
  return { status, output, ran: [...ran].sort(), cached: [...cached].sort(), summaries: [...summaries].sort() };
}

export class ScratchWorkspace {
  readonly root = mkdtempSync(join(tmpdir(), 'lh-ws-'));
  /** Environment for the nx runs, over this process's. */
  readonly env: Record<string, string> = {};
  /** A command nx runs under (its arguments then follow), e.g. a private mount namespace. */
  prefix: string[] = [];

  /** With an experiment file, it replaces the repository's experiments and tuning files; without, they are kept. */
  constructor(experimentYaml?: string) {
    for (const entry of COPIED) cpSync(join(REPO, entry), join(this.root, entry), { recursive: true });
    symlinkSync(join(REPO, 'node_modules'), join(this.root, 'node_modules'));
    if (experimentYaml !== undefined) {
      rmSync(join(this.root, 'config', 'experiments'), { recursive: true, force: true });
      rmSync(join(this.root, 'config', 'tune'), { recursive: true, force: true });
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

  private nxCommand(args: string[]): [string, string[], { cwd: string; env: NodeJS.ProcessEnv }] {
    const env = { ...process.env, ...this.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', FORCE_COLOR: '0' };
    // Static unless the test names a style (a continuous task's output shows only when it ends under static).
    const style = args.some((a) => a.startsWith('--outputStyle')) ? [] : ['--outputStyle=static'];
    const nx = [join(this.root, 'node_modules', '.bin', 'nx'), ...args, ...style];
    const [command, ...argv] = [...this.prefix, ...nx];
    return [command, argv, { cwd: this.root, env }];
  }

  /** Runs the workspace's nx (no daemon, no colours, static output unless `args` name a style) and classifies its tasks. */
  nx(...args: string[]): NxResult {
    const [command, argv, options] = this.nxCommand(args);
    const proc = spawnSync(command, argv, { ...options, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    return classify(proc.status, `${proc.stdout}${proc.stderr}`);
  }

  /**
   * The environment of nx as a person types it: no output-style or terminal-UI choice of ours or of
   * the shell running the tests, and none of the variables by which Nx takes itself to be driven by
   * an AI agent (it then prints no task output at all), so that the workspace's own settings (.env)
   * decide; this workspace's `env`, then the call's (CI, say), go over it. No daemon still.
   */
  private asTypedEnv(env: Record<string, string>): NodeJS.ProcessEnv {
    const base: NodeJS.ProcessEnv = { ...process.env };
    for (const name of ['NX_TUI', 'NX_DEFAULT_OUTPUT_STYLE', 'NX_VERBOSE_LOGGING', 'NX_STREAM_OUTPUT', ...AI_AGENT_VARIABLES]) delete base[name];
    return { ...base, ...this.env, ...env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', FORCE_COLOR: '0' };
  }

  /** Runs nx with no `--outputStyle`, off a terminal (its output to pipes, as in CI or `| less`). */
  nxAsTyped(args: string[], env: Record<string, string> = {}): NxResult {
    const proc = spawnSync(join(this.root, 'node_modules', '.bin', 'nx'), args, { cwd: this.root, env: this.asTypedEnv(env), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    return classify(proc.status, `${proc.stdout}${proc.stderr}`);
  }

  /**
   * Runs nx with no `--outputStyle` on a terminal: a 120 × 40 pseudo-terminal from util-linux
   * `script`, not in CI, where Nx starts its terminal UI unless the workspace says otherwise
   * (node_modules/nx/dist/src/tasks-runner/is-tui-enabled.js). The output comes back without
   * terminal control sequences and carriage returns.
   */
  nxOnTerminal(args: string[], env: Record<string, string> = {}): { status: number | null; output: string } {
    const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    const command = `stty cols 120 rows 40; ${[join(this.root, 'node_modules', '.bin', 'nx'), ...args].map(quote).join(' ')}`;
    const proc = spawnSync('script', ['-qec', command, '/dev/null'], { cwd: this.root, env: this.asTypedEnv({ TERM: 'xterm-256color', CI: 'false', ...env }), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    // CSI sequences, OSC sequences (ended by BEL or ESC \), then any other escape.
    const output = `${proc.stdout}${proc.stderr}`.replace(/\x1b\[[0-9;?<>=]*[ -\/]*[@-~]/g, '').replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, '').replace(/\x1b./g, '').replace(/\r/g, '');
    return { status: proc.status, output };
  }

  /**
   * Starts nx without waiting, for tests that act while it runs (cancel a job, interrupt). It leads
   * its own process group, so `process.kill(-child.pid, 'SIGINT')` acts as Ctrl-C in a terminal.
   */
  nxInBackground(...args: string[]): { child: ChildProcess; done: Promise<NxResult> } {
    const [command, argv, options] = this.nxCommand(args);
    const child = spawn(command, argv, { ...options, detached: true });
    let output = '';
    child.stdout!.on('data', (b) => (output += b));
    child.stderr!.on('data', (b) => (output += b));
    const done = new Promise<NxResult>((resolve) => child.on('close', (code) => resolve(classify(code, output))));
    return { child, done };
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/**
 * `lambda-hat watch`: reruns what an edit reaches, whenever an experiment file, a tuning file, a
 * preset or a card under config/ is saved.
 *
 *   lambda-hat watch [-t <target>] [-p <experiment>] [--debounce <ms>]
 *
 * It runs `nx run-many -t <target>` (default `sample`) once at the start and again after each
 * burst of saves (chokidar events, debounced), printing which files changed and which tasks ran
 * again; everything an edit did not reach is a cache hit, so "what re-ran" is exactly what the edit
 * affected. Saves during a run queue one more run. Nx runs without its daemon, as everywhere here.
 *
 * With `-p <experiment>` it runs that experiment's project only (`nx run-many -t <target> -p
 * <experiment>`), and saves of other experiments' files and of tuning files start nothing: they
 * cannot reach it. The experiment's own file is the one whose `experiment:` key names it. This is
 * what an experiment's Nx target `watch` runs (plugins/lambda-hat/src/watch-executor.ts).
 */
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { watch } from 'chokidar';
import { execa, ResultPromise } from 'execa';
import { withInputErrors } from '../rules/cli';
import { declaredName } from '../rules/experiment/names';
import { UserError } from '../rules/rule';

const WATCHED = 'config';
/** A burst of saves, as an editor's "save all" makes, becomes one run. */
export const DEFAULT_DEBOUNCE_MS = 300;
/**
 * How nx runs (execa): its output read here as it comes (and not kept by execa too), a failure as a
 * result rather than a rejection. It is stopped as a terminal stops it, with SIGINT, also when this
 * process exits any other way; Nx then stops its tasks and exits, and if it has not within 30 s it
 * is killed. The environment is nxEnvironment()'s alone: execa would add back what that leaves out.
 */
const NX_PROCESS = { stdin: 'ignore', buffer: false, reject: false, killSignal: 'SIGINT', forceKillAfterDelay: 30_000, extendEnv: false } as const;

/** Which tasks a run computed and which came from the cache, from Nx's static output. */
export function tasksOfRun(output: string): { ran: string[]; cached: string[] } {
  const ran = new Set<string>();
  const cached = new Set<string>();
  for (const m of output.matchAll(/^> nx run (\S+)(.*)$/gm)) (/\[(local cache|remote cache|existing outputs match the cache)/.test(m[2]) ? cached : ran).add(m[1]);
  for (const t of ran) cached.delete(t);
  return { ran: [...ran].sort(), cached: [...cached].sort() };
}

/** The experiment and tuning files the plugin makes projects of (plugins/lambda-hat/index.ts, EXPERIMENT_FILES), by workspace-relative path. */
const isExperimentFile = (rel: string) => rel === 'config/experiments.yaml' || /^config\/experiments\/[^/]+\.yaml$/.test(rel);
const isTuningFile = (rel: string) => /^config\/tune\/[^/]+\.yaml$/.test(rel);

/**
 * Whether a saved file can reach experiment `project`: a preset or a card can, another experiment's
 * file or a tuning file cannot. `own` holds the files that declared the experiment when last read,
 * so that the save that renames it, or removes the file, still runs (and Nx says what became of it).
 */
export function reaches(root: string, rel: string, project: string, own: Set<string>): boolean {
  if (isTuningFile(rel)) return false;
  if (!isExperimentFile(rel)) return true;
  const declares = declaredName(join(root, rel), 'experiment') === project;
  const was = own.has(rel);
  if (declares) own.add(rel);
  else own.delete(rel);
  return declares || was;
}

/**
 * The environment of the nx that watch starts. Under an experiment's `watch` target, watch itself
 * runs as an Nx task, whose environment carries what Nx sets for that task alone (its project and
 * target, its hash, the file its output goes to, whether it streams; node_modules/nx/dist/src/
 * tasks-runner/task-env.js): the nx it starts is a command of its own, and its tasks get their own.
 */
function nxEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false' };
  for (const name of Object.keys(env)) if (/^NX_(TASK_|TERMINAL_|STREAM_OUTPUT$|PREFIX_OUTPUT$|FORKED_TASK_EXECUTOR$)/.test(name)) delete env[name];
  return env;
}

export interface WatchOptions {
  /** The workspace. */
  root: string;
  /** The Nx target to run (`sample`). */
  target: string;
  /** One experiment's project to run, instead of every project with the target. */
  project?: string;
  debounceMs: number;
}

/** Watches config/ and runs nx until SIGINT or SIGTERM; resolves to 130, the status of an interrupted command. */
export async function watchConfig({ root, target, project, debounceMs }: WatchOptions): Promise<number> {
  const log = (line: string) => console.log(`lambda-hat watch: ${line}`);
  const nxArgs = ['run-many', '-t', target, ...(project ? ['-p', project] : [])];
  const command = `nx ${nxArgs.join(' ')}`;
  const own = new Set<string>();

  let child: ResultPromise<typeof NX_PROCESS> | null = null;
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;

  const run = (changed: string[]) => {
    log(changed.length ? `changed ${changed.join(', ')}; running ${command}` : `running ${command}`);
    let output = '';
    child = execa(join(root, 'node_modules', '.bin', 'nx'), [...nxArgs, '--outputStyle=static'], { ...NX_PROCESS, cwd: root, env: nxEnvironment() });
    child.stdout!.on('data', (b: Buffer) => {
      output += b;
      process.stdout.write(b);
    });
    child.stderr!.on('data', (b: Buffer) => {
      output += b;
      process.stderr.write(b);
    });
    void child.then((result) => {
      child = null;
      if (stopped) return;
      const { ran, cached } = tasksOfRun(output);
      // execa's first line names the command and how it ended: its exit status, or why it could not start.
      log(`${result.failed ? `failed (${result.shortMessage?.split('\n')[0]})` : 'done'}: re-ran ${ran.length ? ran.join(', ') : 'nothing'}; ${cached.length} cached`);
      if (pending.size) schedule();
      else log(`watching ${WATCHED}/${project ? ` for experiment ${project}` : ''} (Ctrl-C to stop)`);
    });
  };
  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      if (child || stopped) return; // the run's end schedules again
      const changed = [...pending].sort();
      pending = new Set();
      run(changed);
    }, debounceMs);
  };

  const watcher = watch(join(root, WATCHED), { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 20 } });
  watcher.on('all', (event, path) => {
    if (!/\.ya?ml$/.test(path) || !['add', 'change', 'unlink'].includes(event)) return;
    const rel = relative(root, path);
    if (project && !reaches(root, rel, project, own)) return;
    pending.add(rel);
    schedule();
  });
  await new Promise<void>((ready) => watcher.on('ready', () => ready()));
  if (project) {
    // The experiment's own file as it is now, so that a later save that renames the experiment still counts.
    const watched = watcher.getWatched();
    for (const [dir, names] of Object.entries(watched)) for (const name of names) reaches(root, relative(root, join(dir, name)), project, own);
  }
  run([]);
  return new Promise<number>((done) => {
    const stop = () => {
      if (stopped) return;
      stopped = true;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (timer) clearTimeout(timer);
      // execa's promise, not the 'close' event: it settles however nx ended, even if that was just now.
      const finished = child ?? Promise.resolve();
      child?.kill('SIGINT');
      // Resolved once the nx it started has exited too, so that stopping leaves nothing running.
      void Promise.all([watcher.close(), finished]).then(() => done(130));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

async function watchCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { target: { type: 'string', short: 't', default: 'sample' }, project: { type: 'string', short: 'p' }, debounce: { type: 'string', default: String(DEFAULT_DEBOUNCE_MS) } },
    strict: true,
  });
  const debounceMs = Number(values.debounce);
  if (!Number.isFinite(debounceMs) || debounceMs < 0) throw new UserError(`--debounce must be a number of milliseconds, not "${values.debounce}"`);
  return watchConfig({ root: resolve(__dirname, '..'), target: values.target!, project: values.project, debounceMs });
}

/** Entry point from bin/lambda-hat.js. */
export function main(argv: string[]): Promise<number> {
  return withInputErrors(() => watchCommand(argv));
}

/**
 * `lambda-hat watch`: reruns what an edit reaches, whenever an experiment file, a tuning file, a
 * preset or a card under config/ is saved.
 *
 *   lambda-hat watch [-t <target>] [--debounce <ms>]
 *
 * It runs `nx run-many -t <target>` (default `sample`) once at the start and again after each
 * burst of saves (chokidar events, debounced), printing which files changed and which tasks ran
 * again; everything an edit did not reach is a cache hit, so "what re-ran" is exactly what the edit
 * affected. Saves during a run queue one more run. Nx runs without its daemon, as everywhere here.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { watch } from 'chokidar';
import { withInputErrors } from '../rules/cli';
import { UserError } from '../rules/rule';

const ROOT = resolve(__dirname, '..');
const WATCHED = 'config';

/** Which tasks a run computed and which came from the cache, from Nx's static output. */
export function tasksOfRun(output: string): { ran: string[]; cached: string[] } {
  const ran = new Set<string>();
  const cached = new Set<string>();
  for (const m of output.matchAll(/^> nx run (\S+)(.*)$/gm)) (/\[(local cache|remote cache|existing outputs match the cache)/.test(m[2]) ? cached : ran).add(m[1]);
  for (const t of ran) cached.delete(t);
  return { ran: [...ran].sort(), cached: [...cached].sort() };
}

async function watchCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { target: { type: 'string', short: 't', default: 'sample' }, debounce: { type: 'string', default: '300' } }, strict: true });
  const debounceMs = Number(values.debounce);
  if (!Number.isFinite(debounceMs) || debounceMs < 0) throw new UserError(`--debounce must be a number of milliseconds, not "${values.debounce}"`);
  const target = values.target!;
  const log = (line: string) => console.log(`lambda-hat watch: ${line}`);

  let child: ChildProcess | null = null;
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | null = null;

  const run = (changed: string[]) => {
    log(changed.length ? `changed ${changed.join(', ')}; running nx run-many -t ${target}` : `running nx run-many -t ${target}`);
    let output = '';
    child = spawn(join(ROOT, 'node_modules', '.bin', 'nx'), ['run-many', '-t', target, '--outputStyle=static'], {
      cwd: ROOT,
      env: { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (b: Buffer) => {
      output += b;
      process.stdout.write(b);
    });
    child.stderr!.on('data', (b: Buffer) => {
      output += b;
      process.stderr.write(b);
    });
    child.on('close', (code) => {
      child = null;
      const { ran, cached } = tasksOfRun(output);
      log(`${code === 0 ? 'done' : `failed (status ${code})`}: re-ran ${ran.length ? ran.join(', ') : 'nothing'}; ${cached.length} cached`);
      if (pending.size) schedule();
      else log(`watching ${WATCHED}/ (Ctrl-C to stop)`);
    });
  };
  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      if (child) return; // the run's end schedules again
      const changed = [...pending].sort();
      pending = new Set();
      run(changed);
    }, debounceMs);
  };

  const watcher = watch(join(ROOT, WATCHED), { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 20 } });
  watcher.on('all', (event, path) => {
    if (!/\.ya?ml$/.test(path) || !['add', 'change', 'unlink'].includes(event)) return;
    pending.add(relative(ROOT, path));
    schedule();
  });
  await new Promise<void>((ready) => watcher.on('ready', () => ready()));
  run([]);
  return new Promise<number>((done) => {
    const stop = () => {
      void watcher.close();
      child?.kill('SIGINT');
      done(130);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** Entry point from bin/lambda-hat.js. */
export function main(argv: string[]): Promise<number> {
  return withInputErrors(() => watchCommand(argv));
}

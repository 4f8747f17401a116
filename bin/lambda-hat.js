#!/usr/bin/env node
// The `lambda-hat` command (`npx lambda-hat …` in this workspace). It loads the TypeScript sources
// directly (no build step, so code and cache keys never disagree). Each command lives in one module
// whose `main(args)` resolves to the exit status: the workers' CLI in rules/, what drives workers,
// serves a cache or keys tasks in runner/.

const COMMANDS = {
  validate: { module: '../rules/cli.ts', usage: 'validate <experiment.yaml>', summary: 'check an experiment file; list its targets and runs (sweeps expanded)' },
  plan: { module: '../runner/plan.ts', usage: 'plan [experiment.yaml]...', summary: 'what a run would do: each target and run done, to run or failed last time' },
  tune: { module: '../runner/tune-cli.ts', usage: 'tune --config <tune.yaml> [--set key=value]... [--dry-run] [--backend name] [--card file]', summary: "tune samplers' hyperparameters against HMC" },
  watch: { module: '../runner/watch.ts', usage: 'watch [-t <target>] [-p <experiment>] [--debounce <ms>]', summary: 'rerun what an edit reaches whenever a file under config/ is saved' },
  clean: { module: '../runner/plan.ts', usage: 'clean [--yes]', summary: 'list (with --yes: remove) artifacts no experiment or tuning file refers to' },
  cache: { module: '../runner/cache-server.ts', usage: 'cache serve --dir <dir> [--port P] [--host H] [--read-token T] [--write-token W] [--max-bytes N]', summary: "serve Nx's remote cache from a folder" },
  doctor: { module: '../rules/cli.ts', usage: 'doctor', summary: 'what this machine offers: kernels, GPU, BLAS, Slurm' },
  run: { module: '../rules/cli.ts', usage: 'run <rule> <task.json>', summary: 'run one task by hand (what a worker does)' },
  serve: { module: '../rules/cli.ts', usage: 'serve', summary: 'a warm worker: runs the tasks its parent process sends (internal)' },
  chunk: { module: '../runner/chunk.ts', usage: 'chunk <submission dir> <element>', summary: "run one Slurm job's chunk of tasks (internal)" },
  'kernel-key': { module: '../runner/kernel-keys.ts', usage: 'kernel-key <float32|float64>...', summary: 'the kernel identities cache keys carry (internal, an Nx runtime input)' },
};

const version = () => require('../package.json').version;
const help = () =>
  [
    `lambda-hat ${version()}: the local learning coefficient of neural networks, as Nx tasks`,
    'usage: lambda-hat <command> [options]    (lambda-hat <command> --help for one command)',
    '',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(11)} ${c.summary}`),
    '',
    'Experiments run through Nx: npx nx run-many -t sample (README.md)',
  ].join('\n');

/**
 * Ends the process with `code` once everything written to stdout and stderr has been handed to the
 * operating system. process.exit() alone drops what a pipe has not taken yet: a `validate` whose
 * thousands of problems outran a slow reader (`… 2>&1 | less`, a CI log collector) lost all but
 * the first 64 KiB, cut mid-line. A write's callback runs once the writes before it are done, so
 * an empty write on each stream marks the end of its output. The exit itself stays explicit: a
 * command may leave handles open (a worker pool, a watcher) that would otherwise keep it running.
 */
function exitWhenWritten(code) {
  process.exitCode = code;
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  // The callback also runs, with an error, when the reader has gone away (EPIPE): exit then too.
  process.stdout.write('', done);
  process.stderr.write('', done);
}

/** The command's exit status, once it is done. */
async function run() {
  const [name, ...rest] = process.argv.slice(2);
  const command = COMMANDS[name];
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return 0;
  } else if (name === '--version' || name === '-V') {
    console.log(version());
    return 0;
  } else if (!command) {
    console.error(`lambda-hat: unknown command "${name}"\n\n${help()}`);
    return 2;
  } else if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`usage: lambda-hat ${command.usage}\n  ${command.summary}`);
    return 0;
  }
  require('./typescript.js').registerTypeScript();
  // A module that serves several commands is told which one.
  const args = Object.values(COMMANDS).filter((c) => c.module === command.module).length > 1 ? [name, ...rest] : rest;
  return require(command.module).main(args);
}

run().then(exitWhenWritten, (e) => {
  console.error(e);
  exitWhenWritten(1);
});

/**
 * The `lambda-hat` command: the worker entry point every backend calls, plus tools for users.
 *
 *   lambda-hat run <rule> <task.json>      run one task (a worker process; a Slurm job step)
 *   lambda-hat serve                       a warm worker: runs the tasks its parent sends (serve.ts)
 *   lambda-hat validate <experiment.yaml>  check an experiment file, list its targets and runs (sweeps expanded)
 *   lambda-hat doctor                      what this machine offers: kernels, GPU, BLAS, Slurm
 *   lambda-hat kernel-key <precision>...   the kernel identities cache keys carry (runner/kernel-keys.ts)
 *   lambda-hat tune --config <tune.yaml>    tune samplers' hyperparameters (runner/tune-cli.ts)
 *
 * Mistakes in input (ConfigError, UserError) print their message alone and exit with status 2;
 * anything else is a bug and prints its stack.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_PRESETS, loadExperiment } from './experiment';
import { doctor } from './doctor';
import { RULES } from './index';
import { INPUT_ERROR_STATUS, isInputError, runRule, UserError } from './rule';
import { serve } from './serve';

const USAGE = `usage:
  lambda-hat run <rule> <task.json>       rules: ${Object.keys(RULES).join(', ')}
  lambda-hat validate <experiment.yaml>
  lambda-hat doctor
  lambda-hat tune --config <tune.yaml> [--set key=value]... [--dry-run] [--backend name]
  lambda-hat cache serve --dir <dir> [--port P] [--host H] [--read-token T] [--write-token W] [--max-bytes N]`;

const workspaceRoot = () => resolve(__dirname, '..');

/** The largest task file read: a task's spec is a few kilobytes, a 10,000-run aggregate's a few megabytes. */
const MAX_TASK_BYTES = 256 * 1024 * 1024;

/** Why `path` is not a task file to read (a directory, a FIFO, a device, too large), or undefined. */
function notATaskFile(path: string): string | undefined {
  const st = statSync(path);
  if (st.isDirectory()) return 'is a directory: expected a JSON file';
  if (!st.isFile()) return 'is not a regular file (a FIFO, socket or device): expected a JSON file';
  if (st.size > MAX_TASK_BYTES) return `is ${st.size} bytes: expected at most ${MAX_TASK_BYTES}`;
  return undefined;
}

async function run(args: string[]): Promise<void> {
  const [ruleName, taskFile] = args;
  const rule = RULES[ruleName];
  if (!rule || !taskFile) throw new UserError(`${rule ? 'missing task file' : `unknown rule "${ruleName ?? ''}"`}\n${USAGE}`);
  let spec: unknown;
  try {
    const notReadable = existsSync(taskFile) ? notATaskFile(taskFile) : undefined;
    if (notReadable) throw new UserError(`cannot read task file ${taskFile}: it ${notReadable}`);
    spec = JSON.parse(readFileSync(taskFile, 'utf8'));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot read task file ${taskFile}: ${(e as Error).message}`);
  }
  await runRule(rule, spec, workspaceRoot());
}

async function validateCommand(args: string[]): Promise<void> {
  if (args.length !== 1) throw new UserError(USAGE);
  const root = workspaceRoot();
  const exp = await loadExperiment({ root, presets: DEFAULT_PRESETS }, resolve(args[0]));
  console.log(`${exp.file}: experiment "${exp.name}", ${exp.targets.length} targets × ${exp.runs.length / exp.targets.length} samplers = ${exp.runs.length} runs`);
  for (const t of exp.targets) console.log(`  ${t.id}  ${exp.labels[t.id]}  d-widths ${JSON.stringify(t.build.model.widths)}  n = ${t.build.data.n_data}  seed ${t.build.seed}`);
  for (const r of exp.runs) console.log(`  ${r.id}  ${exp.labels[r.id]}  on ${r.target}`);
}

/** Node's parseArgs rejecting a command line (an unknown option, a missing value): the user's mistake. */
const isBadCommandLine = (e: unknown): e is Error => e instanceof TypeError && String((e as NodeJS.ErrnoException).code ?? '').startsWith('ERR_PARSE_ARGS');

/** Runs a command: a mistake in the input (ConfigError, UserError, a bad command line) prints its message alone and gives status 2. */
export async function withInputErrors(command: () => Promise<number>): Promise<number> {
  try {
    return await command();
  } catch (e) {
    if (isInputError(e) || isBadCommandLine(e)) {
      console.error(e.message);
      return INPUT_ERROR_STATUS;
    }
    throw e;
  }
}

export function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  return withInputErrors(async () => {
    if (command === 'serve' && rest.length === 0) return serve(workspaceRoot());
    if (command === 'run') await run(rest);
    else if (command === 'validate') await validateCommand(rest);
    else if (command === 'doctor' && rest.length === 0) console.log(doctor().join('\n'));
    else throw new UserError(USAGE);
    return 0;
  });
}

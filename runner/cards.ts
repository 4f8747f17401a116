/**
 * Cards: where and how tasks run. A backend name (local, slurm-cpu, slurm-gpu; default local) picks
 * config/cards/<backend>.yaml, a card path names any card file, and each `key=value` assignment
 * (dotted keys, YAML values) overrides one setting. Under Nx they come from the environment
 * (LAMBDA_HAT_BACKEND, LAMBDA_HAT_CARD, LAMBDA_HAT_SET with one assignment per line), never from
 * flags, which Nx would hash into every task's cache key; `lambda-hat tune` also takes them as
 * --backend and --card. Every key is validated as strictly as an experiment file, and errors name
 * the file, the variable or the flag.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { z } from 'zod';
import { ConfigError, validate } from '../rules/experiment/problems';
import { fromAssignment, loadYaml, merge } from '../rules/experiment/source';

const posInt = z.int().min(1);

/** The longest wait, in whole seconds, that a Node timer keeps (2^31 - 1 ms, about 24.8 days). */
const MAX_POLL_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/**
 * A value written unquoted into an `#SBATCH` line of job.sh (runner/backends/array-jobs.ts): a
 * newline there would end the comment and start a shell line, and sbatch splits the line into
 * options at spaces. Partitions, accounts, QOS, constraints and GPU types are single words.
 */
const sbatchWord = z.string().regex(/^[^\s\p{Cc}]+$/u, 'expected a single word, without spaces, newlines or other control characters (it is written into an #SBATCH line of job.sh)');

/** An `sbatch_extra` entry: one option, written as one `#SBATCH` line, so no newline or other control character. */
const sbatchOption = z
  .string()
  .regex(/^--?\S/, 'an sbatch option such as --exclusive')
  .regex(/^\P{Cc}*$/u, 'expected one sbatch option without newlines or other control characters (each entry is one #SBATCH line of job.sh; worker_init takes shell lines)');

/** Names a shell can `export`: job.sh writes `export NAME='value'`, so anything else would be shell. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Variables that make Node or the dynamic loader run code named in them, in every worker: a card
 * (a file, or one line of LAMBDA_HAT_SET) must not be a way to load arbitrary code. Compared in
 * upper case, as Windows reads variable names.
 */
const CODE_LOADING_ENV: Readonly<Record<string, string>> = {
  NODE_OPTIONS: 'Node takes options from it, and --require or --import loads any module',
  LD_PRELOAD: 'the dynamic loader loads the libraries it names into every process',
  LD_AUDIT: 'the dynamic loader loads the libraries it names into every process',
  DYLD_INSERT_LIBRARIES: 'the macOS loader loads the libraries it names into every process',
};

/**
 * A card's `env`: extra environment for every task. Values are passed as they are (single-quoted in
 * job.sh); names must be names a shell can export, and none may make workers load code.
 */
const Env = z.record(z.string(), z.string()).superRefine((env, ctx) => {
  for (const name of Object.keys(env)) {
    if (!ENV_NAME.test(name)) {
      ctx.addIssue({ code: 'custom', path: [name], message: `${JSON.stringify(name)} is not an environment variable name: expected letters, digits and _, not starting with a digit` });
    } else if (CODE_LOADING_ENV[name.toUpperCase()]) {
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: `${name} cannot be set in a card's env: ${CODE_LOADING_ENV[name.toUpperCase()]}; set it in the environment lambda-hat starts from, or on Slurm write deliberate shell in worker_init`,
      });
    }
  }
});

const LocalCard = z.strictObject({
  backend: z.literal('local'),
  max_jobs: posInt.nullable(),
  threads: posInt,
  env: Env,
});

const SlurmCard = z.strictObject({
  backend: z.literal('slurm'),
  partition: sbatchWord,
  walltime: z.string().regex(/^(\d+-)?\d{1,2}:\d{2}:\d{2}$/, 'a walltime [D-]HH:MM:SS'),
  cpus_per_task: posInt,
  mem_per_task: z.string().regex(/^\d+[KMGT]?$/, 'a memory size such as 4G or 4000M'),
  gpus: z.int().min(0),
  gpu_type: sbatchWord.nullable(),
  account: sbatchWord.nullable(),
  qos: sbatchWord.nullable(),
  constraint: sbatchWord.nullable(),
  max_jobs: posInt,
  tasks_per_job: posInt,
  retries: z.int().min(0),
  // A Node timer waits at most 2^31 - 1 ms; a longer one fires after 1 ms, so squeue would be polled without pause.
  poll_seconds: z.number().positive().max(MAX_POLL_SECONDS),
  // Single-quoted in job.sh.
  node: z.string().min(1).nullable(),
  // Shell lines, by design: the one field written into job.sh as shell.
  worker_init: z.array(z.string()),
  sbatch_extra: z.array(sbatchOption),
  env: Env,
});

export const Card = z.discriminatedUnion('backend', [LocalCard, SlurmCard]);
export type Card = z.infer<typeof Card>;
export type LocalCard = z.infer<typeof LocalCard>;
export type SlurmCard = z.infer<typeof SlurmCard>;

export const BACKENDS = ['local', 'slurm-cpu', 'slurm-gpu'] as const;

/** Which card, and where the choice was made (for messages). */
export interface CardSelection {
  backend?: string;
  card?: string;
  set?: string[];
  /** `env`: LAMBDA_HAT_BACKEND, LAMBDA_HAT_CARD and LAMBDA_HAT_SET; `flags`: --backend and --card. */
  from: 'env' | 'flags';
}

/** The environment variables that select a card under Nx. */
export const CARD_ENV = { backend: 'LAMBDA_HAT_BACKEND', card: 'LAMBDA_HAT_CARD', set: 'LAMBDA_HAT_SET' } as const;

/** The card the environment selects: how every Nx target chooses its backend. */
export function cardSelectionFromEnv(env: NodeJS.ProcessEnv = process.env): CardSelection {
  const set = (env[CARD_ENV.set] ?? '').split('\n').map((s) => s.trim()).filter(Boolean);
  return { backend: env[CARD_ENV.backend] || undefined, card: env[CARD_ENV.card] || undefined, set, from: 'env' };
}

/** The card the selection names, with its `--set` overrides applied and validated. */
export function loadCard(root: string, selection: CardSelection): { card: Card; source: string } {
  const backend = selection.backend ?? 'local';
  let path: string;
  if (selection.card) {
    path = isAbsolute(selection.card) ? selection.card : join(root, selection.card);
  } else {
    if (!(BACKENDS as readonly string[]).includes(backend)) {
      const [from, card] = selection.from === 'env' ? [CARD_ENV.backend, `${CARD_ENV.card}=<file>`] : ['--backend', '--card <file>'];
      throw new ConfigError([{ origin: { file: from, path: [], line: 0, col: 0 }, message: `unknown backend "${backend}" (available: ${BACKENDS.join(', ')}; or ${card})` }]);
    }
    path = join(root, 'config', 'cards', `${backend}.yaml`);
  }
  const display = relative(root, path) || path;
  if (!existsSync(path)) throw new ConfigError([{ origin: { file: display, path: [], line: 1, col: 1 }, message: 'card file not found' }]);
  let source = loadYaml(path, display);
  for (const s of selection.set ?? []) source = merge(source, fromAssignment(s, selection.from === 'env' ? CARD_ENV.set : '--set'));
  return { card: validate(Card, source, 'a card'), source: display };
}

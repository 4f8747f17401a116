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
const optionalText = z.string().min(1).nullable();

const LocalCard = z.strictObject({
  backend: z.literal('local'),
  max_jobs: posInt.nullable(),
  threads: posInt,
  env: z.record(z.string(), z.string()),
});

const SlurmCard = z.strictObject({
  backend: z.literal('slurm'),
  partition: z.string().min(1),
  walltime: z.string().regex(/^(\d+-)?\d{1,2}:\d{2}:\d{2}$/, 'a walltime [D-]HH:MM:SS'),
  cpus_per_task: posInt,
  mem_per_task: z.string().regex(/^\d+[KMGT]?$/, 'a memory size such as 4G or 4000M'),
  gpus: z.int().min(0),
  gpu_type: optionalText,
  account: optionalText,
  qos: optionalText,
  constraint: optionalText,
  max_jobs: posInt,
  tasks_per_job: posInt,
  retries: z.int().min(0),
  poll_seconds: z.number().positive(),
  node: optionalText,
  worker_init: z.array(z.string()),
  sbatch_extra: z.array(z.string().regex(/^--?\S/, 'an sbatch option such as --exclusive')),
  env: z.record(z.string(), z.string()),
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

/**
 * Cards: where and how tasks run. `--backend local|slurm-cpu|slurm-gpu` (default from
 * LAMBDA_HAT_BACKEND, else local) picks config/cards/<backend>.yaml; `--card <path>` names any card
 * file; each `--set key=value` (dotted keys, YAML values) overrides one setting. Every key is
 * validated as strictly as an experiment file, and errors name the file or the `--set`.
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

/** What the command line said: the executor options Nx fills from run-many's extra flags. */
export interface CardSelection {
  backend?: string;
  card?: string;
  set?: string | string[];
}

/** The card the selection names, with its `--set` overrides applied and validated. */
export function loadCard(root: string, selection: CardSelection, env: NodeJS.ProcessEnv = process.env): { card: Card; source: string } {
  const backend = selection.backend ?? env.LAMBDA_HAT_BACKEND ?? 'local';
  let path: string;
  if (selection.card) {
    path = isAbsolute(selection.card) ? selection.card : join(root, selection.card);
  } else {
    if (!(BACKENDS as readonly string[]).includes(backend)) {
      const from = selection.backend !== undefined ? '--backend' : 'LAMBDA_HAT_BACKEND';
      throw new ConfigError([{ origin: { file: from, path: [], line: 0, col: 0 }, message: `unknown backend "${backend}" (available: ${BACKENDS.join(', ')}; or --card <file>)` }]);
    }
    path = join(root, 'config', 'cards', `${backend}.yaml`);
  }
  const display = relative(root, path) || path;
  if (!existsSync(path)) throw new ConfigError([{ origin: { file: display, path: [], line: 1, col: 1 }, message: 'card file not found' }]);
  let source = loadYaml(path, display);
  const sets = selection.set === undefined ? [] : Array.isArray(selection.set) ? selection.set : [selection.set];
  for (const s of sets) source = merge(source, fromAssignment(s));
  return { card: validate(Card, source, 'a card'), source: display };
}

/**
 * What a lambda-hat executor accepts from the command line: nothing. Nx hands every flag it does
 * not know to the executors (and forwards it to their dependencies), and hashes it into every
 * task's cache key; an executor that ignored one would run the whole graph again for a typo or
 * for `--dry-run`. So a task with any such flag fails with the reason before anything runs. Where
 * tasks run is chosen through the environment (runner/cards.ts), which stays out of the key.
 */
import { CARD_ENV } from '../../../runner/cards';

/** Names Nx itself puts among an executor's options. */
const NX_INTERNAL = /^__/;

const CARD_FLAG_HELP: Record<string, string> = {
  backend: `${CARD_ENV.backend}=slurm-cpu npx nx run-many -t sample`,
  card: `${CARD_ENV.card}=my-cluster.yaml npx nx run-many -t sample`,
  set: `${CARD_ENV.set}='partition=short' npx nx run-many -t sample (one key=value per line)`,
};

/** For an executor of one task: prints why its options are refused and gives Nx's failure, or null when there are none to refuse. */
export function refusal(options: object, known: readonly string[]): { success: false } | null {
  const why = refusedOptions(options as Record<string, unknown>, known);
  if (!why) return null;
  console.error(why);
  return { success: false };
}

/** Why these command-line options are refused, or null when there are none. */
export function refusedOptions(options: Record<string, unknown>, known: readonly string[]): string | null {
  const extra = Object.keys(options).filter((k) => !known.includes(k) && !NX_INTERNAL.test(k));
  if (!extra.length) return null;
  const lines = extra.map((k) =>
    k in CARD_FLAG_HELP
      ? `--${k} is not taken as a flag, which Nx would hash into every task's cache key (a cluster run could then not reuse a laptop's results); set it in the environment: ${CARD_FLAG_HELP[k]}`
      : `unknown option --${k}: lambda-hat tasks take no command-line options`,
  );
  const preview = extra.some((k) => /^dry-?run$/i.test(k))
    ? '\nFor a preview: npx lambda-hat plan (each target and run: done, to run or failed last time), or npx lambda-hat tune --config <file> --dry-run for a tune.'
    : '';
  return `${lines.join('\n')}\nNothing was run. To list the tasks without running them: npx nx run-many -t sample --graph=stdout${preview}`;
}

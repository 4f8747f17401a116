/**
 * The experiment's `sample` target: after its aggregate and report, prints the run table and where
 * the results are (rules/summary.ts), so that `run-many -t sample` ends with them. Never cached: it
 * costs one read of llc_runs.arrow, and it must show the table as it is now.
 */
import type { ExecutorContext } from '@nx/devkit';
import { summaryLines } from '../../../rules/summary';
import { refusal } from './options';

export interface SummaryOptions {
  experiment: string;
}

export default async function summaryExecutor(options: SummaryOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  const refused = refusal(options, ['experiment']);
  if (refused) return refused;
  console.log(summaryLines(context.root, options.experiment).join('\n'));
  return { success: true };
}

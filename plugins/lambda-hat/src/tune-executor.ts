/**
 * The Nx executor of a tuning file's `tune` target: runs the tuner (tune.ts) on the backend the
 * environment selects (LAMBDA_HAT_BACKEND, LAMBDA_HAT_CARD, LAMBDA_HAT_SET, as for every lambda-hat
 * target; flags are refused, options.ts). The tuning file itself is edited in YAML, or with
 * `lambda-hat tune --set` outside Nx. It ends with the best trial of each study and the paths of
 * best.yaml and the trials table (runner/tune.ts, tuneSummaryLines).
 */
import type { ExecutorContext } from '@nx/devkit';
import { join } from 'node:path';
import { DEFAULT_PRESETS } from '../../../rules/experiment';
import { isInputError } from '../../../rules/rule';
import { loadTuneConfig } from '../../../rules/tune/config';
import { withBackend } from '../../../runner/backends';
import { cardSelectionFromEnv } from '../../../runner/cards';
import { runTune, tuneSummaryLines } from '../../../runner/tune';
import { refusal } from './options';

export interface TuneOptions {
  /** Workspace-relative path of the tuning file. */
  config: string;
}

export default async function tuneExecutor(options: TuneOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  const refused = refusal(options, ['config']);
  if (refused) return refused;
  return withBackend(context.root, cardSelectionFromEnv(), async (backend, display, print) => {
    try {
      const config = await loadTuneConfig({ root: context.root, presets: DEFAULT_PRESETS }, join(context.root, options.config));
      print(`tune ${config.name} on ${backend.name}: study ${config.study}`, 'stdout');
      const { study, references } = await runTune({ root: context.root, config, backend, display, print });
      // Where best.yaml is and what it holds, last: the workspace's output style shows it (.env).
      print(tuneSummaryLines(context.root, config, study, references).join('\n'), 'stdout');
      return true;
    } catch (e) {
      if (!isInputError(e)) throw e;
      print(e.message, 'stderr');
      return false;
    }
  });
}

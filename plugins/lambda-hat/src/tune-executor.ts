/**
 * The Nx executor of a tuning file's `tune` target: runs the tuner (tune.ts) on the backend the
 * command line selects (--backend, --card, --set: card settings, as for every lambda-hat target).
 * The tuning file itself is edited in YAML, or with `lambda-hat tune --set` outside Nx.
 */
import type { ExecutorContext } from '@nx/devkit';
import { join } from 'node:path';
import { DEFAULT_PRESETS } from '../../../rules/experiment';
import { isInputError } from '../../../rules/rule';
import { loadTuneConfig } from '../../../rules/tune/config';
import { withBackend } from '../../../runner/backends';
import type { CardSelection } from '../../../runner/cards';
import { runTune } from '../../../runner/tune';
import { keepTypeScriptLoadable } from './typescript';

export interface TuneOptions extends CardSelection {
  /** Workspace-relative path of the tuning file. */
  config: string;
}

export default async function tuneExecutor(options: TuneOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  keepTypeScriptLoadable();
  return withBackend(context.root, options, async (backend, display, print) => {
    try {
      const config = await loadTuneConfig({ root: context.root, presets: DEFAULT_PRESETS }, join(context.root, options.config));
      print(`tune ${config.name} on ${backend.name}: study ${config.study}`, 'stdout');
      await runTune({ root: context.root, config, backend, display, print });
      return true;
    } catch (e) {
      if (!isInputError(e)) throw e;
      print(e.message, 'stderr');
      return false;
    }
  });
}

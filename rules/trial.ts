/**
 * One tuning trial (README, "Tuning"): a sampler run with the trial's parameters on a trained target, scored
 * against the problem's HMC reference. While sampling it reports the objective of its running λ̂ at
 * CHECKPOINTS evenly spaced points and asks the pruner whether to stop; the study's finished trials,
 * which the pruner compares against, are read from a file the tuner rewrites as trials finish, so
 * a trial is judged against the study as it stands, on any backend with a shared filesystem.
 *
 * Writes result.json only: trials are many and cheap, and their table is the tuner's output.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toJson } from '../packages/llc/src/artifacts';
import { writeFileAtomic } from '../packages/llc/src/atomic';
import { kernelSourceFiles } from '../packages/llc/src/kernels';
import { samplerModulePath } from '../packages/llc/src/samplers';
import { ObjectiveConfig, objectiveFunction } from '../packages/llc/src/tune/objective';
import { createPruner, PrunerConfig } from '../packages/llc/src/tune/pruner';
import type { Params } from '../packages/llc/src/tune/space';
import type { TrialRecord } from '../packages/llc/src/tune/trial';
import type { Progress } from '../packages/llc/src/samplers/types';
import { reportsFromJson } from './tune/study';
import { checkFiles, Rule } from './rule';
import { sampleOnTarget, SamplerSettings } from './sample';

/** Intermediate reports per trial: at 1/10, 2/10, … of its sampling phase. */
export const CHECKPOINTS = 10;

export interface TrialSpec {
  /** Workspace-relative directory the trial writes result.json into. */
  dir: string;
  number: number;
  params: Params;
  /** The sampler run: the method's options with the trial's parameters in place. */
  run: SamplerSettings;
  llc_ref: number;
  objective: ObjectiveConfig;
  pruner: PrunerConfig;
  /** Workspace-relative JSON file holding the study's finished trials (TrialRecord[]). */
  history: string;
}

/** How the trial itself ended; a trial killed for its time budget or crashing writes nothing. */
export interface TrialResult {
  number: number;
  state: 'complete' | 'pruned' | 'diverged';
  llc: number | null;
  llc_mcse: number | null;
  r_hat: number | null;
  ess_bulk: number | null;
  /** The objective of the final λ̂ (complete trials), else null. */
  objective: number | null;
  /** [checkpoint, objective of the running λ̂] as reported; null where λ̂ was not finite. */
  intermediate: [number, number | null][];
  /** The checkpoint at which the pruner stopped the trial. */
  pruned_at: number | null;
  fge_per_chain: number | null;
  wall_time_s: number;
  reason: string | null;
}

/** Thrown from the sampler's progress callback to stop a pruned trial (the sampler frees its kernel on the way out). */
class TrialPruned extends Error {
  constructor(readonly checkpoint: number) {
    super(`pruned at checkpoint ${checkpoint}`);
  }
}

/** The study's finished trials as the pruner wants them. */
export function readHistory(path: string): TrialRecord[] {
  if (!existsSync(path)) return [];
  const trials = JSON.parse(readFileSync(path, 'utf8')) as TrialRecord[];
  return trials.map((t) => ({ ...t, intermediate: reportsFromJson(t.intermediate ?? []) }));
}

export const trialRule: Rule<TrialSpec> = {
  name: 'trial',
  codeEntryPoints: (spec) => [__filename, samplerModulePath(spec.run.sampler), ...kernelSourceFiles()],
  outputs: (spec) => [spec.dir],
  verify: (spec, root) => checkFiles(root, spec.dir, ['result.json']),

  async run(spec, ctx) {
    const started = performance.now();
    const objective = objectiveFunction(spec.objective);
    const pruner = createPruner(spec.pruner);
    const intermediate: [number, number][] = [];
    let next = 1;
    const onProgress: Progress = (p) => {
      if (p.phase !== 'sampling' || p.llc === undefined || p.total === 0) return;
      const checkpoint = Math.floor((CHECKPOINTS * p.done) / p.total);
      if (checkpoint < next) return;
      next = checkpoint + 1;
      intermediate.push([checkpoint, Number.isFinite(p.llc) ? objective(p.llc - spec.llc_ref) : NaN]);
      // The last checkpoint is the trial's end: nothing left to save by stopping.
      if (checkpoint >= CHECKPOINTS) return;
      const self: TrialRecord = { params: spec.params, value: null, state: 'running', intermediate };
      if (pruner.shouldPrune(readHistory(join(ctx.root, spec.history)), self, checkpoint)) throw new TrialPruned(checkpoint);
    };

    let result: TrialResult;
    const base = { number: spec.number, intermediate, wall_time_s: 0 };
    try {
      const s = await sampleOnTarget(spec.run, ctx, onProgress);
      const llc = s.summary.mean;
      const diverged = s.status.state === 'diverged' || !Number.isFinite(llc);
      result = {
        ...base,
        state: diverged ? 'diverged' : 'complete',
        llc: Number.isFinite(llc) ? llc : null,
        llc_mcse: s.summary.mcse,
        r_hat: s.summary.r_hat,
        ess_bulk: s.summary.ess_bulk,
        objective: diverged ? null : objective(llc - spec.llc_ref),
        pruned_at: null,
        fge_per_chain: s.result.work.fge_warmup + s.result.work.fge_sampling,
        reason: diverged ? s.status.reasons.join('; ') || 'λ̂ is not finite' : null,
      };
    } catch (e) {
      if (!(e instanceof TrialPruned)) throw e;
      ctx.log(`pruned at checkpoint ${e.checkpoint} of ${CHECKPOINTS}`);
      result = { ...base, state: 'pruned', llc: null, llc_mcse: null, r_hat: null, ess_bulk: null, objective: null, pruned_at: e.checkpoint, fge_per_chain: null, reason: null };
    }
    result.wall_time_s = (performance.now() - started) / 1000;
    writeFileAtomic(join(ctx.root, spec.dir, 'result.json'), toJson(result));
  },
};

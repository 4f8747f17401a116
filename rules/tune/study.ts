/**
 * A tuning study's state on disk: study.json holds every trial asked, with its parameters and, once
 * it has ended, how. It is rewritten atomically at every ask and every result, so an interrupted
 * tune resumes exactly: trials still marked running are run again with the same number and
 * parameters, finished ones are kept, and none is asked twice.
 *
 * One study per (tuning name, study id): editing what trials mean (a search space, the objective…)
 * starts a new study beside the old one; raising max_trials_per_method extends the same study.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { artifactPath, toJson } from '../../packages/llc/src/artifacts';
import { writeFileAtomic } from '../../packages/llc/src/atomic';
import type { SamplerName } from '../../packages/llc/src/samplers';
import type { Params } from '../../packages/llc/src/tune/space';
import type { TrialRecord } from '../../packages/llc/src/tune/trial';
import type { TuneConfig } from './config';

/**
 * running: asked, result not yet known; complete: a λ̂ and its objective; pruned: stopped by the
 * pruner; timeout: killed for exceeding budget.trial_sec; diverged: the sampler's losses became
 * non-finite; failed: the worker crashed or wrote nothing usable.
 */
export type TrialState = 'running' | 'complete' | 'pruned' | 'timeout' | 'diverged' | 'failed';

export interface StudyTrial {
  problem: string;
  method: SamplerName;
  /** Numbered from 0 within its (problem, method). */
  number: number;
  params: Params;
  state: TrialState;
  objective: number | null;
  llc: number | null;
  /** [checkpoint, objective of the running λ̂]; null where λ̂ was not finite. */
  intermediate: [number, number | null][];
  pruned_at: number | null;
  wall_time_s: number | null;
  reason: string | null;
  asked_at: string;
  finished_at: string | null;
}

export interface StudyFile {
  tune: string;
  study: string;
  file: string;
  trials: StudyTrial[];
}

export const studyDir = (config: Pick<TuneConfig, 'name' | 'study'>) => join(artifactPath.tune(config.name), 'studies', config.study);
export const trialDir = (config: Pick<TuneConfig, 'name' | 'study'>, t: Pick<StudyTrial, 'problem' | 'method' | 'number'>) =>
  join(studyDir(config), 'trials', t.problem, t.method, String(t.number));
export const historyFile = (config: Pick<TuneConfig, 'name' | 'study'>, problem: string, method: string) => join(studyDir(config), 'history', `${problem}.${method}.json`);

export function loadStudy(root: string, config: TuneConfig): StudyFile {
  const path = join(root, studyDir(config), 'study.json');
  if (!existsSync(path)) return { tune: config.name, study: config.study, file: config.file, trials: [] };
  return JSON.parse(readFileSync(path, 'utf8')) as StudyFile;
}

export function saveStudy(root: string, config: TuneConfig, study: StudyFile): void {
  writeFileAtomic(join(root, studyDir(config), 'study.json'), toJson(study));
}

export const isFinished = (t: StudyTrial) => t.state !== 'running';

/** Intermediate reports as stored (JSON has no NaN: a non-finite report is null) back to numbers. */
export function reportsFromJson(reports: readonly (readonly [number, number | null])[]): (readonly [number, number])[] {
  return reports.map(([s, v]) => [s, v ?? NaN] as const);
}

/**
 * A trial as the sampler and pruner see it. Timed-out and diverged trials count as pruned: bad
 * evidence (too slow, unstable) that keeps TPE away from their region, which it would not be if
 * they were ignored like crashes.
 */
export function trialRecord(t: StudyTrial): TrialRecord {
  const state = t.state === 'timeout' || t.state === 'diverged' ? 'pruned' : t.state;
  return { params: t.params, value: t.objective, state, intermediate: reportsFromJson(t.intermediate) };
}

/** The trials of one (problem, method), by number. */
export function trialsOf(study: StudyFile, problem: string, method: string): StudyTrial[] {
  return study.trials.filter((t) => t.problem === problem && t.method === method).sort((a, b) => a.number - b.number);
}

/** Rewrites the finished trials a running trial's pruner compares against. */
export function writeHistory(root: string, config: TuneConfig, study: StudyFile, problem: string, method: string): void {
  const finished = trialsOf(study, problem, method).filter(isFinished).map(trialRecord);
  writeFileAtomic(join(root, historyFile(config, problem, method)), toJson(finished));
}

/**
 * Samplers for the tuning study (README, "Tuning"): uniform random search, and the Tree-structured Parzen
 * Estimator (Bergstra et al. 2011, "Algorithms for hyper-parameter optimization"; Watanabe 2023,
 * "Tree-structured Parzen estimator: understanding its algorithm components and their roles for
 * better empirical performance"), in the univariate form of Optuna's TPESampler with
 * multivariate = false: every parameter is modelled and chosen independently. Minimisation.
 *
 * One TPE suggestion:
 *   1. While fewer than n_startup_trials trials have finished (complete or pruned), draw uniformly:
 *      the Parzen estimators need data before they say anything.
 *   2. Split the history: the γ(n) = min(⌈0.1·n⌉, 25) complete trials with the lowest objective
 *      (n = complete + pruned, Optuna's default γ) are good; all other complete trials, every
 *      pruned trial and every running trial are bad; failed trials are ignored (they say nothing
 *      about the objective, and a crash is not evidence that nearby values are poor).
 *   3. Per parameter, fit l(x) to the good trials' values and g(x) to the bad ones' (parzen.ts),
 *      draw n_ei_candidates values from l and keep the one maximising log l − log g, which
 *      maximises expected improvement under TPE's model (Bergstra et al. 2011, §4.1).
 *
 * Design decisions:
 *   - Pruned trials are always bad. The median pruner stops a trial only when it is worse than
 *     the median of completed trials at the same stage, so it cannot belong to the best 10%;
 *     counting it in g keeps TPE away from regions that were stopped early. (Optuna ranks pruned
 *     trials into l only when complete trials are too few to fill it, which with a median pruner
 *     that needs completed trials before it prunes at all hardly arises.)
 *   - Running trials join g, not n (the "constant liar" of Ginsbourger et al. 2010, as Optuna's
 *     `constant_liar`, on by default in recent versions): when a batch is asked at once, each ask
 *     sees the earlier asks of the batch as running and is pushed away from them, so a batch
 *     explores several good regions instead of sampling the single mode of l/g many times. They
 *     never enter l and do not count towards γ(n), so they cannot make a region look good or
 *     shift the good/bad split.
 *   - Observation weights are Optuna's default (Bergstra et al. 2013, "Making a science of model
 *     search"): in each group the newest 25 observations weigh 1 and older ones ramp linearly
 *     down to 1/n. With γ ≤ 25 this only ever affects g once more than 25 bad trials exist, where
 *     it lets the start-up trials' uniform scatter fade as later, focused trials accumulate. Kept
 *     for parity with the reference's Optuna configuration.
 *   - Randomness: each (trial number, parameter name) has its own counter-based stream derived
 *     from the seed, so a suggestion is a pure function of (seed, space, history, trial number),
 *     and the start-up phase of TPE draws exactly what the random sampler draws.
 */
import { z } from 'zod';
import { fold, keyFromSeed, Stream } from '../rng';
import { fitParzenEstimator, ParzenEstimator } from './parzen';
import { Distribution, isInDistribution, Params, ParamValue, sampleUniform } from './space';
import type { Sampler, TrialRecord } from './trial';

export const TpeSamplerConfig = z.strictObject({
  type: z.literal('tpe'),
  seed: z.int().min(0),
  n_startup_trials: z.int().min(0).default(10),
  n_ei_candidates: z.int().min(1).default(24),
});
export type TpeSamplerConfig = z.infer<typeof TpeSamplerConfig>;

export const RandomSamplerConfig = z.strictObject({
  type: z.literal('random'),
  seed: z.int().min(0),
});
export type RandomSamplerConfig = z.infer<typeof RandomSamplerConfig>;

export const SamplerConfig = z.discriminatedUnion('type', [TpeSamplerConfig, RandomSamplerConfig]);
export type SamplerConfig = z.infer<typeof SamplerConfig>;

export function createSampler(config: SamplerConfig): Sampler {
  return config.type === 'tpe' ? tpeSampler(config) : randomSampler(config);
}

/**
 * The stream for one parameter of one trial: seed, then trial number, then the parameter name's
 * UTF-16 code units folded in one by one. Keying by name, not position, keeps the other
 * parameters' draws unchanged when a parameter is added to or removed from the space.
 */
function parameterStream(seed: number, trialNumber: number, name: string): Stream {
  const codeUnits = Array.from({ length: name.length }, (_, i) => name.charCodeAt(i));
  return new Stream(fold(keyFromSeed(seed), trialNumber, ...codeUnits));
}

/** Uniform random search: each parameter drawn uniformly from its distribution, whatever the history. */
export function randomSampler(config: Pick<RandomSamplerConfig, 'seed'>): Sampler {
  return {
    suggest(space, _history, trialNumber) {
      const params: Params = {};
      for (const [name, d] of Object.entries(space)) params[name] = sampleUniform(d, parameterStream(config.seed, trialNumber, name));
      return params;
    },
  };
}

/** Optuna's default γ: how many of n finished trials form the good group, 10% capped at 25. */
export function goodTrialCount(nFinished: number): number {
  return Math.min(Math.ceil(0.1 * nFinished), 25);
}

/** Optuna's default observation weights, oldest first: the newest 25 weigh 1, older ones ramp linearly from 1/n. */
export function observationWeights(n: number): number[] {
  const weights = new Array<number>(n).fill(1);
  const ramped = n - 25;
  for (let i = 0; i < ramped; i++) weights[i] = ramped === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramped - 1);
  return weights;
}

/** The good and bad groups of TPE, each in history order (oldest first, as the weights expect). */
export function splitGoodBad(history: readonly TrialRecord[]): { good: TrialRecord[]; bad: TrialRecord[] } {
  const nFinished = history.filter((t) => t.state === 'complete' || t.state === 'pruned').length;
  // A complete trial without a usable value ranks last rather than corrupting the sort.
  const rankValue = (t: TrialRecord): number => (t.value === null || Number.isNaN(t.value) ? Infinity : t.value);
  const ranked = history.filter((t) => t.state === 'complete').sort((a, b) => rankValue(a) - rankValue(b));
  const good = new Set(ranked.slice(0, Math.min(goodTrialCount(nFinished), ranked.length)));
  return {
    good: history.filter((t) => good.has(t)),
    bad: history.filter((t) => !good.has(t) && t.state !== 'failed'),
  };
}

/** A Parzen estimator of one parameter over a group of trials, skipping trials without a value in the distribution. */
function fitGroup(d: Distribution, trials: readonly TrialRecord[], name: string): ParzenEstimator {
  const values = trials.map((t) => t.params[name]).filter((v) => isInDistribution(d, v));
  return fitParzenEstimator(d, values, observationWeights(values.length));
}

export function tpeSampler(config: Omit<TpeSamplerConfig, 'type'>): Sampler {
  const random = randomSampler(config);
  return {
    suggest(space, history, trialNumber) {
      const nFinished = history.filter((t) => t.state === 'complete' || t.state === 'pruned').length;
      if (nFinished < config.n_startup_trials) return random.suggest(space, history, trialNumber);
      const { good, bad } = splitGoodBad(history);
      const params: Params = {};
      for (const [name, d] of Object.entries(space)) {
        const l = fitGroup(d, good, name);
        const g = fitGroup(d, bad, name);
        const stream = parameterStream(config.seed, trialNumber, name);
        let best: ParamValue = l.sample(stream);
        let bestScore = l.logPdf(best) - g.logPdf(best);
        for (let i = 1; i < config.n_ei_candidates; i++) {
          const candidate = l.sample(stream);
          const score = l.logPdf(candidate) - g.logPdf(candidate);
          if (score > bestScore) {
            best = candidate;
            bestScore = score;
          }
        }
        params[name] = best;
      }
      return params;
    },
  };
}

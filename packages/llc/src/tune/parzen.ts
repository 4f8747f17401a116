/**
 * The univariate Parzen estimators of TPE: l(x) from the good trials and g(x) from the bad ones
 * (Bergstra et al. 2011, "Algorithms for hyper-parameter optimization", §4; Watanabe 2023,
 * "Tree-structured Parzen estimator: understanding its algorithm components and their roles for
 * better empirical performance"; Optuna's `_ParzenEstimator`). Each is a weighted mixture of
 * one kernel per observation plus one prior kernel of weight PRIOR_WEIGHT, so that a handful of
 * observations can never make a region impossible:
 *   - float: Gaussians truncated to [low, high], on ln x for log floats, the prior centred on the
 *     range with σ = its width. The density is reported on the parameter's own scale (for log
 *     floats the 1/x Jacobian is included), so it integrates to 1 over [low, high];
 *   - int: the same on the grid, each value owning the interval ± step/2 around it (the range
 *     is widened by step/2 at each end), so the probabilities of the grid values sum to 1;
 *   - categorical: Optuna's smoothed indicator kernels (below) and a uniform prior.
 * Bandwidths follow Optuna's defaults (see `bandwidths`).
 */
import type { Stream } from '../rng';
import { CategoricalDistribution, Distribution, FloatDistribution, IntDistribution, isInDistribution, ParamValue } from './space';
import { logNormalMass, normalLogPdf, truncatedNormalQuantile } from './truncnorm';

/** Weight of the prior kernel, relative to an observation of weight 1 (Optuna's default). */
const PRIOR_WEIGHT = 1;

export interface ParzenEstimator {
  /** One draw from the mixture (two uniforms for numeric parameters, one for categorical ones). */
  sample(stream: Stream): ParamValue;
  /** Log density on the parameter's own scale for floats, log probability for ints and categoricals; −∞ outside the distribution. */
  logPdf(value: ParamValue): number;
}

/** A Parzen estimator of one parameter from observed values (each in the distribution) and their non-negative weights. */
export function fitParzenEstimator(d: Distribution, observations: readonly ParamValue[], weights: readonly number[]): ParzenEstimator {
  if (observations.length !== weights.length) throw new RangeError(`${observations.length} observations but ${weights.length} weights`);
  for (const value of observations) if (!isInDistribution(d, value)) throw new RangeError(`observation ${String(value)} is not in the distribution`);
  const mixture = normalise([...weights, PRIOR_WEIGHT]);
  return d.type === 'categorical' ? fitCategorical(d, observations, mixture) : fitNumeric(d, observations as readonly number[], mixture);
}

function normalise(weights: readonly number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / total);
}

/** The index at which cumulative probability passes u; the last index absorbs rounding. */
function pickIndex(probabilities: readonly number[], u: number): number {
  let cumulative = 0;
  for (let i = 0; i < probabilities.length - 1; i++) {
    cumulative += probabilities[i];
    if (u < cumulative) return i;
  }
  return probabilities.length - 1;
}

function logSumExp(terms: readonly number[]): number {
  const max = Math.max(...terms);
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (const t of terms) sum += Math.exp(t - max);
  return max + Math.log(sum);
}

/**
 * Optuna's default bandwidths (consider_endpoints = false, consider_magic_clip = true). A kernel's σ
 * is the larger gap to its neighbours in sorted order, with the range's ends as neighbours, except
 * that with two or more observations the outermost ones use only the gap to their inner neighbour:
 * how far the extreme observations sit from the boundary says nothing about where good values are,
 * and counting it would flatten the estimate. σ is then clipped to [range / min(100, n + 2), range]
 * (the "magic clip"; n + 2 is one more than the kernel count with the prior): without a floor,
 * clustered observations give spikes whose l/g ratio TPE then exploits forever; the floor shrinks as
 * evidence accumulates.
 */
function bandwidths(mus: readonly number[], low: number, high: number): number[] {
  const n = mus.length;
  const order = mus.map((_, i) => i).sort((i, j) => mus[i] - mus[j]);
  const sorted = [low, ...order.map((i) => mus[i]), high];
  const range = high - low;
  const minSigma = range / Math.min(100, n + 2);
  const sigmas = new Array<number>(n);
  order.forEach((observation, rank) => {
    const left = sorted[rank + 1] - sorted[rank];
    const right = sorted[rank + 2] - sorted[rank + 1];
    let sigma = Math.max(left, right);
    if (n >= 2 && rank === 0) sigma = right;
    else if (n >= 2 && rank === n - 1) sigma = left;
    sigmas[observation] = Math.min(range, Math.max(minSigma, sigma));
  });
  return sigmas;
}

function fitNumeric(d: FloatDistribution | IntDistribution, observations: readonly number[], mixture: readonly number[]): ParzenEstimator {
  const log = d.type === 'float' && d.log;
  const toInternal = (v: number): number => (log ? Math.log(v) : v);
  // Ints widen the range by half a step at each end so that every grid value owns an equal interval.
  const halfStep = d.type === 'int' ? d.step / 2 : 0;
  const low = toInternal(d.low) - halfStep;
  const high = toInternal(d.high) + halfStep;

  const mus = observations.map(toInternal);
  const sigmas = bandwidths(mus, low, high);
  mus.push(0.5 * (low + high));
  sigmas.push(high - low);
  const logMixture = mixture.map(Math.log);
  const logMassInRange = mus.map((mu, k) => logNormalMass((low - mu) / sigmas[k], (high - mu) / sigmas[k]));
  const kernels = mus.map((_, k) => k);

  const sampleInternal = (stream: Stream): number => {
    const k = pickIndex(mixture, stream.uniform());
    const mu = mus[k];
    const sigma = sigmas[k];
    return mu + sigma * truncatedNormalQuantile((low - mu) / sigma, (high - mu) / sigma, stream.uniform());
  };

  if (d.type === 'int') {
    return {
      sample: (stream) => {
        const x = sampleInternal(stream);
        return Math.min(d.high, Math.max(d.low, d.low + Math.round((x - d.low) / d.step) * d.step));
      },
      logPdf: (value) => {
        if (typeof value !== 'number' || !isInDistribution(d, value)) return -Infinity;
        return logSumExp(
          kernels.map((k) => logMixture[k] + logNormalMass((value - halfStep - mus[k]) / sigmas[k], (value + halfStep - mus[k]) / sigmas[k]) - logMassInRange[k]),
        );
      },
    };
  }
  return {
    sample: (stream) => {
      const x = sampleInternal(stream);
      // Clamped because exp(ln high) can round just past high.
      return Math.min(d.high, Math.max(d.low, log ? Math.exp(x) : x));
    },
    logPdf: (value) => {
      if (typeof value !== 'number' || !isInDistribution(d, value)) return -Infinity;
      const x = toInternal(value);
      const logDensityInternal = logSumExp(
        kernels.map((k) => logMixture[k] + normalLogPdf((x - mus[k]) / sigmas[k]) - Math.log(sigmas[k]) - logMassInRange[k]),
      );
      // On a log scale the mixture is a density in ln x; dividing by x makes it one in x.
      return log ? logDensityInternal - x : logDensityInternal;
    },
  };
}

/**
 * Categorical: the kernel of an observation c puts mass (1 + ε) on c and ε on every other choice,
 * normalised, with ε = PRIOR_WEIGHT / (n + 1) (Optuna's smoothing: an Aitchison–Aitken-like kernel
 * whose spread shrinks as observations accumulate); the prior kernel is uniform. For one
 * parameter the mixture is simply a categorical distribution, computed once.
 */
function fitCategorical(d: CategoricalDistribution, observations: readonly ParamValue[], mixture: readonly number[]): ParzenEstimator {
  const nChoices = d.choices.length;
  const n = observations.length;
  const epsilon = PRIOR_WEIGHT / (n + 1);
  const kernelNorm = 1 + nChoices * epsilon;
  const probabilities = new Array<number>(nChoices).fill(mixture[n] / nChoices);
  observations.forEach((value, i) => {
    const observed = d.choices.indexOf(value);
    for (let c = 0; c < nChoices; c++) probabilities[c] += (mixture[i] * ((c === observed ? 1 : 0) + epsilon)) / kernelNorm;
  });
  return {
    sample: (stream) => d.choices[pickIndex(probabilities, stream.uniform())],
    logPdf: (value) => {
      const index = d.choices.indexOf(value);
      return index < 0 ? -Infinity : Math.log(probabilities[index]);
    },
  };
}

/**
 * Stan's window adaptation of HMC's per-chain step size and diagonal inverse mass (Stan Reference
 * Manual, "HMC algorithm parameters", "Automatic parameter tuning"; Hoffman & Gelman 2014, §3.2;
 * docs/mathematics.md, "HMC"). The step size is dual-averaged (dual-averaging.ts) at every
 * warm-up step. The inverse mass is the regularised variance of the positions in slow windows
 * that double in length: the initial buffer lets the chains reach the typical set before any
 * variance is measured, short early windows replace a poor metric quickly, and the final buffer
 * tunes the step size to the last metric. A new metric invalidates the step size tuned to the old
 * one, so after each window the caller searches a reasonable step size afresh and restarts the
 * dual averaging from it.
 */
import { dualAveraging, DualAveragingState } from './dual-averaging';

/** Stan's slow windows: [start, end) intervals of the warm-up in which the metric is estimated. */
export function slowWindows(warmup: number): [number, number][] {
  if (warmup < 20) return [];
  let init = 75;
  let term = 50;
  let base = 25;
  if (init + term + base > warmup) {
    init = Math.floor(0.15 * warmup);
    term = Math.floor(0.1 * warmup);
    base = warmup - init - term;
  }
  const windows: [number, number][] = [];
  const last = warmup - term;
  for (let start = init, size = base; start < last; size *= 2) {
    // A window stretches to the final buffer when the next (doubled) one would not fit.
    const end = start + size + 2 * size > last ? last : start + size;
    windows.push([start, end]);
    start = end;
  }
  return windows;
}

export interface WelfordState {
  mean: Float64Array;
  m2: Float64Array;
  count: number;
}

/** Welford's one-pass variance, elementwise: stable where the sum of squares minus the squared mean would cancel. */
export const welford = {
  init: (size: number): WelfordState => ({ mean: new Float64Array(size), m2: new Float64Array(size), count: 0 }),

  update(s: WelfordState, x: ArrayLike<number>): void {
    s.count++;
    for (let i = 0; i < s.mean.length; i++) {
      const delta = x[i] - s.mean[i];
      s.mean[i] += delta / s.count;
      s.m2[i] += delta * (x[i] - s.mean[i]);
    }
  },

  /** Writes the unbiased sample variance into `out`. */
  final(s: WelfordState, out: Float64Array): void {
    for (let i = 0; i < out.length; i++) out[i] = s.m2[i] / (s.count - 1);
  },
};

/** What an HMC transition runs with: a step size per chain and a diagonal inverse mass per chain (chains × d). */
export interface HmcParameters {
  step: Float64Array;
  invMass: Float64Array;
}

export interface WindowState {
  stepSize: DualAveragingState;
  variance: WelfordState;
}

export interface WindowOptions {
  warmup: number;
  targetAcceptance: number;
  adaptStepSize: boolean;
  adaptMassMatrix: boolean;
}

export function windowAdaptation(o: WindowOptions) {
  const windows = slowWindows(o.warmup);
  const windowEnds = new Set(windows.map(([, end]) => end - 1));
  const inWindow = (t: number) => windows.some(([a, b]) => t >= a && t < b);
  const stepSize = dualAveraging(o.targetAcceptance);

  return {
    windows,

    init: (params: HmcParameters): WindowState => ({ stepSize: stepSize.init(params.step), variance: welford.init(params.invMass.length) }),

    /**
     * Takes warm-up transition `t`'s acceptance probabilities and the positions it left, and
     * updates `params` for the next transition. Returns true when a slow window has ended under
     * step-size adaptation: the step size is then the averaged one, from which the caller searches
     * a reasonable step size and calls `restart`.
     */
    update(s: WindowState, t: number, positions: ArrayLike<number>, accept: Float64Array, params: HmcParameters): boolean {
      if (o.adaptStepSize) stepSize.update(s.stepSize, accept, params.step);
      if (!o.adaptMassMatrix || !inWindow(t)) return false;
      welford.update(s.variance, positions);
      if (!windowEnds.has(t)) return false;
      // Stan's regularisation: shrinks toward 1e-3 while the window holds few draws.
      const count = s.variance.count;
      welford.final(s.variance, params.invMass);
      for (let i = 0; i < params.invMass.length; i++) params.invMass[i] = (count / (count + 5)) * params.invMass[i] + 1e-3 * (5 / (count + 5));
      s.variance = welford.init(params.invMass.length);
      if (!o.adaptStepSize) return false;
      stepSize.final(s.stepSize, params.step);
      return true;
    },

    /** Restarts the dual averaging from the step sizes in `params`. */
    restart(s: WindowState, params: HmcParameters): void {
      s.stepSize = stepSize.init(params.step);
    },

    /** After the last warm-up step: each chain keeps its averaged step size. */
    final(s: WindowState, params: HmcParameters): void {
      if (o.adaptStepSize) stepSize.final(s.stepSize, params.step);
    },
  };
}

/**
 * The warm-up adaptations on their own, against truths that do not come from their code: dual
 * averaging on synthetic acceptance curves with known solutions, Welford against a two-pass
 * variance, Stan's documented slow windows and metric regularisation, and MCLMC's L and ε tuning
 * around a synthetic transition whose energy error and draws have known laws.
 */
import { describe, expect, it } from 'vitest';
import { referenceKernel } from '../packages/llc/src/kernels/reference';
import type { MlpArch } from '../packages/llc/src/mlp';
import { fillNormal, fillUniform, fold, keyFromSeed } from '../packages/llc/src/rng';
import { Posterior } from '../packages/llc/src/posterior';
import { dualAveraging } from '../packages/llc/src/samplers/adaptation/dual-averaging';
import { mclmcTuning, TunedChains, TuningOptions } from '../packages/llc/src/samplers/adaptation/mclmc-tuning';
import { slowWindows, welford, windowAdaptation } from '../packages/llc/src/samplers/adaptation/window';

/** Per-element variance with the mean subtracted first, divided by n − 1. */
function twoPassVariance(rows: Float64Array[]): number[] {
  const size = rows[0].length;
  return Array.from({ length: size }, (_, i) => {
    const mean = rows.reduce((s, r) => s + r[i], 0) / rows.length;
    return rows.reduce((s, r) => s + (r[i] - mean) ** 2, 0) / (rows.length - 1);
  });
}

describe('dual averaging', () => {
  it('drives each chain to the step size whose acceptance is the target, with noisy acceptances', () => {
    // Acceptance e^{−(ε/s)²}: the target a is reached at ε = s·√(−ln a), s = 1 and 3 for the two chains.
    const target = 0.8;
    const scales = [1, 3];
    const da = dualAveraging(target);
    const step = Float64Array.of(0.01, 0.01);
    const state = da.init(step);
    const accept = new Float64Array(2);
    const noise = new Float64Array(2);
    for (let t = 0; t < 4000; t++) {
      fillUniform(fold(keyFromSeed(1), t), noise);
      for (let c = 0; c < 2; c++) accept[c] = Math.min(1, Math.max(0, Math.exp(-((step[c] / scales[c]) ** 2)) + 0.1 * (2 * noise[c] - 1)));
      da.update(state, accept, step);
    }
    da.final(state, step);
    for (let c = 0; c < 2; c++) expect(step[c] / (scales[c] * Math.sqrt(-Math.log(target)))).toBeCloseTo(1, 1);
  });
});

describe('window adaptation', () => {
  it('Welford matches a two-pass variance, also far from the origin', () => {
    for (const offset of [0, 1e8]) {
      const rows = Array.from({ length: 50 }, (_, t) => {
        const x = new Float64Array(3);
        fillNormal(fold(keyFromSeed(2), t), x);
        return x.map((v, i) => offset + (i + 1) * v);
      });
      const w = welford.init(3);
      for (const r of rows) welford.update(w, r);
      const variance = new Float64Array(3);
      welford.final(w, variance);
      // Sums of squares near 1e16 would lose every digit of a variance near 1; Welford keeps about 8.
      twoPassVariance(rows).forEach((v, i) => expect(variance[i] / v).toBeCloseTo(1, 6));
    }
  });

  it('uses Stan’s documented schedule: buffers 75 and 50, windows doubling from 25, the last stretched', () => {
    let start = 75;
    const windows = [25, 50, 100, 200, 500].map((size) => [start, (start += size)]);
    expect(slowWindows(1000)).toEqual(windows);
    expect(1000 - start).toBe(50);
    // Too short for 75 + 25 + 50: buffers of 15% and 10%, one window of the remaining 75%.
    expect(slowWindows(100)).toEqual([[15, 90]]);
  });

  for (const adaptStepSize of [true, false]) {
    it(`sets the regularised window variance as inverse mass and ${adaptStepSize ? 'asks' : 'does not ask'} for a step-size search at window ends`, () => {
      const chains = 2;
      const d = 3;
      const warmup = 200; // windows [75, 100) and [100, 150)
      const adaptation = windowAdaptation({ warmup, targetAcceptance: 0.8, adaptStepSize, adaptMassMatrix: true });
      const params = { step: Float64Array.of(0.1, 0.2), invMass: new Float64Array(chains * d).fill(1) };
      const state = adaptation.init(params);
      const accept = Float64Array.of(0.9, 0.5);
      let window: Float64Array[] = [];
      for (let t = 0; t < warmup; t++) {
        const positions = new Float64Array(chains * d);
        fillNormal(fold(keyFromSeed(3), t), positions);
        if (t >= 75 && t < 150) window.push(positions);
        const search = adaptation.update(state, t, positions, accept, params);
        const windowEnd = t === 99 || t === 149;
        expect(search).toBe(adaptStepSize && windowEnd);
        if (windowEnd) {
          // Stan Reference Manual: (n/(n + 5))·var + 1e-3·(5/(n + 5)) over the window's n draws.
          const n = window.length;
          twoPassVariance(window).forEach((v, i) => expect(params.invMass[i]).toBeCloseTo((n / (n + 5)) * v + 1e-3 * (5 / (n + 5)), 12));
          window = [];
        }
        if (search) adaptation.restart(state, params);
      }
      adaptation.final(state, params);
      if (adaptStepSize) {
        // Acceptance above the target pushes the step size up, below it down.
        expect(params.step[0]).toBeGreaterThan(0.1);
        expect(params.step[1]).toBeLessThan(0.2);
      } else expect(Array.from(params.step)).toEqual([0.1, 0.2]);
    });
  }
});

describe('MCLMC tuning', () => {
  // A posterior only for its shape (d = 4, chains) and w*; the transition below never calls the kernel.
  const arch: MlpArch = { in_dim: 3, out_dim: 1, widths: [], activation: 'identity', bias: true, layernorm: false, skip_connections: false, residual_period: 2 };
  const chains = 4;
  const d = 4;
  const X = new Float64Array(3 * 8);
  const Y = new Float64Array(8);
  const posterior = new Posterior(referenceKernel({ arch, X, Y, n: 8, lossFn: { kind: 'mse', df: 0, scale: 0 }, dtype: 'float64', chains, maxBatch: 0 }), [1, -2, 0.5, 3], { n: 8, beta: 1, nBeta: 8, gamma: 1 });
  const sigma = [0.5, 1, 2, 0.25];
  const C = 3;
  const options: TuningOptions = { tune: true, num_steps: 1000, frac_tune1: 0.1, frac_tune2: 0.4, frac_tune3: 0.1, desired_energy_var: 5e-4, trust_in_estimate: 1.5, num_effective_samples: 150, diagonal_preconditioning: false };

  /** Independent draws w ~ N(w*, diag σ²) and an energy change C·ε³ (Var[ΔE] ∝ ε⁶, the law the predictor assumes). */
  const transition = (s: TunedChains, key: ReturnType<typeof keyFromSeed>) => {
    fillNormal(key, s.w);
    for (let c = 0; c < chains; c++) for (let j = 0; j < d; j++) s.w[c * d + j] = posterior.center[j] + sigma[j] * s.w[c * d + j];
    s.energyChange.fill(C * s.stepSize ** 3);
  };

  const tune = (o: TuningOptions) => {
    const s: TunedChains = {
      w: new Float64Array(chains * d),
      u: new Float64Array(chains * d),
      g: new Float64Array(chains * d),
      logDensity: new Float64Array(chains),
      loss: new Float64Array(chains),
      energyChange: new Float64Array(chains),
      L: 0,
      stepSize: 0,
      sqrtDiagCov: new Float64Array(d).fill(1),
    };
    const tuning = mclmcTuning(transition, posterior, o);
    const state = tuning.init(s);
    expect([s.L, s.stepSize]).toEqual([2, 0.5]); // BlackJAX's start: L = √d, ε = √d/4
    for (let t = 0; t < tuning.steps; t++) tuning.update(state, s, fold(keyFromSeed(4), t), t);
    tuning.final(state, s);
    return s;
  };

  // ξ = (Cε³)²/(d·desired_energy_var) = 1 there.
  const targetStep = (d * options.desired_energy_var / C ** 2) ** (1 / 6);

  it('finds the ε of the desired energy variance, and L ≈ 0.4·ε for independent draws (steps/ESS ≈ 1)', () => {
    const s = tune(options);
    expect(s.stepSize / targetStep).toBeCloseTo(1, 5);
    expect(s.L / (0.4 * s.stepSize)).toBeGreaterThan(0.8);
    expect(s.L / (0.4 * s.stepSize)).toBeLessThan(1.25);
  });

  it('without phase 3, L is √(Σ variances); with preconditioning σ is the standard deviations and L = √d', () => {
    const plain = tune({ ...options, frac_tune3: 0 });
    expect(plain.L / Math.sqrt(sigma.reduce((a, v) => a + v * v, 0))).toBeCloseTo(1, 1);
    const preconditioned = tune({ ...options, frac_tune3: 0, diagonal_preconditioning: true });
    expect(preconditioned.L).toBe(Math.sqrt(d));
    sigma.forEach((v, j) => expect(preconditioned.sqrtDiagCov[j] / v).toBeCloseTo(1, 1));
    expect(preconditioned.stepSize / targetStep).toBeCloseTo(1, 5);
  });
});

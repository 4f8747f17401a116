/**
 * ESS, R̂ and MCSE against values derived independently of the estimators: iid chains (ESS = C·T),
 * AR(1) chains (ESS of the mean = N·(1−φ)/(1+φ); tail ESS from the exact autocorrelation of a
 * quantile indicator, through the bivariate normal orthant probability), and chains built to
 * disagree.
 */
import { describe, expect, it } from 'vitest';
import { autocovariance, chainDiagnostics, essBulk, essMean, essTail, mcseMean, normalQuantile, rhat } from '../packages/llc/src/diagnostics';
import { fillNormal, fold, keyFromSeed } from '../packages/llc/src/rng';

/** C chains of an AR(1) process x_t = φ·x_{t−1} + e_t, e ~ N(0, 1), started in stationarity. */
function ar1(phi: number, chains: number, draws: number, seed: number): Float64Array {
  const e = new Float64Array(chains * draws);
  fillNormal(keyFromSeed(seed), e);
  const x = new Float64Array(chains * draws);
  for (let c = 0; c < chains; c++) {
    let prev = e[c * draws] / Math.sqrt(1 - phi * phi);
    x[c * draws] = prev;
    for (let t = 1; t < draws; t++) x[c * draws + t] = prev = phi * prev + e[c * draws + t];
  }
  return x;
}

/** P(X ≤ a, Y ≤ a) for standard bivariate normals with correlation r: p² + ∫₀ʳ φ₂(a, a; s) ds. */
function orthant(a: number, r: number, p: number): number {
  const f = (s: number) => Math.exp(-(a * a) / (1 + s)) / (2 * Math.PI * Math.sqrt(1 - s * s));
  const n = 2000;
  const h = r / n;
  let sum = f(0) + f(r);
  for (let i = 1; i < n; i++) sum += (i % 2 ? 4 : 2) * f(i * h);
  return p * p + (sum * h) / 3;
}

/** The exact ESS of the indicator 1{x ≤ q_p} for a stationary Gaussian AR(1) chain of length N. */
function indicatorEssTruth(phi: number, p: number, N: number): number {
  const a = normalQuantile(p);
  let tau = 1;
  for (let k = 1; k < 400; k++) {
    const rho = (orthant(a, Math.pow(phi, k), p) - p * p) / (p * (1 - p));
    if (rho < 1e-6) break;
    tau += 2 * rho;
  }
  return N / tau;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe('building blocks', () => {
  it('normal quantiles', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 12);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 8);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232306167813, 8);
    expect(normalQuantile(1 - 1e-9)).toBeCloseTo(5.997807015007686, 6);
  });

  it('autocovariance by FFT equals the direct sum', () => {
    const x = ar1(0.5, 1, 37, 1);
    const m = x.reduce((a, b) => a + b, 0) / x.length;
    const fast = autocovariance(x);
    for (const lag of [0, 1, 5, 36]) {
      let direct = 0;
      for (let t = 0; t + lag < x.length; t++) direct += (x[t] - m) * (x[t + lag] - m);
      expect(fast[lag]).toBeCloseTo(direct / x.length, 12);
    }
  });
});

describe('effective sample size', () => {
  const C = 4;
  const T = 5000;

  it('iid chains: ESS ≈ C·T (bulk, tail and mean)', () => {
    const x = new Float64Array(C * T);
    fillNormal(keyFromSeed(7), x);
    for (const [name, value] of [
      ['bulk', essBulk(x, C, T)],
      ['mean', essMean(x, C, T)],
      ['tail', essTail(x, C, T)],
    ] as const) {
      expect(Math.abs(value / (C * T) - 1), name).toBeLessThan(name === 'tail' ? 0.2 : 0.1);
    }
  });

  for (const phi of [0.9, 0.5, -0.5]) {
    it(`AR(1) with φ = ${phi}: ESS of the mean = N(1−φ)/(1+φ)`, () => {
      const truth = (C * T * (1 - phi)) / (1 + phi);
      const estimates = Array.from({ length: 12 }, (_, s) => ar1(phi, C, T, 100 + s)).map((x) => [essBulk(x, C, T), essMean(x, C, T)]);
      // Each estimate within 25%, their median within 8%: the estimator's own spread at this length is ~7%.
      for (const [bulk, mean] of estimates) {
        expect(Math.abs(bulk / truth - 1)).toBeLessThan(0.25);
        expect(Math.abs(mean / truth - 1)).toBeLessThan(0.25);
      }
      expect(Math.abs(median(estimates.map((e) => e[0])) / truth - 1)).toBeLessThan(0.08);
      expect(Math.abs(median(estimates.map((e) => e[1])) / truth - 1)).toBeLessThan(0.08);
    });
  }

  it('AR(1) tail ESS matches the exact indicator autocorrelation', () => {
    const phi = 0.8;
    const truth = C * indicatorEssTruth(phi, 0.05, T);
    const estimates = Array.from({ length: 12 }, (_, s) => essTail(ar1(phi, C, T, 300 + s), C, T));
    // Tail ESS is the smaller of two noisy estimates (5% and 95%), so it sits a little below the truth.
    expect(median(estimates) / truth).toBeGreaterThan(0.8);
    expect(median(estimates) / truth).toBeLessThan(1.08);
  });

  it('is undefined for too few, constant or non-finite draws', () => {
    expect(essBulk(new Float64Array([1, 2, 3]), 1, 3)).toBeNaN();
    expect(essMean(new Float64Array(40).fill(2), 4, 10)).toBeNaN();
    expect(essBulk(Float64Array.from({ length: 40 }, (_, i) => (i === 7 ? NaN : i % 5)), 4, 10)).toBeNaN();
  });
});

describe('R̂', () => {
  it('is close to 1 for well-mixed chains', () => {
    expect(rhat(ar1(0.5, 4, 2000, 11), 4, 2000)).toBeLessThan(1.01);
  });

  it('flags chains with different means', () => {
    const x = ar1(0.5, 4, 1000, 12);
    for (let c = 0; c < 4; c++) for (let t = 0; t < 1000; t++) x[c * 1000 + t] += 0.5 * c;
    expect(rhat(x, 4, 1000)).toBeGreaterThan(1.1);
  });

  it('flags chains with different spreads through the folded draws', () => {
    const x = new Float64Array(4 * 1000);
    fillNormal(fold(keyFromSeed(13), 1), x);
    for (let i = 2000; i < 4000; i++) x[i] *= 3;
    expect(rhat(x, 4, 1000)).toBeGreaterThan(1.1);
  });

  it('flags a trend inside a single chain (split R̂)', () => {
    const x = ar1(0.3, 1, 1000, 14).map((v, t) => v + (3 * t) / 1000);
    expect(rhat(x, 1, 1000)).toBeGreaterThan(1.1);
  });
});

describe('MCSE of the mean', () => {
  it('AR(1): sd·√((1+φ)/((1−φ)·N)) with marginal variance 1/(1−φ²)', () => {
    const phi = 0.9;
    const truth = Math.sqrt(1 / (1 - phi * phi) / ((4 * 5000 * (1 - phi)) / (1 + phi)));
    const estimates = Array.from({ length: 8 }, (_, s) => mcseMean(ar1(phi, 4, 5000, 500 + s), 4, 5000));
    expect(Math.abs(median(estimates) / truth - 1)).toBeLessThan(0.06);
  });

  it('chainDiagnostics bundles the same numbers', () => {
    const x = ar1(0.5, 2, 300, 21);
    expect(chainDiagnostics(x, 2, 300)).toEqual({ ess_bulk: essBulk(x, 2, 300), ess_tail: essTail(x, 2, 300), r_hat: rhat(x, 2, 300), mcse_mean: mcseMean(x, 2, 300), ess_mean: essMean(x, 2, 300) });
  });
});

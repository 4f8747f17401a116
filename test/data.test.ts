/** Input distributions and noise models against their defining moments and structure. */
import { describe, expect, it } from 'vitest';
import { addNoise, DataSpec, sampleInputs } from '../packages/llc/src/data';
import { fold, keyFromSeed } from '../packages/llc/src/rng';
import { symmetricEigenvalues } from './support/regular-model';

const base: DataSpec = { n_data: 0, n_test: 0, x_dist: 'gauss_iso', noise_model: 'gauss', noise_scale: 0.1 };
const key = keyFromSeed(2024);
const N = 40_000;
const D = 4;

function columnVariances(X: Float64Array, n: number, d: number): number[] {
  return Array.from({ length: d }, (_, j) => {
    let m = 0;
    for (let i = 0; i < n; i++) m += X[i * d + j];
    m /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (X[i * d + j] - m) ** 2;
    return v / n;
  });
}

const mean = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0) / xs.length;

describe('input distributions', () => {
  it('gauss_iso: zero mean, identity covariance', () => {
    const X = sampleInputs(base, N, D, key);
    expect(Math.abs(mean(X))).toBeLessThan(0.01);
    for (const v of columnVariances(X, N, D)) expect(Math.abs(v - 1)).toBeLessThan(0.03);
  });

  it('gauss_aniso: variance cov_decay^i on coordinate i', () => {
    const X = sampleInputs({ ...base, x_dist: 'gauss_aniso', cov_decay: 0.5 }, N, D, key);
    columnVariances(X, N, D).forEach((v, j) => expect(Math.abs(v / 0.5 ** j - 1)).toBeLessThan(0.03));
  });

  it('mixture: E‖x‖² = spread² + in_dim, and K centres', () => {
    const spread = 3;
    const X = sampleInputs({ ...base, x_dist: 'mixture', mixture_k: 4, mixture_spread: spread }, N, D, key);
    let sq = 0;
    for (const x of X) sq += x * x;
    expect(Math.abs(sq / N - (spread * spread + D)) / (spread * spread + D)).toBeLessThan(0.03);
  });

  it('lowdim_manifold: atanh(X) has rank x_dim_latent', () => {
    const k = 2;
    const n = 500;
    const X = sampleInputs({ ...base, x_dist: 'lowdim_manifold', x_dim_latent: k }, n, 6, key);
    for (const x of X) expect(Math.abs(x)).toBeLessThan(1);
    const A = Array.from({ length: 6 }, (_, a) => Array.from({ length: 6 }, (_, b) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += Math.atanh(X[i * 6 + a]) * Math.atanh(X[i * 6 + b]);
      return s;
    }));
    const eig = symmetricEigenvalues(A);
    const top = eig[eig.length - 1];
    expect(eig.slice(0, 6 - k).every((e) => Math.abs(e) < 1e-8 * top)).toBe(true);
    expect(eig[6 - k]).toBeGreaterThan(1e-3 * top);
  });

  it('heavy_tail: multivariate Student t with variance ν/(ν−2) and a shared scale per row', () => {
    const df = 6;
    const X = sampleInputs({ ...base, x_dist: 'heavy_tail', student_df: df }, N, D, key);
    for (const v of columnVariances(X, N, D)) expect(Math.abs(v / (df / (df - 2)) - 1)).toBeLessThan(0.06);
    // A shared scale makes coordinates of one row dependent: E[x1²x2²] = ν²/((ν−2)(ν−4)) ≠ 1.
    let cross = 0;
    for (let i = 0; i < N; i++) cross += X[i * D] ** 2 * X[i * D + 1] ** 2;
    expect(Math.abs(cross / N / ((df * df) / ((df - 2) * (df - 4))) - 1)).toBeLessThan(0.15);
  });

  it('is a pure function of the key', () => {
    expect(sampleInputs({ ...base, x_dist: 'mixture', mixture_k: 3, mixture_spread: 2 }, 50, 3, key)).toEqual(
      sampleInputs({ ...base, x_dist: 'mixture', mixture_k: 3, mixture_spread: 2 }, 50, 3, key),
    );
    expect(sampleInputs(base, 50, 3, key)).not.toEqual(sampleInputs(base, 50, 3, fold(key, 1)));
  });
});

describe('noise models', () => {
  const X = sampleInputs(base, N, D, fold(key, 9));
  const clean = new Float64Array(N).map((_, i) => Math.sin(i));
  const noiseOf = (spec: DataSpec) => addNoise(spec, clean, X, D, 1, fold(key, 10)).map((y, i) => y - clean[i]);

  it('gauss: N(0, σ²)', () => {
    const e = noiseOf({ ...base, noise_scale: 0.3 });
    expect(Math.abs(mean(e))).toBeLessThan(0.01);
    expect(Math.abs(mean(e.map((x) => x * x)) / 0.09 - 1)).toBeLessThan(0.03);
  });

  it('noise_scale 0 is noiseless', () => {
    expect(noiseOf({ ...base, noise_scale: 0 }).every((x) => x === 0)).toBe(true);
  });

  it('hetero: σ·(1 + h·‖x‖) per row', () => {
    const h = 0.5;
    const e = noiseOf({ ...base, noise_model: 'hetero', noise_scale: 0.2, hetero_scale: h });
    const standardised = e.map((x, i) => x / (0.2 * (1 + h * Math.hypot(...X.subarray(i * D, i * D + D)))));
    expect(Math.abs(mean(standardised.map((x) => x * x)) - 1)).toBeLessThan(0.03);
  });

  it('student_t: variance σ²·ν/(ν−2)', () => {
    const df = 8;
    const e = noiseOf({ ...base, noise_model: 'student_t', noise_scale: 0.5, student_df: df });
    expect(Math.abs(mean(e.map((x) => x * x)) / (0.25 * (df / (df - 2))) - 1)).toBeLessThan(0.05);
  });

  it('outliers: a fraction f drawn at the outlier scale', () => {
    const f = 0.1;
    const e = noiseOf({ ...base, noise_model: 'outliers', noise_scale: 0.01, outlier_frac: f, outlier_scale: 5 });
    // With σ = 0.01 almost every |e| > 0.1 is an outlier; P(|N(0, 25)| > 0.1) ≈ 0.984.
    const large = e.filter((x) => Math.abs(x) > 0.1).length / N;
    expect(Math.abs(large / (f * 0.984) - 1)).toBeLessThan(0.05);
    expect(Math.abs(mean(e.map((x) => x * x)) / ((1 - f) * 1e-4 + f * 25) - 1)).toBeLessThan(0.05);
  });
});

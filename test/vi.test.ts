/**
 * MFA variational inference (packages/llc/src/samplers/vi/): every gradient of the per-draw
 * objective against central finite differences, the estimators' unbiasedness by quadrature, the
 * Hessian-vector products and the trace term against an exact Hessian, λ̂ against the exact value
 * for linear regression, work accounting, determinism and option validation.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { referenceKernel } from '../packages/llc/src/kernels/reference';
import { initParams, layout, MlpArch } from '../packages/llc/src/mlp';
import { fillNormal, fold, keyFromSeed } from '../packages/llc/src/rng';
import { Posterior } from '../packages/llc/src/posterior';
import vi, { CentralDifferenceHessian, covarianceTrace, initialScales, learningRate, MfaFamily, MfaObjective, ViOptions } from '../packages/llc/src/samplers/vi';
import { linD, linearProblem, linN, linRow, linTemperature, linTruth as truth } from './support/linear-regression';

const lossFn = { kind: 'mse' as const, df: 0, scale: 0 };
/** Hutchinson probes per chain behind the starting scale (vi/index.ts's INIT_PROBES). */
const INIT_PROBES = 8;
/** Eval draws per chain whose HVP is repeated at half the step (vi/index.ts's LINEARITY_CHECKS). */
const LINEARITY_CHECKS = 8;

const OPTIONS: ViOptions = {
  M: 8,
  r: 2,
  steps: 1500,
  batch_size: 64,
  lr: 0.01,
  eval_samples: 32,
  dtype: 'float64',
  whitening_mode: 'none',
  whitening_decay: 0.99,
  clip_global_norm: null,
  alpha_temperature: 1,
  r_per_component: null,
  alpha_dirichlet_prior: null,
  lr_schedule: 'cosine',
  lr_warmup_frac: 0.05,
  entropy_bonus: 0,
  control_variate: true,
  exact_trace_max_d: 512,
  trace_probes: 32,
  chains: 4,
};

// Linear regression (test/support/linear-regression.ts).
/** The exact Hessian (2/n)·X̃ᵀX̃ of the MSE. */
const linH: number[][] = Array.from({ length: linD }, (_, j) =>
  Array.from({ length: linD }, (_, k) => {
    let s = 0;
    for (let i = 0; i < linN; i++) s += linRow(i, j) * linRow(i, k);
    return (2 / linN) * s;
  }),
);

// ---------------------------------------------------------------------------------------------
// A small tanh network for the finite-difference checks (a curved, non-quadratic log p).
const mlpArch: MlpArch = { in_dim: 3, out_dim: 1, widths: [4], activation: 'tanh', bias: true, layernorm: false, skip_connections: false, residual_period: 2 };
const mlpN = 40;
const mlpD = layout(mlpArch).d;
const mlpX = new Float64Array(mlpN * 3);
const mlpY = new Float64Array(mlpN);
fillNormal(keyFromSeed(1), mlpX);
fillNormal(keyFromSeed(2), mlpY);
const mlpCenter = initParams(mlpArch, keyFromSeed(3), new Float64Array(mlpD)) as Float64Array;
const mlpTemperature = { n: mlpN, beta: 0.5, nBeta: 20, gamma: 1 };

/** Random parameters with sizeable A and α, so every term of the densities matters. */
function randomParams(family: MfaFamily, seed: number): Float64Array {
  const params = new Float64Array(family.size);
  fillNormal(keyFromSeed(seed), params);
  const { d, M, r, ranks } = family.shape;
  for (let i = 0; i < d; i++) params[i] = -1 + 0.3 * params[i];
  for (let m = 0; m < M; m++) for (let i = 0; i < d; i++) for (let j = ranks[m]; j < r; j++) params[family.aOffset + (m * d + i) * r + j] = 0;
  return params;
}

/** Short runs for the mechanics. */
const SHORT: ViOptions = { ...OPTIONS, steps: 300, eval_samples: 8, chains: 2, M: 2, r: 1 };

const relErr = (a: number, b: number) => Math.abs(a - b) / Math.max(1e-12, Math.abs(a), Math.abs(b));

describe('MFA family and per-draw gradients', () => {
  const shape = { d: mlpD, M: 3, r: 2, ranks: [2, 1, 0], temperature: 0.7 };

  it('∇_t̃ log q and ∇_α log q = (r − π)/T match central differences', () => {
    const family = new MfaFamily(shape, 1);
    const params = randomParams(family, 7);
    family.prepare(0, params);
    const t = new Float64Array(mlpD);
    fillNormal(keyFromSeed(8), t);
    for (let i = 0; i < mlpD; i++) t[i] *= 0.4;
    const grad = new Float64Array(mlpD);
    family.logDensity(0, params, t, 0, grad);
    const h = 1e-6;
    for (let i = 0; i < mlpD; i++) {
      const tp = Float64Array.from(t);
      const tm = Float64Array.from(t);
      tp[i] += h;
      tm[i] -= h;
      const fd = (family.logDensity(0, params, tp, 0, null) - family.logDensity(0, params, tm, 0, null)) / (2 * h);
      expect(relErr(grad[i], fd)).toBeLessThan(1e-6);
    }
    family.logDensity(0, params, t, 0, null);
    const score = new Float64Array(family.size);
    family.addAlphaScore(0, 1, score);
    for (let m = 0; m < shape.M; m++) {
      const k = family.alphaOffset + m;
      const at = (delta: number) => {
        const p = Float64Array.from(params);
        p[k] += delta;
        family.prepare(0, p);
        return family.logDensity(0, p, t, 0, null);
      };
      const fd = (at(h) - at(-h)) / (2 * h);
      expect(relErr(score[k], fd)).toBeLessThan(1e-6);
    }
  });

  it('the log density integrates to 1 (d = 1, by quadrature) and matches a dense evaluation for d > r', () => {
    const family = new MfaFamily({ d: 1, M: 2, r: 1, ranks: [1, 1], temperature: 1 }, 1);
    const params = Float64Array.from([-0.3, 0.8, -1.5, 0.4, -0.2]);
    family.prepare(0, params);
    let mass = 0;
    const t = new Float64Array(1);
    for (let k = -40000; k <= 40000; k++) {
      t[0] = k * 2e-4;
      mass += Math.exp(family.logDensity(0, params, t, 0, null)) * 2e-4;
    }
    expect(Math.abs(mass - 1)).toBeLessThan(1e-9);

    // d = 3, one component of rank 2: compare with log N(t; 0, S(AAᵀ + I)S) computed densely.
    const f3 = new MfaFamily({ d: 3, M: 1, r: 2, ranks: [2], temperature: 1 }, 1);
    const p3 = Float64Array.from([0.2, -0.5, 1.1, 0.3, -0.7, 1.2, 0.5, -0.4, 0.9, 0]);
    f3.prepare(0, p3);
    const s = f3.scales(0);
    const A = [
      [0.3, -0.7],
      [1.2, 0.5],
      [-0.4, 0.9],
    ];
    const cov = A.map((ai, i) => A.map((aj, j) => s[i] * s[j] * (ai[0] * aj[0] + ai[1] * aj[1] + (i === j ? 1 : 0))));
    const x = Float64Array.from([0.5, -1.2, 0.8]);
    // 3×3 inverse and determinant by cofactors.
    const [[a, b, c], [dd, e, f], [g, hh, k]] = cov;
    const det = a * (e * k - f * hh) - b * (dd * k - f * g) + c * (dd * hh - e * g);
    const inv = [
      [e * k - f * hh, c * hh - b * k, b * f - c * e],
      [f * g - dd * k, a * k - c * g, c * dd - a * f],
      [dd * hh - e * g, b * g - a * hh, a * e - b * dd],
    ].map((row) => row.map((v) => v / det));
    let quad = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) quad += x[i] * inv[i][j] * x[j];
    const dense = -0.5 * (3 * Math.log(2 * Math.PI) + Math.log(det) + quad);
    expect(relErr(f3.logDensity(0, p3, x, 0, null), dense)).toBeLessThan(1e-12);
  });

  it('the STL gradient for ρ and A is the derivative of log p(t̃_φ) − log q_φ̄(t̃_φ) through the draw (tanh MLP, whitened)', () => {
    const chains = 1;
    const batch = 8;
    const kernel = referenceKernel({ arch: mlpArch, X: mlpX, Y: mlpY, n: mlpN, lossFn, dtype: 'float64', chains, maxBatch: batch });
    const family = new MfaFamily(shape, chains);
    const whitening = new Float64Array(mlpD);
    fillNormal(keyFromSeed(9), whitening);
    for (let i = 0; i < mlpD; i++) whitening[i] = Math.exp(0.5 * whitening[i]);
    const settings = { nBeta: 13, gamma: 2 };
    const posterior = new Posterior(kernel, mlpCenter, { n: mlpN, beta: settings.nBeta / mlpN, ...settings });
    const objective = new MfaObjective(family, whitening, { dirichlet: null, entropyBonus: 0 });
    const params = randomParams(family, 10);
    const noise = new Float64Array(shape.r + mlpD);
    fillNormal(keyFromSeed(11), noise);
    const rows = Int32Array.from([0, 5, 5, 17, 22, 31, 38, 9]);
    const w = new Float64Array(mlpD);
    const lossGrad = new Float64Array(mlpD);
    const lossOut = new Float64Array(1);
    const gradU = new Float64Array(mlpD);
    const potential = new Float64Array(1);
    const t = new Float64Array(mlpD);
    const logP = (tt: Float64Array) => {
      let sq = 0;
      for (let i = 0; i < mlpD; i++) {
        w[i] = mlpCenter[i] + tt[i] / whitening[i];
        sq += (tt[i] / whitening[i]) ** 2;
      }
      kernel.lossGrad(w, rows, batch, lossGrad, lossOut);
      return -settings.nBeta * lossOut[0] - 0.5 * settings.gamma * sq;
    };
    for (const uniform of [0.1, 0.6]) {
      // uniform 0.1 and 0.6 pick components 0 (rank 2) and 1 (rank 1) under these weights.
      family.prepare(0, params);
      const m = family.sample(0, params, uniform, noise, t, 0);
      logP(t);
      posterior.gradient(w, gradU, lossOut, potential, rows, batch);
      const grad = new Float64Array(family.size);
      objective.gradient(0, params, m, noise, t, potential[0], gradU, null, grad);
      const frozen = Float64Array.from(params);
      const F = (p: Float64Array) => {
        family.prepare(0, p);
        const tt = new Float64Array(mlpD);
        expect(family.sample(0, p, uniform, noise, tt, 0)).toBe(m);
        const lp = logP(tt);
        family.prepare(0, frozen);
        return lp - family.logDensity(0, frozen, tt, 0, null) - objective.logJacobian[0];
      };
      const h = 1e-6;
      const checked = [...Array(mlpD).keys(), ...Array.from({ length: mlpD * shape.r }, (_, k) => family.aOffset + m * mlpD * shape.r + k)];
      for (const k of checked) {
        const pp = Float64Array.from(params);
        const pm = Float64Array.from(params);
        pp[k] += h;
        pm[k] -= h;
        const fd = (F(pp) - F(pm)) / (2 * h);
        const inMask = k < mlpD || (k - family.aOffset - m * mlpD * shape.r) % shape.r < shape.ranks[m];
        if (inMask) expect(Math.abs(grad[k] - fd)).toBeLessThan(1e-6 * Math.max(1, Math.abs(fd)));
        else expect(grad[k]).toBe(0);
      }
      // Other components' loadings get no pathwise gradient; α gets none without a baseline.
      for (let k = family.aOffset; k < family.alphaOffset; k++) if (Math.floor((k - family.aOffset) / (mlpD * shape.r)) !== m) expect(grad[k]).toBe(0);
      for (let k = family.alphaOffset; k < family.size; k++) expect(grad[k]).toBe(0);
    }
  });

  it('the weight regularisers are the gradients of (α₀ − 1)·Σ log π + λ·H(π)', () => {
    const family = new MfaFamily({ d: 2, M: 4, r: 1, ranks: [1, 1, 1, 1], temperature: 0.8 }, 1);
    const params = randomParams(family, 12);
    const dirichlet = 2.5;
    const bonus = 0.3;
    const value = (p: Float64Array) => {
      family.prepare(0, p);
      let logSum = 0;
      let entropy = 0;
      for (const pi of family.pi) {
        logSum += Math.log(pi);
        entropy -= pi * Math.log(pi);
      }
      return (dirichlet - 1) * logSum + bonus * entropy;
    };
    family.prepare(0, params);
    const grad = new Float64Array(family.size);
    family.addWeightRegularisers(0, dirichlet, bonus, grad);
    const h = 1e-6;
    for (let m = 0; m < 4; m++) {
      const k = family.alphaOffset + m;
      const pp = Float64Array.from(params);
      const pm = Float64Array.from(params);
      pp[k] += h;
      pm[k] -= h;
      expect(relErr(grad[k], (value(pp) - value(pm)) / (2 * h))).toBeLessThan(1e-6);
    }
  });

  it('both estimators are unbiased for the ELBO gradient, the entropy path included (d = 1, by quadrature)', () => {
    // log p = −t²/(2σ²); q a two-component mixture. ELBO(φ) = ∫ q(log p − log q) on a grid; the
    // expected STL and score estimates (baseline 0) by quadrature over (z, ε) per component.
    const sigma = 0.7;
    const family = new MfaFamily({ d: 1, M: 2, r: 1, ranks: [1, 1], temperature: 0.9 }, 1);
    const base = Float64Array.from([-0.4, 0.9, -0.3, 0.5, -0.2]);
    const logPDensity = (t: number) => (-t * t) / (2 * sigma * sigma);
    const tBuf = new Float64Array(1);
    const gq = new Float64Array(1);
    const elbo = (p: Float64Array) => {
      family.prepare(0, p);
      let sum = 0;
      const step = 1e-3;
      for (let k = -12000; k <= 12000; k++) {
        tBuf[0] = k * step;
        const lq = family.logDensity(0, p, tBuf, 0, null);
        sum += Math.exp(lq) * (logPDensity(tBuf[0]) - lq) * step;
      }
      return sum;
    };
    family.prepare(0, base);
    const expected = new Float64Array(family.size);
    const grad = new Float64Array(family.size);
    const G = new Float64Array(1);
    const noise = new Float64Array(2);
    const step = 0.02;
    const phi = (u: number) => Math.exp(-0.5 * u * u) / Math.sqrt(2 * Math.PI);
    for (let m = 0; m < 2; m++) {
      const uniform = m === 0 ? 0 : 0.999999;
      for (let a = -400; a <= 400; a++) {
        for (let b = -400; b <= 400; b++) {
          noise[0] = a * step;
          noise[1] = b * step;
          const weight = family.pi[m] * phi(noise[0]) * phi(noise[1]) * step * step;
          family.sample(0, base, uniform, noise, tBuf, 0);
          const lq = family.logDensity(0, base, tBuf, 0, gq);
          G[0] = -tBuf[0] / (sigma * sigma) - gq[0];
          grad.fill(0);
          family.pathwiseGradient(0, base, m, noise, tBuf, 0, G, grad);
          family.addAlphaScore(0, logPDensity(tBuf[0]) - lq, grad);
          for (let k = 0; k < family.size; k++) expected[k] += weight * grad[k];
        }
      }
    }
    const h = 1e-5;
    for (let k = 0; k < family.size; k++) {
      const pp = Float64Array.from(base);
      const pm = Float64Array.from(base);
      pp[k] += h;
      pm[k] -= h;
      const fd = (elbo(pp) - elbo(pm)) / (2 * h);
      expect(Math.abs(expected[k] - fd)).toBeLessThan(1e-5 * Math.max(1, Math.abs(fd)));
    }
  });
});

describe('learning-rate schedules', () => {
  const o = { lr: 0.01, steps: 1000, lr_warmup_frac: 0.1 };
  it('warm up linearly for every schedule, then hold, cosine-decay or linearly decay', () => {
    for (const lr_schedule of [null, 'cosine', 'linear_decay'] as const) {
      const s = { ...o, lr_schedule };
      expect(learningRate(s, 0)).toBeCloseTo(0.01 / 100, 12);
      expect(learningRate(s, 49)).toBeCloseTo(0.005, 12);
      expect(learningRate(s, 99)).toBeCloseTo(0.01, 12);
      expect(learningRate(s, 100)).toBeCloseTo(0.01, 12);
    }
    expect(learningRate({ ...o, lr_schedule: null }, 999)).toBe(0.01);
    expect(learningRate({ ...o, lr_schedule: 'cosine' }, 550)).toBeCloseTo(0.005, 12);
    expect(learningRate({ ...o, lr_schedule: 'linear_decay' }, 550)).toBeCloseTo(0.005, 12);
    expect(learningRate({ ...o, lr_schedule: 'linear_decay' }, 999)).toBeGreaterThan(0);
    expect(learningRate({ ...o, lr_warmup_frac: 0, lr_schedule: null }, 0)).toBe(0.01);
  });
});

describe('Hessian-vector products and the trace term (linear regression, exact H)', () => {
  const exactHv = (v: Float64Array, off: number) => Array.from({ length: linD }, (_, j) => linH[j].reduce((s, h, k) => s + h * v[off + k], 0));

  for (const dtype of ['float64', 'float32'] as const) {
    it(`central differences of full gradients give H·v (${dtype})`, () => {
      const chains = 3;
      const hessian = new CentralDifferenceHessian(linearProblem(chains, dtype));
      const v = new Float64Array(chains * linD);
      fillNormal(keyFromSeed(21), v);
      for (let i = 0; i < linD; i++) v[2 * linD + i] = 0; // a zero direction gives zero
      const out = new Float64Array(chains * linD);
      hessian.apply(v, out);
      expect(hessian.gradients).toBe(2 * chains);
      for (let c = 0; c < 2; c++) {
        const exact = exactHv(v, c * linD);
        const norm = Math.hypot(...exact);
        const err = Math.hypot(...exact.map((e, j) => e - out[c * linD + j]));
        expect(err / norm).toBeLessThan(dtype === 'float64' ? 1e-8 : 1e-4);
      }
      for (let j = 0; j < linD; j++) expect(out[2 * linD + j]).toBe(0);
    });
  }

  it('in float32 on a curved model the step keeps H·v within 1e-3 of float64', () => {
    const f64 = referenceKernel({ arch: mlpArch, X: mlpX, Y: mlpY, n: mlpN, lossFn, dtype: 'float64', chains: 2, maxBatch: 0 });
    const f32 = referenceKernel({ arch: mlpArch, X: mlpX, Y: mlpY, n: mlpN, lossFn, dtype: 'float32', chains: 2, maxBatch: 0 });
    const h64 = new CentralDifferenceHessian(new Posterior(f64, mlpCenter, mlpTemperature));
    const h32 = new CentralDifferenceHessian(new Posterior(f32, mlpCenter, mlpTemperature));
    const v = new Float64Array(2 * mlpD);
    fillNormal(keyFromSeed(22), v);
    const o64 = new Float64Array(2 * mlpD);
    const o32 = new Float64Array(2 * mlpD);
    h64.apply(v, o64);
    h32.apply(v, o32);
    const err = Math.hypot(...o64.map((x, i) => x - o32[i]));
    expect(err / Math.hypot(...o64)).toBeLessThan(1e-3);
  });

  it('the starting scale is 1/√(nβ·tr(H)/d + γ) from minibatch Hutchinson probes, capped at ln 2', () => {
    const chains = 2;
    const hessian = new CentralDifferenceHessian(linearProblem(chains, 'float64', 256));
    const whitening = new Float64Array(chains * linD).fill(1);
    const keys = [fold(keyFromSeed(6), 0), fold(keyFromSeed(6), 1)];
    const { nBeta, gamma } = linTemperature;
    const scales = initialScales(hessian, whitening, nBeta, gamma, 256, 400, keys);
    expect(hessian.gradients).toBe(2 * chains * 400);
    const trace = linH.reduce((s, row, i) => s + row[i], 0);
    const exact = 1 / Math.sqrt((nBeta * trace) / linD + gamma);
    for (const s of scales) expect(relErr(s, exact)).toBeLessThan(0.05);
    // A flat loss leaves the localizer alone, and a weak localizer is capped at the reference's ln 2.
    expect(initialScales(hessian, whitening, 0, 4, 256, 2, keys)[0]).toBeCloseTo(0.5, 12);
    expect(initialScales(hessian, whitening, 0, 0.01, 256, 2, keys)[0]).toBe(Math.LN2);
  });

  /** tr(HΣ_q) formed densely: Σ_q = Σ_m π_m diag(s/a)(A_mA_mᵀ + I)diag(s/a). */
  function denseTrace(family: MfaFamily, params: Float64Array, whitening: Float64Array, c: number): number {
    const { d, M, r, ranks } = family.shape;
    const s = family.scales(c);
    let tr = 0;
    for (let m = 0; m < M; m++) {
      const A = (i: number, j: number) => params[c * family.size + family.aOffset + (m * d + i) * r + j];
      for (let i = 0; i < d; i++) {
        for (let k = 0; k < d; k++) {
          let aat = i === k ? 1 : 0;
          for (let j = 0; j < ranks[m]; j++) aat += A(i, j) * A(k, j);
          tr += family.pi[c * M + m] * linH[k][i] * ((s[i] * s[k]) / (whitening[c * d + i] * whitening[c * d + k])) * aat;
        }
      }
    }
    return tr;
  }

  it('tr(HΣ_q) includes the diagonal part: exact mode matches a dense computation, Hutchinson is unbiased', () => {
    const chains = 3;
    const posterior = linearProblem(chains);
    const family = new MfaFamily({ d: linD, M: 3, r: 2, ranks: [2, 1, 2], temperature: 1 }, chains);
    const params = new Float64Array(chains * family.size);
    const whitening = new Float64Array(chains * linD);
    fillNormal(keyFromSeed(31), whitening);
    for (let i = 0; i < whitening.length; i++) whitening[i] = Math.exp(0.3 * whitening[i]);
    for (let c = 0; c < chains; c++) {
      params.set(randomParams(new MfaFamily(family.shape, 1), 40 + c), c * family.size);
      family.prepare(c, params);
    }
    const hessian = new CentralDifferenceHessian(posterior);
    const probeKeys = [0, 1, 2].map((c) => fold(keyFromSeed(5), c));
    const exact = covarianceTrace(hessian, family, params, whitening, 512, 1, probeKeys);
    expect(exact.method).toBe('exact');
    // 5 low-rank directions and ⌈11/3⌉ = 4 batches of unit vectors, 2 gradients per slot and call.
    expect(hessian.gradients).toBe(2 * chains * (5 + 4));
    for (let c = 0; c < chains; c++) {
      const dense = denseTrace(family, params, whitening, c);
      expect(relErr(exact.lowRank[c] + exact.diagonal[c], dense)).toBeLessThan(1e-8);
      expect(exact.diagonal[c]).toBeGreaterThan(0.2 * dense); // the part the reference dropped is not small
    }
    const hutch = covarianceTrace(hessian, family, params, whitening, 0, 400, probeKeys);
    expect(hutch.method).toBe('hutchinson');
    for (let c = 0; c < chains; c++) expect(relErr(hutch.diagonal[c], exact.diagonal[c])).toBeLessThan(0.03);
  });
});

describe('VI on linear regression', () => {
  const seed = 2024;
  const result = vi.run(linearProblem(OPTIONS.chains), OPTIONS, keyFromSeed(seed));
  const llc = result.llcPerChain!;
  const mean = llc.reduce((a, b) => a + b, 0) / llc.length;

  it('λ̂ is close to the exact λ', () => {
    const error = relErr(mean, truth.lambda);
    console.log(`VI λ̂ = ${mean.toFixed(4)} (chains ${llc.map((x) => x.toFixed(3)).join(', ')}), exact λ = ${truth.lambda.toFixed(4)}, relative error ${(100 * error).toFixed(2)}%`);
    console.log(`plain MC λ̂ per chain: ${(result.diagnostics.llc_mc as number[]).map((x) => x.toFixed(3)).join(', ')}; variance reduction ${JSON.stringify(result.diagnostics.variance_reduction)}`);
    expect(truth.distanceToMinimiser).toBeLessThan(1e-8);
    expect(truth.lambda).toBeLessThan(0.45 * linD); // a demanding case: well below d/2
    expect(error).toBeLessThan(0.015);
    for (const x of llc) expect(relErr(x, truth.lambda)).toBeLessThan(0.04);
  });

  it('the quadratic model at w* explains all of λ̂ on a regular model, so VI raises no warning', () => {
    expect(result.diagnostics.quadratic_share).toBeGreaterThan(0.98);
    expect(result.diagnostics.quadratic_share).toBeLessThan(1.02);
    expect(result.warnings).toBeUndefined();
  });

  it('λ̂ is as accurate in float32, the preset precision, with the control variate in use', () => {
    const r = vi.run(linearProblem(2, 'float32'), { ...OPTIONS, chains: 2, dtype: 'float32' }, keyFromSeed(seed));
    const lam = r.llcPerChain!.reduce((a, b) => a + b, 0) / 2;
    console.log(`float32: λ̂ = ${lam.toFixed(4)} (${(100 * relErr(lam, truth.lambda)).toFixed(2)}%)`);
    expect(r.diagnostics.estimator).toBe('control_variate');
    expect(relErr(lam, truth.lambda)).toBeLessThan(0.015);
  });

  it('the ELBO increases over training to log Z, and the fitted scale neither collapses nor explodes', () => {
    const { curves, steps } = result.optimization!;
    expect(steps).toBe(OPTIONS.steps);
    // The posterior is Gaussian: log Z = −nβ·L0 + (d/2)·log 2π − ½·Σ log(nβ·a_k + γ), and ELBO = log Z − KL(q‖p) ≤ log Z.
    const { nBeta, gamma } = linTemperature;
    const L0 = linearProblem(1).L0;
    const logZ = -nBeta * L0 + 0.5 * linD * Math.log(2 * Math.PI) - 0.5 * truth.eigenvalues.reduce((s, a) => s + Math.log(nBeta * a + gamma), 0);
    const window = Math.floor(steps / 20);
    for (let c = 0; c < OPTIONS.chains; c++) {
      const avg = (from: number) => curves.elbo.subarray(c * steps + from, c * steps + from + window).reduce((a, b) => a + b, 0) / window;
      const first = avg(0);
      const last = avg(steps - window);
      if (c === 0) console.log(`ELBO: first ${window} steps ${first.toFixed(3)}, last ${window} steps ${last.toFixed(3)}, log Z ${logZ.toFixed(3)}`);
      expect(last).toBeGreaterThan(first + 1);
      expect(Math.abs(last - logZ)).toBeLessThan(0.3);
    }
    // Exact marginal standard deviations of the Gaussian posterior: diag((nβH + γI)⁻¹)^{1/2} ~ for a near-diagonal H, 1/√(nβH_ii + γ).
    const scales = result.diagnostics.scale_model as { min: number; median: number; max: number }[];
    const exactSd = linH.map((row, i) => 1 / Math.sqrt(linTemperature.nBeta * row[i] + linTemperature.gamma));
    for (const s of scales) {
      expect(s.min).toBeGreaterThan(0.5 * Math.min(...exactSd));
      expect(s.max).toBeLessThan(2 * Math.max(...exactSd));
    }
  });

  it('uses the control variate on a smooth loss, and falls back to the plain mean where ReLU kinks make the HVPs nonlinear', () => {
    const check = (r: ReturnType<typeof vi.run>) => r.diagnostics.control_variate as { used: boolean; linearity_checks: number; linearity_failures: number; consistency_z: number };
    const smooth = check(result);
    expect(smooth).toMatchObject({ used: true, linearity_checks: OPTIONS.chains * LINEARITY_CHECKS, linearity_failures: 0 });
    expect(Math.abs(smooth.consistency_z)).toBeLessThan(4);
    expect(result.diagnostics.estimator).toBe('control_variate');
    // A ReLU network at its random initialisation: kinks lie within the float32 step (~5e-3) of w*, not within float64's (~6e-6).
    const arch: MlpArch = { ...mlpArch, widths: [8], activation: 'relu' };
    const center = initParams(arch, keyFromSeed(3), new Float64Array(layout(arch).d)) as Float64Array;
    const o: ViOptions = { ...SHORT, eval_samples: 16 };
    const runs = (['float32', 'float64'] as const).map((dtype) => {
      const kernel = referenceKernel({ arch, X: mlpX, Y: mlpY, n: mlpN, lossFn, dtype, chains: 2, maxBatch: o.batch_size });
      return vi.run(new Posterior(kernel, center, mlpTemperature), { ...o, dtype }, keyFromSeed(5));
    });
    expect(check(runs[0]).linearity_failures).toBeGreaterThan(0);
    expect(check(runs[0]).used).toBe(false);
    expect(runs[0].diagnostics.estimator).toBe('monte_carlo');
    expect(runs[0].llcPerChain).toEqual(runs[0].diagnostics.llc_mc);
    expect(runs[0].traces).toEqual({});
    expect(check(runs[1])).toMatchObject({ used: true, linearity_failures: 0 });
  });

  it('counts every gradient and loss pass', () => {
    const { chains, eval_samples: E, steps, batch_size: B } = OPTIONS;
    // The starting scale costs 2 minibatch gradients per probe and chain; the HVPs M·r low-rank directions,
    // ⌈d/chains⌉ unit-vector batches, one per eval draw and one more at half the step for the first 8 draws.
    const hvpGrads = 2 * chains * (OPTIONS.M * OPTIONS.r + Math.ceil(linD / chains) + E + LINEARITY_CHECKS);
    const minibatch = steps + 2 * INIT_PROBES;
    expect(result.work.fge_warmup).toBeCloseTo((minibatch * B) / linN, 12);
    expect(result.work).toEqual({ fge_warmup: result.work.fge_warmup, fge_sampling: hvpGrads / chains + E, grad_evals: chains * minibatch + hvpGrads, full_loss_evals: chains * E });
    expect(result.draws).toBe(E);
    expect(result.Ln).toHaveLength(chains * E);
    expect(result.fge[E - 1]).toBeCloseTo(result.work.fge_warmup + result.work.fge_sampling, 10);
    for (let s = 1; s < E; s++) {
      // A loss pass and an HVP per draw, and a second HVP for the linearity check on the first draws.
      expect(result.fge[s] - result.fge[s - 1]).toBeCloseTo(s < LINEARITY_CHECKS ? 5 : 3, 10);
      expect(result.seconds[s]).toBeGreaterThanOrEqual(result.seconds[s - 1]);
    }
    expect(result.traces.llc_cv).toHaveLength(chains * E);
    for (let c = 0; c < chains; c++) {
      const perDraw = result.traces.llc_cv.subarray(c * E, (c + 1) * E);
      expect(perDraw.reduce((a, b) => a + b, 0) / E).toBeCloseTo(llc[c], 8);
    }
  });
});

describe('VI options, whitening, reproducibility', () => {

  it('gives identical results for the same seed, different ones for another, and chain c does not depend on the chain count', () => {
    const o = { ...SHORT, dtype: 'float32' as const };
    const a = vi.run(linearProblem(2, 'float32'), o, keyFromSeed(3));
    const b = vi.run(linearProblem(2, 'float32'), o, keyFromSeed(3));
    const c = vi.run(linearProblem(2, 'float32'), o, keyFromSeed(4));
    const single = vi.run(linearProblem(1, 'float32'), { ...o, chains: 1 }, keyFromSeed(3));
    expect(a.Ln).toEqual(b.Ln);
    expect(a.llcPerChain).toEqual(b.llcPerChain);
    expect(a.optimization!.curves.elbo).toEqual(b.optimization!.curves.elbo);
    expect(a.Ln).not.toEqual(c.Ln);
    expect(single.Ln).toEqual(a.Ln.subarray(0, o.eval_samples));
    expect(single.optimization!.curves.elbo).toEqual(a.optimization!.curves.elbo.subarray(0, o.steps));
  });

  it('rmsprop and adam whitening differ, count their pre-pass, and still estimate λ well', () => {
    const o = { ...OPTIONS, steps: 1500, chains: 2, clip_global_norm: 5 };
    const runs = (['rmsprop', 'adam'] as const).map((whitening_mode) => vi.run(linearProblem(2), { ...o, whitening_mode }, keyFromSeed(77)));
    for (const r of runs) {
      const lam = r.llcPerChain!.reduce((x, y) => x + y, 0) / 2;
      console.log(`whitening ${(r.diagnostics.whitening as { mode: string }).mode}: λ̂ = ${lam.toFixed(4)} vs ${truth.lambda.toFixed(4)} (${(100 * relErr(lam, truth.lambda)).toFixed(2)}%)`);
      expect(relErr(lam, truth.lambda)).toBeLessThan(0.03);
      const breakdown = r.diagnostics.work_breakdown as Record<string, number>;
      expect(breakdown.whitening_minibatch_grads).toBe(2 * 500);
      expect(r.work.fge_warmup).toBeCloseTo(((500 + o.steps + 2 * INIT_PROBES) * o.batch_size) / linN, 10);
      expect(r.work.grad_evals).toBe(2 * (500 + o.steps + 2 * INIT_PROBES) + breakdown.hvp_full_grads);
    }
    // Both are normalised to geometric mean 1; rmsprop's v starts at 1, and its remainder 0.99^500 ≈ 0.007 still dominates
    // the small g² of the weak features, flattening a, while adam's a follows √|g| over the whole range of feature scales.
    const [rms, adam] = runs.map((r) => (r.diagnostics.whitening as { a: { min: number; max: number }[] }).a[0]);
    expect(adam.max / adam.min).toBeGreaterThan(2 * (rms.max / rms.min));
  });

  it('without the control variate λ̂ is the plain Monte Carlo mean and no HVP is spent', () => {
    const r = vi.run(linearProblem(2), { ...SHORT, control_variate: false }, keyFromSeed(5));
    expect(r.work.grad_evals).toBe(2 * (SHORT.steps + 2 * INIT_PROBES));
    expect(r.llcPerChain).toEqual(r.diagnostics.llc_mc);
    for (let c = 0; c < 2; c++) {
      const mean = r.Ln.subarray(c * SHORT.eval_samples, (c + 1) * SHORT.eval_samples).reduce((x, y) => x + y, 0) / SHORT.eval_samples;
      expect(r.llcPerChain![c]).toBeCloseTo(linTemperature.nBeta * (mean - linearProblem(1).L0), 8);
    }
  });

  it('validates its options strictly, and the preset is valid', () => {
    const preset = parse(readFileSync(join(__dirname, '..', 'config', 'sampler', 'vi.yaml'), 'utf8'));
    expect(vi.options.safeParse(preset).success).toBe(true);
    expect(vi.options.safeParse(OPTIONS).success).toBe(true);
    expect(vi.options.safeParse({ ...OPTIONS, extra: 1 }).success).toBe(false);
    expect(vi.options.safeParse({ ...OPTIONS, algo: 'mfa' }).success).toBe(false);
    expect(vi.options.safeParse({ ...OPTIONS, whitening_mode: 'rms' }).success).toBe(false);
    expect(vi.options.safeParse({ ...OPTIONS, lr: -0.01 }).success).toBe(false);
    expect(vi.options.safeParse({ ...OPTIONS, lr_warmup_frac: 1 }).success).toBe(false);
    expect(vi.options.safeParse({ ...OPTIONS, eval_samples: 1 }).success).toBe(false);
    expect(vi.options.safeParse({ ...OPTIONS, lr_schedule: 'step' }).success).toBe(false);
    expect(vi.options.safeParse({ ...OPTIONS, clip_global_norm: null }).success).toBe(true);
    expect(vi.options.safeParse({ ...OPTIONS, r_per_component: [2, 2, 1, 1, 0, 0, 1, 2] }).success).toBe(true);
    const short = vi.options.safeParse({ ...OPTIONS, r_per_component: [2, 2] });
    expect(short.success).toBe(false);
    expect(short.error!.issues[0].path).toEqual(['r_per_component']);
    const tooBig = vi.options.safeParse({ ...OPTIONS, r_per_component: [2, 2, 1, 1, 0, 0, 1, 3] });
    expect(tooBig.success).toBe(false);
    expect(tooBig.error!.issues[0].path).toEqual(['r_per_component', 7]);
  });
});

describe('VI on a singular model', () => {
  // f(x) = w₂·w₁·x fitted to y = c·x: the zero-loss set is the hyperbola w₁w₂ = c, a curved valley,
  // and λ = ½ (Aoyagi's formula for widths [1, 1, 1], rank 1). The best Gaussian around w* pays a
  // quartic penalty along the valley, about ¼ more (docs/vi.md).
  const arch: MlpArch = { in_dim: 1, out_dim: 1, widths: [1], activation: 'identity', bias: false, layernorm: false, skip_connections: false, residual_period: 2 };
  const n = 1000;
  const X = new Float64Array(n);
  fillNormal(keyFromSeed(301), X);
  const Y = X.map((x) => 0.5 * x);
  // w* on the valley (w₁w₂ = 0.5), where the posterior is a curved ridge within reach of γ = 1.
  const center = Float64Array.of(1, 0.5);
  const temperature = { n, beta: 1 / Math.log(n), nBeta: n / Math.log(n), gamma: 1 };
  const posterior = () => new Posterior(referenceKernel({ arch, X, Y, n, lossFn, dtype: 'float64', chains: 4, maxBatch: 64 }), center, temperature);

  it('overestimates λ = ½ and says so in its warnings', () => {
    const r = vi.run(posterior(), { ...OPTIONS, steps: 3000 }, keyFromSeed(5));
    const mean = r.llcPerChain!.reduce((a, b) => a + b, 0) / r.llcPerChain!.length;
    expect(mean).toBeGreaterThan(0.6);
    const share = r.diagnostics.quadratic_share as number;
    expect(share).toBeLessThan(0.9);
    expect(r.warnings).toEqual([expect.stringMatching(/^the loss is far from quadratic over q \(its quadratic model at w\* predicts \d+% of λ̂\): a singular model/)]);
  });
});

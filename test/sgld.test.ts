/**
 * SGLD mechanics: the update rule of docs/mathematics.md re-implemented here in plain float64 and compared draw
 * by draw (all three preconditioners, with and without bias correction), burn-in and thinning,
 * work accounting, reproducibility, and the MALA acceptance check against a Gaussian target whose
 * acceptance is known in closed form.
 */
import { describe, expect, it } from 'vitest';
import { referenceKernel } from '../packages/llc/src/kernels/reference';
import { initParams, layout, MlpArch } from '../packages/llc/src/mlp';
import { fillBelow, fillNormal, fold, keyFromSeed } from '../packages/llc/src/rng';
import sgld from '../packages/llc/src/samplers/sgld';
import { RUN_KEY } from '../packages/llc/src/samplers/loop';
import { Posterior } from '../packages/llc/src/posterior';
import { runStatus } from '../packages/llc/src/status';
import { symmetricEigenvalues } from './support/regular-model';

const arch: MlpArch = { in_dim: 3, out_dim: 1, widths: [4], activation: 'tanh', bias: true, layernorm: false, skip_connections: false, residual_period: 2 };
const n = 40;
const d = layout(arch).d;
const X = new Float64Array(n * 3);
const Y = new Float64Array(n);
fillNormal(keyFromSeed(1), X);
fillNormal(keyFromSeed(2), Y);
const center = initParams(arch, keyFromSeed(3), new Float64Array(d)) as Float64Array;
const lossFn = { kind: 'mse' as const, df: 0, scale: 0 };
const temperature = { n, beta: 0.3, nBeta: 0.3 * n, gamma: 2 };

const kernelFor = (chains: number, dtype: 'float32' | 'float64' = 'float64', batch = 8) => referenceKernel({ arch, X, Y, n, lossFn, dtype, chains, maxBatch: batch });

function problem(chains: number, dtype: 'float32' | 'float64' = 'float64', batch = 8): Posterior {
  return new Posterior(kernelFor(chains, dtype, batch), center, temperature);
}

type SgldOptions = Parameters<typeof sgld.run>[1];
const OPTIONS: SgldOptions = { steps: 30, warmup: 4, batch_size: 8, step_size: 1e-3, precond: 'none', beta1: 0.9, beta2: 0.99, eps: 1e-8, bias_correction: true, eval_every: 1, mala_every: 0, chains: 2, dtype: 'float64' };

/** docs/mathematics.md, written out directly: the losses at every step after the burn-in. */
function specTrajectory(o: SgldOptions, seed: number): Float64Array {
  const chains = o.chains;
  const kernel = kernelFor(chains);
  const key = keyFromSeed(seed);
  const w = new Float64Array(chains * d);
  const jitter = new Float64Array(chains * d);
  fillNormal(fold(key, RUN_KEY.init), jitter);
  for (let c = 0; c < chains; c++) for (let j = 0; j < d; j++) w[c * d + j] = center[j] + 0.01 * jitter[c * d + j];
  const m = new Float64Array(chains * d);
  const v = new Float64Array(chains * d).fill(1);
  const g = new Float64Array(chains * d);
  const xi = new Float64Array(chains * d);
  const rows = new Int32Array(chains * o.batch_size);
  const losses: number[] = [];
  const out = new Float64Array(chains);
  for (let t = 1; t <= o.warmup + o.steps; t++) {
    const stepKey = fold(key, RUN_KEY.steps, t - 1);
    fillBelow(fold(stepKey, 0), n, rows);
    fillNormal(fold(stepKey, 1), xi);
    kernel.lossGrad(w, rows, o.batch_size, g, out);
    for (let i = 0; i < chains * d; i++) {
      let P = 1;
      let drift = g[i];
      if (o.precond !== 'none') {
        v[i] = o.beta2 * v[i] + (1 - o.beta2) * g[i] ** 2;
        const vHat = o.bias_correction ? v[i] / (1 - o.beta2 ** t) : v[i];
        P = 1 / (Math.sqrt(vHat) + o.eps);
        if (o.precond === 'adam') {
          m[i] = o.beta1 * m[i] + (1 - o.beta1) * g[i];
          drift = o.bias_correction ? m[i] / (1 - o.beta1 ** t) : m[i];
        }
      }
      const eP = o.step_size * P;
      w[i] += -0.5 * eP * (temperature.gamma * (w[i] - center[i % d]) + temperature.nBeta * drift) + Math.sqrt(eP) * xi[i];
    }
    if (t > o.warmup) {
      kernel.loss(w, out);
      losses.push(...out);
    }
  }
  // Reorder from step-major to chain-major, as the sampler stores traces.
  return Float64Array.from({ length: losses.length }, (_, i) => losses[(i % o.steps) * chains + Math.floor(i / o.steps)]);
}

describe('SGLD', () => {
  for (const precond of ['none', 'rmsprop', 'adam'] as const) {
    for (const bias_correction of [true, false]) {
      it(`follows the update rule exactly: precond ${precond}, bias correction ${bias_correction}`, () => {
        const o = { ...OPTIONS, precond, bias_correction };
        const result = sgld.run(problem(o.chains), o, keyFromSeed(11));
        const expected = specTrajectory(o, 11);
        expect(result.Ln).toHaveLength(expected.length);
        for (let i = 0; i < expected.length; i++) expect(Math.abs(result.Ln[i] - expected[i])).toBeLessThan(1e-12 * Math.max(1, expected[i]));
      });
    }
  }

  it('discards the burn-in, thins by eval_every and counts every chain’s gradients', () => {
    const o = { ...OPTIONS, warmup: 10, steps: 95, eval_every: 10, chains: 3 };
    const r = sgld.run(problem(3), o, keyFromSeed(5));
    expect(r.draws).toBe(9);
    expect(r.Ln).toHaveLength(27);
    const perStep = o.batch_size / n;
    expect(Array.from(r.fge)).toEqual(Array.from({ length: 9 }, (_, k) => (o.warmup + (k + 1) * o.eval_every) * perStep));
    expect(r.work).toEqual({ fge_warmup: 10 * perStep, fge_sampling: 90 * perStep, grad_evals: 3 * (10 + 90), full_loss_evals: 27 });
    // A MALA check every 20 sampling steps (steps 0, 20, …, 80) costs two more gradients each.
    const checked = sgld.run(problem(3), { ...o, mala_every: 20 }, keyFromSeed(5));
    expect(checked.mala?.checks_per_chain).toBe(5);
    expect(checked.work.grad_evals).toBe(3 * (10 + 90 + 2 * 5));
  });

  it('gives the same traces for the same seed, and different traces for another', () => {
    const o = { ...OPTIONS, dtype: 'float32' as const };
    const a = sgld.run(problem(2, 'float32'), o, keyFromSeed(3));
    const b = sgld.run(problem(2, 'float32'), o, keyFromSeed(3));
    const c = sgld.run(problem(2, 'float32'), o, keyFromSeed(4));
    expect(a.Ln).toEqual(b.Ln);
    expect(a.Ln).not.toEqual(c.Ln);
  });

  it('validates its options strictly', () => {
    expect(sgld.options.safeParse({ ...OPTIONS, precond: 'rms' }).success).toBe(false);
    expect(sgld.options.safeParse({ ...OPTIONS, extra: 1 }).success).toBe(false);
    expect(sgld.options.safeParse(OPTIONS).success).toBe(true);
  });
});

describe("SGLD's MALA acceptance check", () => {
  // A Gaussian posterior: linear regression on one data row, so every minibatch is the full data
  // and U(w) = nβ·(x̃·w − y)² + (γ/2)·‖w − w*‖² exactly, with precision A = 2nβ·x̃x̃ᵀ + γI.
  const lin: MlpArch = { in_dim: 3, out_dim: 1, widths: [], activation: 'identity', bias: true, layernorm: false, skip_connections: false, residual_period: 2 };
  const x = [0.8, -1.1, 0.5];
  const gaussTemperature = { n: 1, beta: 1, nBeta: 1, gamma: 1 };
  const gaussian = (chains: number) =>
    new Posterior(
      referenceKernel({ arch: lin, X: Float64Array.from(x), Y: Float64Array.of(0.3), n: 1, lossFn, dtype: 'float64', chains, maxBatch: 4 }),
      Float64Array.of(0.2, 0.1, -0.3, 0),
      gaussTemperature,
    );
  const xt = [...x, 1];
  const A = xt.map((xi, i) => xt.map((xj, j) => 2 * gaussTemperature.nBeta * xi * xj + (i === j ? gaussTemperature.gamma : 0)));
  const eigen = symmetricEigenvalues(A);
  const eps = 1.2 / eigen[eigen.length - 1];

  /**
   * The exact expectation, written out independently: in A's eigenbasis SGLD is z' = (1 − h/2)z + √ε·ξ
   * per coordinate (h = ε·a), stationary with variance 1/(a(1 − h/4)), and MALA's log acceptance ratio
   * reduces to −Σ (a·h/8)·(z'² − z²). Monte Carlo over a million draws of (z, ξ).
   */
  function exactAcceptance(): number {
    const draws = 1_000_000;
    const z = new Float64Array(draws * eigen.length);
    const xi = new Float64Array(draws * eigen.length);
    fillNormal(keyFromSeed(101), z);
    fillNormal(keyFromSeed(102), xi);
    let sum = 0;
    for (let s = 0; s < draws; s++) {
      let logRatio = 0;
      eigen.forEach((a, k) => {
        const h = eps * a;
        const z0 = z[s * eigen.length + k] / Math.sqrt(a * (1 - h / 4));
        const z1 = (1 - h / 2) * z0 + Math.sqrt(eps) * xi[s * eigen.length + k];
        logRatio -= ((a * h) / 8) * (z1 * z1 - z0 * z0);
      });
      sum += Math.min(1, Math.exp(logRatio));
    }
    return sum / draws;
  }

  const options = { ...OPTIONS, steps: 40_000, warmup: 1_000, batch_size: 1, step_size: eps, eval_every: 100, mala_every: 4, chains: 4 };

  it('matches the closed-form expectation on a Gaussian target', () => {
    const r = sgld.run(gaussian(4), options, keyFromSeed(21));
    const exact = exactAcceptance();
    expect(exact).toBeGreaterThan(0.6);
    expect(exact).toBeLessThan(0.95);
    expect(r.mala?.checks_per_chain).toBe(10_000);
    // 40,000 checks of nearly independent draws: a standard error near 0.001.
    expect(Math.abs(r.mala!.mean - exact)).toBeLessThan(0.006);
    // A ten times smaller step is accepted almost always.
    const small = sgld.run(gaussian(4), { ...options, step_size: eps / 10, steps: 4_000 }, keyFromSeed(21));
    expect(small.mala!.mean).toBeGreaterThan(0.99);
  });

  it('moves no chain: the traces are the same with and without checks', () => {
    const withChecks = sgld.run(problem(2), { ...OPTIONS, mala_every: 3 }, keyFromSeed(9));
    const without = sgld.run(problem(2), OPTIONS, keyFromSeed(9));
    expect(withChecks.Ln).toEqual(without.Ln);
    expect(without.mala).toBeUndefined();
  });

  it('flags a step size outside the recommended range, with a suggestion', () => {
    const r = sgld.run(gaussian(4), { ...options, step_size: eps * 2, steps: 4_000 }, keyFromSeed(21));
    const llc = { mean: 1, std: 1, min: 0, max: 2, per_chain: [1, 1, 1, 1], mcse: 0.01, chains: 4, draws: 40, ess_bulk: 4000, ess_tail: 4000, r_hat: 1, mcse_mean: 0.01, ess_mean: 4000 };
    const status = runStatus({ llc, nonFiniteDraws: 0, estimatedPerChain: false, mala: r.mala });
    expect(status.state).toBe('check');
    expect(status.reasons.join()).toMatch(/MALA acceptance 0\.\d+ < 0\.8: .*try step_size ≈ \S+ \(now /);
    const suggested = Number(/step_size ≈ (\S+)/.exec(status.reasons.join())![1]);
    expect(suggested).toBeLessThan(eps * 2);
  });
});

/**
 * SGLD mechanics: the update rule of docs/mathematics.md re-implemented here in plain float64 and compared draw
 * by draw (all three preconditioners, with and without bias correction), burn-in and thinning,
 * work accounting, and reproducibility.
 */
import { describe, expect, it } from 'vitest';
import { referenceKernel } from '../packages/llc/src/kernels/reference';
import { initParams, layout, MlpArch } from '../packages/llc/src/mlp';
import { fillBelow, fillNormal, fold, keyFromSeed } from '../packages/llc/src/rng';
import sgld from '../packages/llc/src/samplers/sgld';
import { RUN_KEY } from '../packages/llc/src/samplers/loop';
import { Posterior } from '../packages/llc/src/posterior';

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
const OPTIONS: SgldOptions = { steps: 30, warmup: 4, batch_size: 8, step_size: 1e-3, precond: 'none', beta1: 0.9, beta2: 0.99, eps: 1e-8, bias_correction: true, eval_every: 1, chains: 2, dtype: 'float64' };

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

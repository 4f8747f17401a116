/**
 * Normalizing-flow VI (packages/llc/src/samplers/flow/): the hand-written gradients of the per-draw
 * objective and of the log-determinant against central finite differences, the log-determinant
 * against a numerical Jacobian, λ̂ against the exact value for linear regression, work accounting,
 * determinism and option validation.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { referenceKernel } from '../packages/llc/src/kernels/reference';
import { initParams, layout, MlpArch } from '../packages/llc/src/mlp';
import { fillNormal, keyFromSeed } from '../packages/llc/src/rng';
import { Posterior } from '../packages/llc/src/posterior';
import flow, { FlowCache, FlowFamily, FlowOptions, FlowShape } from '../packages/llc/src/samplers/flow';
import { linD, linearProblem, linN, linTemperature, linTruth as truth } from './support/linear-regression';

const lossFn = { kind: 'mse' as const, df: 0, scale: 0 };
const relErr = (a: number, b: number) => Math.abs(a - b) / Math.max(1e-12, Math.abs(a), Math.abs(b));

// ---------------------------------------------------------------------------------------------
// A small tanh network: a curved, non-quadratic log p for the finite-difference checks.
const mlpArch: MlpArch = { in_dim: 2, out_dim: 1, widths: [3], activation: 'tanh', bias: true, layernorm: false, skip_connections: false, residual_period: 2 };
const mlpN = 30;
const mlpD = layout(mlpArch).d;
const mlpX = new Float64Array(mlpN * 2);
const mlpY = new Float64Array(mlpN);
fillNormal(keyFromSeed(1), mlpX);
fillNormal(keyFromSeed(2), mlpY);
const mlpCenter = initParams(mlpArch, keyFromSeed(3), new Float64Array(mlpD)) as Float64Array;
const mlpTemperature = { n: mlpN, beta: 0.5, nBeta: 15, gamma: 1 };

/** A family with every parameter random and sizeable, so that every term of the gradient matters. */
function randomFamily(shape: FlowShape, seed: number): { family: FlowFamily; params: Float64Array } {
  const family = new FlowFamily(shape, 1, [keyFromSeed(seed)]);
  const params = new Float64Array(family.size);
  fillNormal(keyFromSeed(seed + 1), params);
  for (let i = 0; i < params.length; i++) params[i] *= 0.4;
  return { family, params };
}

const SHAPES: FlowShape[] = [
  { d: mlpD, K: 3, hidden: 4, sMax: 1.5, masks: 'random' },
  { d: mlpD, K: 2, hidden: 3, sMax: 0.7, masks: 'alternating' },
];

describe('flow family: hand-written gradients', () => {
  for (const shape of SHAPES) {
    it(`∂/∂θ of −U(w* + σ₀⊙T(z)) + log|det ∂T/∂z| matches central differences (K ${shape.K}, ${shape.masks} masks)`, () => {
      const posterior = new Posterior(referenceKernel({ arch: mlpArch, X: mlpX, Y: mlpY, n: mlpN, lossFn, dtype: 'float64', chains: 1, maxBatch: mlpN }), mlpCenter, mlpTemperature);
      const { family, params } = randomFamily(shape, 11);
      const sigma = Float64Array.from({ length: mlpD }, (_, i) => 0.2 + 0.05 * (i % 4));
      const cache = new FlowCache(shape);
      fillNormal(keyFromSeed(12), cache.z);
      const w = new Float64Array(mlpD);
      const gradU = new Float64Array(mlpD);
      const loss = new Float64Array(1);
      const potential = new Float64Array(1);
      const objective = (p: Float64Array): number => {
        const logDet = family.forward(0, p, cache);
        for (let i = 0; i < mlpD; i++) w[i] = mlpCenter[i] + sigma[i] * cache.output[i];
        posterior.gradient(w, gradU, loss, potential);
        return -potential[0] + logDet;
      };
      objective(params);
      const g = Float64Array.from(gradU, (x, i) => -sigma[i] * x);
      const grad = new Float64Array(family.size);
      family.backward(0, params, cache, g, grad);
      const h = 1e-6;
      let checked = 0;
      for (let k = 0; k < family.size; k++) {
        const p = params.slice();
        p[k] += h;
        const up = objective(p);
        p[k] -= 2 * h;
        const down = objective(p);
        const fd = (up - down) / (2 * h);
        expect(Math.abs(grad[k] - fd)).toBeLessThan(1e-6 * Math.max(1, Math.abs(fd)));
        if (Math.abs(fd) > 1e-3) checked++;
      }
      // Most parameters have a gradient of a size that makes the comparison meaningful.
      expect(checked).toBeGreaterThan(0.8 * family.size);
    });

    it(`∂/∂θ of log|det ∂T/∂z| alone (g = 0) matches central differences (K ${shape.K}, ${shape.masks} masks)`, () => {
      const { family, params } = randomFamily(shape, 21);
      const cache = new FlowCache(shape);
      fillNormal(keyFromSeed(22), cache.z);
      family.forward(0, params, cache);
      const grad = new Float64Array(family.size);
      family.backward(0, params, cache, new Float64Array(mlpD), grad);
      const h = 1e-6;
      for (let k = 0; k < family.size; k++) {
        const p = params.slice();
        p[k] += h;
        const up = family.forward(0, p, cache);
        p[k] -= 2 * h;
        const down = family.forward(0, p, cache);
        const fd = (up - down) / (2 * h);
        expect(Math.abs(grad[k] - fd)).toBeLessThan(1e-7 * Math.max(1, Math.abs(fd)));
      }
    });
  }

  it('log|det ∂T/∂z| = Σa + Σs matches the log-determinant of a numerical Jacobian, and the couplings start as the identity', () => {
    for (const shape of SHAPES) {
      const { family, params } = randomFamily(shape, 31);
      const d = shape.d;
      const cache = new FlowCache(shape);
      const z = new Float64Array(d);
      fillNormal(keyFromSeed(32), z);
      cache.z.set(z);
      const logDet = family.forward(0, params, cache);
      const J = Array.from({ length: d }, () => new Array<number>(d).fill(0));
      const h = 1e-5;
      for (let j = 0; j < d; j++) {
        cache.z.set(z);
        cache.z[j] += h;
        family.forward(0, params, cache);
        const up = cache.output.slice();
        cache.z[j] -= 2 * h;
        family.forward(0, params, cache);
        for (let i = 0; i < d; i++) J[i][j] = (up[i] - cache.output[i]) / (2 * h);
      }
      expect(Math.abs(logAbsDet(J) - logDet)).toBeLessThan(1e-7);
      expect(Math.abs(logDet)).toBeGreaterThan(0.1); // a non-trivial volume change
    }
    // At initialisation T(z) = z exactly: the couplings' last layers are zero and E is the identity.
    const shape = SHAPES[0];
    const family = new FlowFamily(shape, 1, [keyFromSeed(1)]);
    const params = new Float64Array(family.size);
    family.init(0, params, (count) => {
      const w = new Float64Array(count);
      fillNormal(keyFromSeed(count), w);
      return w;
    });
    const cache = new FlowCache(shape);
    fillNormal(keyFromSeed(5), cache.z);
    expect(family.forward(0, params, cache)).toBe(0);
    expect(Array.from(cache.output)).toEqual(Array.from(cache.z));
  });

  it('T⁻¹ inverts T, and ∇_v log q(v) by the inverse-transpose Jacobian matches central differences of log q through T⁻¹', () => {
    for (const shape of SHAPES) {
      const { family, params } = randomFamily(shape, 41);
      const d = shape.d;
      const cache = new FlowCache(shape);
      const z = new Float64Array(d);
      fillNormal(keyFromSeed(42), z);
      cache.z.set(z);
      const logDet = family.forward(0, params, cache);
      const v = cache.output.slice();
      const grad = new Float64Array(d);
      family.gradLogDensity(0, params, cache, grad);
      const back = new FlowCache(shape);
      expect(family.inverse(0, params, v, back)).toBeCloseTo(logDet, 12);
      for (let i = 0; i < d; i++) expect(back.z[i]).toBeCloseTo(z[i], 12);
      const logQ = (point: Float64Array) => {
        const ld = family.inverse(0, params, point, back);
        let zz = 0;
        for (let i = 0; i < d; i++) zz += back.z[i] ** 2;
        return -0.5 * zz - ld;
      };
      const h = 1e-6;
      for (let i = 0; i < d; i++) {
        const p = v.slice();
        p[i] += h;
        const up = logQ(p);
        p[i] -= 2 * h;
        const fd = (up - logQ(p)) / (2 * h);
        expect(Math.abs(grad[i] - fd)).toBeLessThan(1e-6 * Math.max(1, Math.abs(fd)));
      }
    }
  });

  it('the path ("sticking the landing") and total gradients have the same expectation (quadratic log p, many draws)', () => {
    // log p(v) = −½·Σ κ_i (v_i − μ_i)²: both estimators average to ∇_θ ELBO; compared in units of their Monte Carlo error.
    const shape: FlowShape = { d: 4, K: 2, hidden: 3, sMax: 1, masks: 'random' };
    const { family, params } = randomFamily(shape, 51);
    const kappa = [1, 2, 0.5, 3];
    const mu = [0.3, -0.2, 0.1, 0];
    const draws = 20000;
    const P = family.size;
    const sums = { path: new Float64Array(P), total: new Float64Array(P), diffSq: new Float64Array(P) };
    const cache = new FlowCache(shape);
    const g = new Float64Array(4);
    const gLogQ = new Float64Array(4);
    const noise = new Float64Array(draws * 4);
    fillNormal(keyFromSeed(52), noise);
    for (let s = 0; s < draws; s++) {
      cache.z.set(noise.subarray(s * 4, s * 4 + 4));
      family.forward(0, params, cache);
      for (let i = 0; i < 4; i++) g[i] = -kappa[i] * (cache.output[i] - mu[i]);
      const total = new Float64Array(P);
      family.backward(0, params, cache, g, total, 1);
      family.gradLogDensity(0, params, cache, gLogQ);
      for (let i = 0; i < 4; i++) g[i] -= gLogQ[i];
      const path = new Float64Array(P);
      family.backward(0, params, cache, g, path, 0);
      for (let k = 0; k < P; k++) {
        sums.path[k] += path[k] / draws;
        sums.total[k] += total[k] / draws;
        sums.diffSq[k] += (path[k] - total[k]) ** 2 / draws;
      }
    }
    for (let k = 0; k < P; k++) {
      const se = Math.sqrt(sums.diffSq[k] / draws);
      expect(Math.abs(sums.path[k] - sums.total[k])).toBeLessThan(5 * se + 1e-9);
    }
  });

  it('masks come in complementary pairs that partition the coordinates', () => {
    for (const masks of ['random', 'alternating', 'ordered'] as const) {
      const shape: FlowShape = { d: 7, K: 4, hidden: 2, sMax: 1, masks };
      const family = new FlowFamily(shape, 2, [keyFromSeed(1), keyFromSeed(2)]);
      for (let c = 0; c < 2; c++) {
        for (let k = 0; k < shape.K; k++) {
          const ord = Array.from(family.order.subarray((c * shape.K + k) * 7, (c * shape.K + k + 1) * 7));
          expect([...ord].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
          const { nA } = family.layers[k];
          if (k % 2 === 1) {
            const prev = Array.from(family.order.subarray((c * shape.K + k - 1) * 7, (c * shape.K + k) * 7));
            // This layer conditions on exactly the coordinates the previous one transformed.
            expect([...ord.slice(0, nA)].sort()).toEqual([...prev.slice(family.layers[k - 1].nA)].sort());
          }
        }
      }
      if (masks === 'alternating') expect(Array.from(family.order.subarray(0, 4))).toEqual([0, 2, 4, 6]);
    }
  });
});

/** log|det J| by Gaussian elimination with partial pivoting. */
function logAbsDet(J: number[][]): number {
  const a = J.map((r) => [...r]);
  const n = a.length;
  let sum = 0;
  for (let p = 0; p < n; p++) {
    let best = p;
    for (let q = p + 1; q < n; q++) if (Math.abs(a[q][p]) > Math.abs(a[best][p])) best = q;
    [a[p], a[best]] = [a[best], a[p]];
    sum += Math.log(Math.abs(a[p][p]));
    for (let q = p + 1; q < n; q++) {
      const f = a[q][p] / a[p][p];
      for (let k = p; k < n; k++) a[q][k] -= f * a[p][k];
    }
  }
  return sum;
}


const OPTIONS: FlowOptions = {
  K: 4,
  hidden: 16,
  s_max: 2,
  masks: 'random',
  gradient: 'path',
  steps: 2000,
  batch_size: 64,
  draws_per_step: 1,
  lr: 0.003,
  lr_schedule: 'cosine',
  lr_warmup_frac: 0.05,
  anneal_frac: 0,
  clip_global_norm: null,
  init_scale_max: 1,
  exact_diag_max_d: 512,
  diag_probes: 32,
  eval_samples: 1024,
  dtype: 'float64',
  chains: 4,
};

const SHORT: FlowOptions = { ...OPTIONS, steps: 200, eval_samples: 8, chains: 2, K: 2, hidden: 4 };

describe('flow VI on linear regression', () => {
  const result = flow.run(linearProblem(OPTIONS.chains), OPTIONS, keyFromSeed(2024));
  const llc = result.llcPerChain!;
  const mean = llc.reduce((a, b) => a + b, 0) / llc.length;

  it('λ̂ is close to the exact λ', () => {
    const error = relErr(mean, truth.lambda);
    console.log(`flow λ̂ = ${mean.toFixed(4)} (chains ${llc.map((x) => x.toFixed(3)).join(', ')}), exact λ = ${truth.lambda.toFixed(4)}, relative error ${(100 * error).toFixed(2)}%`);
    expect(truth.lambda).toBeLessThan(0.45 * linD);
    expect(error).toBeLessThan(0.03);
    for (const x of llc) expect(relErr(x, truth.lambda)).toBeLessThan(0.06);
    // λ̂ per chain is the plain mean over the chain's draws.
    const L0 = linearProblem(1).L0;
    for (let c = 0; c < OPTIONS.chains; c++) {
      const E = OPTIONS.eval_samples;
      const m = result.Ln.subarray(c * E, (c + 1) * E).reduce((a, b) => a + b, 0) / E;
      expect(llc[c]).toBeCloseTo(linTemperature.nBeta * (m - L0), 8);
    }
  });

  it('its draws carry importance weights with a large effective sample size, so it raises no warning', () => {
    const ess = (result.diagnostics.importance as { ess: number[] }).ess;
    console.log(`importance ESS per chain: ${ess.map((x) => (x / OPTIONS.eval_samples).toFixed(3)).join(', ')} of the draws`);
    for (const x of ess) expect(x / OPTIONS.eval_samples).toBeGreaterThan(0.5);
    expect(result.warnings).toBeUndefined();
  });

  it('the ELBO rises to within a little of log Z (the posterior is Gaussian)', () => {
    const { curves, steps } = result.optimization!;
    const { nBeta, gamma } = linTemperature;
    const L0 = linearProblem(1).L0;
    const logZ = -nBeta * L0 + 0.5 * linD * Math.log(2 * Math.PI) - 0.5 * truth.eigenvalues.reduce((s, a) => s + Math.log(nBeta * a + gamma), 0);
    const window = Math.floor(steps / 10);
    for (let c = 0; c < OPTIONS.chains; c++) {
      const last = curves.elbo.subarray((c + 1) * steps - window, (c + 1) * steps).reduce((a, b) => a + b, 0) / window;
      if (c === 0) console.log(`flow ELBO over the last ${window} steps ${last.toFixed(3)}, log Z ${logZ.toFixed(3)}`);
      expect(last).toBeLessThan(logZ + 0.2);
      expect(last).toBeGreaterThan(logZ - 0.3);
    }
    expect(result.diagnostics.nonfinite_steps).toBe(0);
  });

  it('counts every gradient and loss pass', () => {
    const { chains, eval_samples: E, steps, batch_size: B } = OPTIONS;
    const hessianGrads = 2 * chains * Math.ceil(linD / chains);
    expect(result.work).toEqual({
      fge_warmup: (steps * B) / linN + hessianGrads / chains,
      fge_sampling: E,
      grad_evals: chains * steps + hessianGrads,
      full_loss_evals: chains * E,
    });
    expect(result.fge[E - 1]).toBeCloseTo(result.work.fge_warmup + result.work.fge_sampling, 10);
    expect(result.Ln).toHaveLength(chains * E);
  });
});

describe('flow options and reproducibility', () => {
  it('gives identical results for the same seed, different ones for another, and chain c does not depend on the chain count', () => {
    const a = flow.run(linearProblem(2), SHORT, keyFromSeed(3));
    const b = flow.run(linearProblem(2), SHORT, keyFromSeed(3));
    const c = flow.run(linearProblem(2), SHORT, keyFromSeed(4));
    const single = flow.run(linearProblem(1), { ...SHORT, chains: 1 }, keyFromSeed(3));
    expect(a.Ln).toEqual(b.Ln);
    expect(a.optimization!.curves.elbo).toEqual(b.optimization!.curves.elbo);
    expect(a.Ln).not.toEqual(c.Ln);
    expect(single.Ln).toEqual(a.Ln.subarray(0, SHORT.eval_samples));
  });

  it('averages draws_per_step draws per chain and step over chains × draws_per_step kernel slots', () => {
    const o = { ...SHORT, draws_per_step: 3, eval_samples: 7 };
    expect(flow.precision(o)).toEqual({ dtype: 'float64', chains: 6, maxBatch: o.batch_size });
    const r = flow.run(linearProblem(6), o, keyFromSeed(3));
    expect(r.chains).toBe(2);
    expect(r.Ln).toHaveLength(2 * 7);
    // ⌈7/3⌉ = 3 rounds of 3 loss passes per chain, the last partly discarded.
    expect(r.work.full_loss_evals).toBe(6 * 3);
    expect(r.work.grad_evals).toBe(6 * o.steps + 2 * 6 * Math.ceil(linD / 6));
    for (const x of r.llcPerChain!) expect(Number.isFinite(x)).toBe(true);
    expect(() => flow.run(linearProblem(2), o, keyFromSeed(3))).toThrow(/slots/);
  });

  it('the preset lists every option and parses; unknown or invalid options are rejected', () => {
    const preset = parse(readFileSync(join(__dirname, '..', 'config', 'sampler', 'flow.yaml'), 'utf8'));
    expect(Object.keys(preset).sort()).toEqual(Object.keys(OPTIONS).sort());
    expect(() => flow.options.parse(preset)).not.toThrow();
    expect(() => flow.options.parse({ ...preset, extra: 1 })).toThrow();
    expect(() => flow.options.parse({ ...preset, masks: 'checkerboard' })).toThrow();
    expect(() => flow.options.parse({ ...preset, s_max: 0 })).toThrow();
  });
});


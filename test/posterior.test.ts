/**
 * The Posterior, the one place the localized tempered posterior's gradient is derived: ∇U against
 * central differences of U, U against its formula, L0, the gradient into arrays of either
 * precision, and the fused SGLD step of every kernel against the update written out with ∇U.
 */
import { describe, expect, it } from 'vitest';
import { native } from '../packages/llc/src/kernels/native';
import { referenceKernel } from '../packages/llc/src/kernels/reference';
import type { KernelProblem, LossKernel } from '../packages/llc/src/kernels/types';
import { wasmKernel } from '../packages/llc/src/kernels/wasm/kernel';
import { initParams, layout, MlpArch } from '../packages/llc/src/mlp';
import { Posterior } from '../packages/llc/src/posterior';
import { fillNormal, fold, keyFromSeed } from '../packages/llc/src/rng';

const arch: MlpArch = { in_dim: 3, out_dim: 2, widths: [6, 5], activation: 'tanh', bias: true, layernorm: false, skip_connections: false, residual_period: 2 };
const n = 50;
const d = layout(arch).d;
const chains = 2;
const batch = 7;
const X = new Float64Array(n * 3);
const Y = new Float64Array(n * 2);
fillNormal(keyFromSeed(1), X);
fillNormal(keyFromSeed(2), Y);
const center = initParams(arch, keyFromSeed(3), new Float64Array(d)) as Float64Array;
const temperature = { n, beta: 0.7, nBeta: 35, gamma: 3 };
const problem = (dtype: 'float32' | 'float64'): KernelProblem => ({ arch, X, Y, n, lossFn: { kind: 'mse', df: 0, scale: 0 }, dtype, chains, maxBatch: batch });
const rows = Int32Array.from({ length: chains * batch }, (_, i) => (i * 13 + 5) % n);

/** Positions near w*: w* + 0.1·N(0, I) per chain. */
function positions(): Float64Array {
  const w = new Float64Array(chains * d);
  fillNormal(keyFromSeed(4), w);
  for (let i = 0; i < w.length; i++) w[i] = center[i % d] + 0.1 * w[i];
  return w;
}

/** U written out: nβ·L + (γ/2)·‖w − w*‖², L from the kernel's loss over the given rows. */
function potentialOf(kernel: LossKernel, w: Float64Array, useRows: boolean): Float64Array {
  const loss = new Float64Array(chains);
  const ignored = new Float64Array(chains * d);
  if (useRows) kernel.lossGrad(w, rows, batch, ignored, loss);
  else kernel.loss(w, loss);
  return Float64Array.from({ length: chains }, (_, c) => {
    let r2 = 0;
    for (let j = 0; j < d; j++) r2 += (w[c * d + j] - center[j]) ** 2;
    return temperature.nBeta * loss[c] + 0.5 * temperature.gamma * r2;
  });
}

describe('Posterior', () => {
  const kernel = referenceKernel(problem('float64'));
  const posterior = new Posterior(kernel, center, temperature);

  it('computes L0 = L_n(w*) with its kernel, and λ̂ = nβ·(L − L0)', () => {
    const loss = new Float64Array(chains);
    kernel.loss(Float64Array.from({ length: chains * d }, (_, i) => center[i % d]), loss);
    expect(posterior.L0).toBe(loss[0]);
    expect(posterior.llc(posterior.L0 + 0.25)).toBeCloseTo(35 * 0.25, 12);
  });

  for (const useRows of [false, true]) {
    it(`∇U matches central differences of U and U its formula (${useRows ? 'minibatch' : 'full data'})`, () => {
      const w = positions();
      const grad = new Float64Array(chains * d);
      const loss = new Float64Array(chains);
      const potential = new Float64Array(chains);
      posterior.gradient(w, grad, loss, potential, useRows ? rows : null, batch);
      const exact = potentialOf(kernel, w, useRows);
      for (let c = 0; c < chains; c++) expect(Math.abs(potential[c] - exact[c])).toBeLessThan(1e-12 * Math.abs(exact[c]));
      const h = 1e-5;
      for (let k = 0; k < chains * d; k += 3) {
        const plus = Float64Array.from(w);
        const minus = Float64Array.from(w);
        plus[k] += h;
        minus[k] -= h;
        const c = Math.floor(k / d);
        const fd = (potentialOf(kernel, plus, useRows)[c] - potentialOf(kernel, minus, useRows)[c]) / (2 * h);
        expect(Math.abs(grad[k] - fd), `coordinate ${k}`).toBeLessThan(1e-6 * Math.max(1, Math.abs(fd)));
      }
    });
  }

  it('writes ∇U into arrays of either precision with the same values', () => {
    const p32 = new Posterior(referenceKernel(problem('float32')), center, temperature);
    const w = Float32Array.from(positions());
    const into32 = new Float32Array(chains * d);
    const into64 = new Float64Array(chains * d);
    const loss = new Float64Array(chains);
    p32.gradient(w, into32, loss);
    p32.gradient(w, into64, loss);
    // The float32 array holds the float64 values rounded once.
    expect(Array.from(into32)).toEqual(Array.from(Float32Array.from(into64)));
  });
});

const KERNELS: [string, (p: KernelProblem) => LossKernel][] = [
  ['reference', referenceKernel],
  ['wasm', (p) => wasmKernel(p, 1)],
  ...(native.available({ named: true }).ok ? [['native', (p: KernelProblem) => native.create(p, { threads: 1 })] as [string, (p: KernelProblem) => LossKernel]] : []),
];

describe('the fused SGLD step is w − ½ε·∇U_B(w) + √ε·ξ', () => {
  for (const [name, make] of KERNELS) {
    for (const dtype of ['float64', 'float32'] as const) {
      it(`${name}, ${dtype}`, () => {
        const posterior = new Posterior(make(problem(dtype)), center, temperature);
        const w = posterior.array(chains * d);
        w.set(positions());
        const expected = Float64Array.from(w);
        const gradU = new Float64Array(chains * d);
        posterior.gradient(w, gradU, new Float64Array(chains), null, rows, batch);
        const noiseKey = fold(keyFromSeed(9), 2);
        const xi = new Float64Array(chains * d);
        fillNormal(noiseKey, xi);
        const eps = 1e-4;
        for (let i = 0; i < expected.length; i++) expected[i] += -0.5 * eps * gradU[i] + Math.sqrt(eps) * xi[i];
        const state = { w, grad: posterior.array(chains * d), m: posterior.array(chains * d), v: posterior.array(chains * d).fill(1) };
        posterior.sgldStep(state, rows, batch, new Float64Array(chains), { stepSize: eps, precond: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, bias1: 1, bias2: 1, noiseKey });
        let num = 0;
        let den = 0;
        for (let i = 0; i < expected.length; i++) {
          num += (w[i] - expected[i]) ** 2;
          den += (expected[i] - center[i % d]) ** 2;
        }
        // Relative to the step's distance from w*, so that rounding of w itself does not count.
        expect(Math.sqrt(num / den)).toBeLessThan(dtype === 'float64' ? 1e-12 : 1e-5);
      });
    }
  }
});

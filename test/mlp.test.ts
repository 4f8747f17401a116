import { describe, expect, it } from 'vitest';
import { castTo, inferWidths, initParams, layout, LossFn, MlpArch, MlpEvaluator } from '../packages/llc/src/mlp';
import { fillNormal, fold, keyFromSeed } from '../packages/llc/src/rng';

const base: MlpArch = {
  in_dim: 3,
  out_dim: 2,
  widths: [5, 5, 5],
  activation: 'tanh',
  bias: true,
  layernorm: false,
  skip_connections: false,
  residual_period: 2,
};

function problem(arch: MlpArch, n: number, seed: number) {
  const key = keyFromSeed(seed);
  const d = layout(arch).d;
  const theta = initParams(arch, fold(key, 0), new Float64Array(d)) as Float64Array;
  // Perturb so that no ReLU sits exactly at a kink and LayerNorm gains are not all 1.
  const noise = new Float64Array(d);
  fillNormal(fold(key, 1), noise);
  for (let i = 0; i < d; i++) theta[i] += 0.3 * noise[i];
  const X = new Float64Array(n * arch.in_dim);
  const Y = new Float64Array(n * arch.out_dim);
  fillNormal(fold(key, 2), X);
  fillNormal(fold(key, 3), Y);
  return { theta, X, Y, d };
}

/** Central differences of the mean loss, one coordinate at a time. */
function finiteDifferenceGrad(ev: MlpEvaluator, theta: Float64Array, X: Float64Array, Y: Float64Array, rows: Int32Array | null, count: number, lossFn: LossFn) {
  const h = 1e-6;
  const g = new Float64Array(theta.length);
  for (let i = 0; i < theta.length; i++) {
    const keep = theta[i];
    theta[i] = keep + h;
    const up = ev.loss(theta, 0, X, Y, rows, count, lossFn);
    theta[i] = keep - h;
    const down = ev.loss(theta, 0, X, Y, rows, count, lossFn);
    theta[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

const variants: [string, Partial<MlpArch>][] = [
  ['tanh', {}],
  ['relu', { activation: 'relu' }],
  ['gelu', { activation: 'gelu' }],
  ['identity, no bias', { activation: 'identity', bias: false }],
  ['layernorm', { layernorm: true }],
  ['skip connections', { skip_connections: true, residual_period: 1 }],
  ['layernorm + skip + gelu', { layernorm: true, skip_connections: true, residual_period: 2, activation: 'gelu' }],
  ['linear regression (depth 0)', { widths: [], activation: 'identity' }],
];

describe('MLP gradient', () => {
  for (const [name, change] of variants) {
    for (const lossFn of [{ kind: 'mse', df: 0, scale: 0 }, { kind: 't_regression', df: 4, scale: 0.5 }] as LossFn[]) {
      it(`matches central differences: ${name}, ${lossFn.kind}`, () => {
        const arch = { ...base, ...change };
        const n = 7;
        const { theta, X, Y, d } = problem(arch, n, 11);
        const ev = new MlpEvaluator(arch, n);
        const grad = new Float64Array(d);
        const value = ev.lossAndGrad(theta, 0, X, Y, null, n, lossFn, grad, 0);
        expect(value).toBeCloseTo(ev.loss(theta, 0, X, Y, null, n, lossFn), 14);
        const fd = finiteDifferenceGrad(ev, theta, X, Y, null, n, lossFn);
        const scale = Math.max(...fd.map(Math.abs));
        for (let i = 0; i < d; i++) expect(Math.abs(grad[i] - fd[i])).toBeLessThan(1e-7 * Math.max(1, scale));
      });
    }
  }

  it('gathers minibatch rows, repeated rows included', () => {
    const arch = { ...base, activation: 'relu' as const };
    const { theta, X, Y, d } = problem(arch, 10, 5);
    const rows = Int32Array.from([3, 3, 9, 0]);
    const ev = new MlpEvaluator(arch, 10);
    const grad = new Float64Array(d);
    const lossFn: LossFn = { kind: 'mse', df: 0, scale: 0 };
    ev.lossAndGrad(theta, 0, X, Y, rows, 4, lossFn, grad, 0);
    const fd = finiteDifferenceGrad(ev, theta, X, Y, rows, 4, lossFn);
    for (let i = 0; i < d; i++) expect(Math.abs(grad[i] - fd[i])).toBeLessThan(1e-7);
  });

  it('evaluates a parameter vector at an offset in float32 storage', () => {
    const arch = { ...base };
    const { theta, X, Y, d } = problem(arch, 6, 8);
    const lossFn: LossFn = { kind: 'mse', df: 0, scale: 0 };
    const packed = new Float32Array(3 * d);
    packed.set(castTo('float32', theta), 2 * d);
    const ev32 = new MlpEvaluator(arch, 6, 'float32');
    const ev64 = new MlpEvaluator(arch, 6, 'float64');
    const g32 = new Float32Array(3 * d);
    const g64 = new Float64Array(d);
    const l32 = ev32.lossAndGrad(packed, 2 * d, castTo('float32', X), castTo('float32', Y), null, 6, lossFn, g32, d);
    const l64 = ev64.lossAndGrad(theta, 0, X, Y, null, 6, lossFn, g64, 0);
    expect(Math.abs(l32 - l64) / l64).toBeLessThan(1e-5);
    for (let i = 0; i < d; i++) expect(Math.abs(g32[d + i] - g64[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(g64[i])));
  });
});

describe('architecture', () => {
  it('infers the reference widths and parameter counts', () => {
    expect(inferWidths(4, 1, 2, 50, 32)).toEqual([4, 4]);
    expect(inferWidths(32, 1, 3, 10000, 300)).toEqual([62, 62, 62]);
    expect(inferWidths(32, 1, 2, 50, 32)).toEqual([1, 1]);
    expect(inferWidths(32, 1, 3, 100, 300)).toEqual([2, 2, 2]);
    expect(inferWidths(4, 1, 3, 100, 300)).toEqual([5, 5, 5]);
    expect(inferWidths(4, 1, 1, 50, 32)).toEqual([9]);
    expect(inferWidths(4, 1, 2, null, 32)).toEqual([32, 32]);
    const arch = (inDim: number, widths: number[]): MlpArch => ({ ...base, in_dim: inDim, out_dim: 1, widths });
    expect(layout(arch(4, [4, 4])).d).toBe(45);
    expect(layout(arch(32, [62, 62, 62])).d).toBe(9921);
    expect(layout(arch(32, [1, 1])).d).toBe(37);
    expect(layout(arch(32, [2, 2, 2])).d).toBe(81);
    expect(layout({ ...arch(10, []), activation: 'identity' }).d).toBe(11);
  });

  it('lays parameters out in the reference order', () => {
    const l = layout({ ...base, layernorm: true, widths: [4] });
    expect(l.entries.map((e) => `${e.name}@${e.offset}`)).toEqual(['L1.W@0', 'L1.b@12', 'LN1.weight@16', 'LN1.bias@20', 'Out.W@24', 'Out.b@32']);
  });
});

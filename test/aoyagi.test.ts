import { describe, expect, it } from 'vitest';
import { aoyagiLambda, closedFormLambda } from '../packages/llc/src/aoyagi';
import type { DataSpec, TeacherSpec } from '../packages/llc/src/data';
import type { MlpArch } from '../packages/llc/src/mlp';

/**
 * Reduced-rank regression (one hidden layer: input M, hidden H, output N, true rank r), in the case
 * form published by Aoyagi & Watanabe, "Stochastic complexities of reduced rank regression in
 * Bayesian estimation", Neural Networks 18 (2005), Main Theorem. Written out here independently of
 * the general formula under test.
 */
function reducedRankRegression(M: number, H: number, N: number, r: number): number {
  if (M + H < N + r) return (H * M - H * r + N * r) / 2;
  if (N + H < M + r) return (H * N - H * r + M * r) / 2;
  if (M + N < H + r) return (M * N) / 2;
  const core = 2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2;
  return ((M + H + N + r) % 2 === 0 ? core : core + 1) / 8;
}

describe("Aoyagi's learning coefficient of deep linear networks", () => {
  it('equals the published reduced-rank regression formula for every one-hidden-layer shape up to width 9', () => {
    let checked = 0;
    for (let M = 1; M <= 9; M++)
      for (let H = 1; H <= 9; H++)
        for (let N = 1; N <= 9; N++)
          for (let r = 0; r <= Math.min(M, H, N); r++) {
            expect(aoyagiLambda([M, H, N], r).lambda, `M=${M} H=${H} N=${N} r=${r}`).toBe(reducedRankRegression(M, H, N, r));
            checked++;
          }
    expect(checked).toBe(2754);
  });

  it('is d/2 without a hidden layer (a regular model), whatever the rank', () => {
    for (const [a, b] of [[1, 1], [3, 5], [7, 2]])
      for (let r = 0; r <= Math.min(a, b); r++) expect(aoyagiLambda([a, b], r).lambda).toBe((a * b) / 2);
  });

  it('is MN/2 when the truth has full rank and every hidden layer is wide (the product map is a submersion)', () => {
    expect(aoyagiLambda([3, 10, 10, 4], 3).lambda).toBe(6);
    expect(aoyagiLambda([5, 12, 20, 9, 2], 2).lambda).toBe(5);
  });

  it('matches hand-worked deeper cases', () => {
    // M = [3, 3, 3, 3], l = 3, S = 12, a = 0: 8 + 0 − 24 + 27.
    expect(aoyagiLambda([5, 5, 5, 5], 2)).toEqual({ lambda: 11, sigma: [0, 1, 2, 3], l: 3 });
    // M = [3, 3, 3, 1], l = 3, S = 10, a = 1: 2.5 + 2/12 − 200/12 + 18 = 4.
    expect(aoyagiLambda([4, 4, 4, 2], 1).lambda).toBe(4);
    // M = [2, 0, 6]: the bottleneck is {0, 1} (l = 1): base (−4 + 2·12)/2 = 10, no correction.
    expect(aoyagiLambda([4, 2, 8], 2)).toEqual({ lambda: 10, sigma: [0, 1], l: 1 });
  });

  it('rejects shapes the theorem does not cover', () => {
    expect(() => aoyagiLambda([4], 1)).toThrow(/input and an output/);
    expect(() => aoyagiLambda([4, 2, 3], 3)).toThrow(/rank must be an integer in \[0, 2\]/);
    expect(() => aoyagiLambda([4, 0, 3], 0)).toThrow(/positive integers/);
  });
});

describe('the learning coefficient of a target, where theory gives it', () => {
  const arch = (over: Partial<MlpArch>): MlpArch => ({ in_dim: 5, out_dim: 5, widths: [5, 5], activation: 'identity', bias: false, layernorm: false, skip_connections: false, residual_period: 2, ...over });
  const teacherOf = (over: Partial<TeacherSpec>): TeacherSpec => ({ ...arch({ residual_period: 1 }), dropout_rate: 0, ...over });
  const data: DataSpec = { n_data: 1000, n_test: 0, x_dist: 'gauss_iso', noise_model: 'gauss', noise_scale: 0.1 };

  it('is d/2 for a linear regression, with or without biases, whatever the teacher', () => {
    const relu = teacherOf({ widths: [7], activation: 'relu', bias: true, dropout_rate: 0.1 });
    expect(closedFormLambda({ model: arch({ in_dim: 8, out_dim: 2, widths: [], bias: true }), teacher: relu, data })).toEqual({ lambda: 9, source: 'd/2 (regular model)' });
    expect(closedFormLambda({ model: arch({ in_dim: 8, out_dim: 2, widths: [] }), teacher: relu, data })?.lambda).toBe(8);
  });

  it("is Aoyagi's λ for a deep linear network of a linear teacher, with the teacher's rank", () => {
    // The networks of `npm run bench:dln`: a teacher r wide has rank r.
    expect(closedFormLambda({ model: arch({ widths: [5, 5] }), teacher: teacherOf({ widths: [2] }), data })).toEqual({ lambda: 11, source: 'Aoyagi, rank 2' });
    expect(closedFormLambda({ model: arch({ in_dim: 6, out_dim: 4, widths: [8] }), teacher: teacherOf({ in_dim: 6, out_dim: 4, widths: [1] }), data })?.lambda).toBe(12);
    expect(closedFormLambda({ model: arch({ in_dim: 4, out_dim: 4, widths: [6, 6, 6, 6] }), teacher: teacherOf({ in_dim: 4, out_dim: 4, widths: [3] }), data })?.lambda).toBe(8);
    // A teacher of the student's own shape (the `_null` preset) has full rank min(5, 5, 5) = 5: 5·5/2.
    expect(closedFormLambda({ model: arch({}), teacher: teacherOf({}), data })).toEqual({ lambda: 12.5, source: 'Aoyagi, rank 5' });
  });

  it('claims nothing where the theorem does not apply', () => {
    const linear = teacherOf({ widths: [2] });
    const cases: [string, MlpArch, TeacherSpec, DataSpec][] = [
      ['a ReLU student', arch({ activation: 'relu' }), linear, data],
      ['a student with biases', arch({ bias: true }), linear, data],
      ['a student with layer norm', arch({ layernorm: true }), linear, data],
      ['a ReLU teacher', arch({}), teacherOf({ widths: [2], activation: 'relu' }), data],
      ['a teacher with biases', arch({}), teacherOf({ widths: [2], bias: true }), data],
      ['a teacher with output dropout', arch({}), teacherOf({ widths: [2], dropout_rate: 0.1 }), data],
      ['a student too narrow for the teacher', arch({ widths: [5, 1] }), linear, data],
      ['inputs on a low-dimensional manifold', arch({}), linear, { ...data, x_dist: 'lowdim_manifold', x_dim_latent: 2 }],
      ['a linear regression on such inputs', arch({ widths: [] }), linear, { ...data, x_dist: 'lowdim_manifold', x_dim_latent: 2 }],
    ];
    for (const [why, model, teacher, d] of cases) expect(closedFormLambda({ model, teacher, data: d }), why).toBeNull();
  });
});

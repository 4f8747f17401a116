import { describe, expect, it } from 'vitest';
import { aoyagiLambda } from '../packages/llc/src/aoyagi';

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

import { describe, expect, it } from 'vitest';
import { fillNormal, fold, keyFromSeed, Stream, threefry2x32 } from '../packages/llc/src/rng';

describe('threefry2x32-20', () => {
  // Known-answer vectors from the Random123 distribution (kat_vectors), also used by JAX's tests.
  it('matches the published known-answer vectors', () => {
    expect(threefry2x32([0, 0], [0, 0])).toEqual([0x6b200159, 0x99ba4efe]);
    expect(threefry2x32([0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff])).toEqual([0x1cb996fc, 0xbb002be7]);
    expect(threefry2x32([0x13198a2e, 0x03707344], [0x243f6a88, 0x85a308d3])).toEqual([0xc4923a9c, 0x483df7a0]);
  });

  it('derives distinct, reproducible child keys', () => {
    const k = keyFromSeed(42);
    expect(fold(k, 1)).toEqual(fold(k, 1));
    expect(fold(k, 1)).not.toEqual(fold(k, 2));
    expect(fold(fold(k, 1), 2)).toEqual(fold(k, 1, 2));
    expect(keyFromSeed(2 ** 40 + 5)).toEqual({ hi: 256, lo: 5 });
  });
});

describe('distributions', () => {
  it('normals have mean 0 and variance 1', () => {
    const z = new Float64Array(200_000);
    fillNormal(keyFromSeed(1), z);
    const mean = z.reduce((a, b) => a + b, 0) / z.length;
    const variance = z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length;
    // Standard errors: 1/√n ≈ 0.0022 for the mean, √(2/n) ≈ 0.0032 for the variance.
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.015);
  });

  it('gamma draws have the right mean and variance', () => {
    for (const shape of [0.5, 2, 7.5]) {
      const s = new Stream(fold(keyFromSeed(3), Math.round(shape * 10)));
      const n = 100_000;
      let sum = 0;
      let sq = 0;
      for (let i = 0; i < n; i++) {
        const g = s.gamma(shape);
        sum += g;
        sq += g * g;
      }
      const mean = sum / n;
      const variance = sq / n - mean * mean;
      expect(Math.abs(mean - shape) / shape).toBeLessThan(0.02);
      expect(Math.abs(variance - shape) / shape).toBeLessThan(0.05);
    }
  });

  it('integers below n are uniform', () => {
    const s = new Stream(keyFromSeed(9));
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 70_000; i++) counts[s.below(7)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  });
});

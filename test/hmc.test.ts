/**
 * HMC: Stan's adaptation schedule, adaptation results on a Gaussian posterior with known
 * variances, the warm-up as burn-in, divergence detection and honest work accounting.
 * Accuracy against the exact λ is in accuracy.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { referenceKernel } from '../packages/llc/src/kernels/reference';
import { MlpArch } from '../packages/llc/src/mlp';
import { fillNormal, keyFromSeed } from '../packages/llc/src/rng';
import { slowWindows } from '../packages/llc/src/samplers/adaptation/window';
import hmc from '../packages/llc/src/samplers/hmc';
import { Posterior } from '../packages/llc/src/posterior';

/** Linear regression on 3 inputs with a known design: posterior precision nβ·H + γ, H = (2/n)X̃ᵀX̃. */
const arch: MlpArch = { in_dim: 3, out_dim: 1, widths: [], activation: 'identity', bias: true, layernorm: false, skip_connections: false, residual_period: 2 };
const n = 200;
const d = 4;
const X = new Float64Array(n * 3);
fillNormal(keyFromSeed(1), X);
for (let i = 0; i < n; i++) X[i * 3 + 1] *= 3; // one stiff direction
const Y = Float64Array.from({ length: n }, (_, i) => X[i * 3] - 0.5 * X[i * 3 + 2]);
const temperature = { n, beta: 0.5, nBeta: 100, gamma: 1 };

function problem(chains: number): Posterior {
  const kernel = referenceKernel({ arch, X, Y, n, lossFn: { kind: 'mse', df: 0, scale: 0 }, dtype: 'float64', chains, maxBatch: 0 });
  // The exact minimiser, so that the posterior is centred at w*.
  return new Posterior(kernel, [1, 0, -0.5, 0], temperature);
}

/** Posterior variances along the coordinates: diag((nβ·H + γ·I)⁻¹), by Gauss–Jordan on the 4×4. */
function posteriorVariances(): number[] {
  const A = Array.from({ length: d }, (_, j) => Array.from({ length: d }, (_, k) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += (j < 3 ? X[i * 3 + j] : 1) * (k < 3 ? X[i * 3 + k] : 1);
    return (temperature.nBeta * 2 * s) / n + (j === k ? temperature.gamma : 0);
  }));
  const inv = A.map((row, i) => [...row, ...Array.from({ length: d }, (_, k) => (k === i ? 1 : 0))]);
  for (let i = 0; i < d; i++) {
    const p = inv[i][i];
    for (let k = 0; k < 2 * d; k++) inv[i][k] /= p;
    for (let r = 0; r < d; r++) if (r !== i) {
      const f = inv[r][i];
      for (let k = 0; k < 2 * d; k++) inv[r][k] -= f * inv[i][k];
    }
  }
  return inv.map((row, i) => row[d + i]);
}

const OPTIONS = { draws: 400, warmup: 300, num_integration_steps: 8, step_size: 0.01, step_size_jitter: 0.2, adapt_step_size: true, adapt_mass_matrix: true, target_acceptance: 0.8, chains: 4, dtype: 'float64' } as const;

describe('HMC', () => {
  it('uses Stan’s slow windows', () => {
    expect(slowWindows(1000)).toEqual([[75, 100], [100, 150], [150, 250], [250, 450], [450, 950]]);
    expect(slowWindows(200)).toEqual([[75, 100], [100, 150]]);
    expect(slowWindows(100)).toEqual([[15, 90]]);
    expect(slowWindows(19)).toEqual([]);
  });

  it('adapts the inverse mass to the posterior variances', () => {
    // Stan's default warm-up: its last slow window holds 500 draws, enough for variances within ~30%.
    const r = hmc.run(problem(4), { ...OPTIONS, warmup: 1000 }, keyFromSeed(2));
    const truth = posteriorVariances();
    expect(Math.max(...truth) / Math.min(...truth)).toBeGreaterThan(5);
    const diag = r.diagnostics as { inverse_mass: { min: number; max: number }[]; acceptance_rate: number; divergences: { sampling: number } };
    for (const chain of diag.inverse_mass) {
      expect(chain.min / Math.min(...truth)).toBeGreaterThan(0.7);
      expect(chain.min / Math.min(...truth)).toBeLessThan(1.4);
      expect(chain.max / Math.max(...truth)).toBeGreaterThan(0.7);
      expect(chain.max / Math.max(...truth)).toBeLessThan(1.4);
    }
    expect(diag.divergences.sampling).toBe(0);
  });

  it('tunes the step size to the target acceptance: a higher target gives smaller steps and more acceptance', () => {
    const runs = [0.6, 0.8, 0.95].map((target) => {
      const diag = hmc.run(problem(4), { ...OPTIONS, warmup: 1000, target_acceptance: target }, keyFromSeed(2)).diagnostics as { acceptance_rate: number; step_size: number[] };
      // Sampling uses the dual-averaged ε̄, which is smaller than the last iterate, so acceptance
      // lands at or above the target, as in Stan.
      expect(diag.acceptance_rate).toBeGreaterThan(target - 0.05);
      expect(diag.acceptance_rate).toBeLessThan(target + 0.2);
      return { acceptance: diag.acceptance_rate, step: diag.step_size.reduce((a, b) => a + b, 0) / 4 };
    });
    expect(runs[0].step).toBeGreaterThan(runs[1].step);
    expect(runs[1].step).toBeGreaterThan(runs[2].step);
    expect(runs[0].acceptance).toBeLessThan(runs[1].acceptance);
    expect(runs[1].acceptance).toBeLessThan(runs[2].acceptance);
  });

  it('continues from the adapted state: the first draws are already in the bulk', () => {
    const p = problem(4);
    const r = hmc.run(p, { ...OPTIONS, draws: 20 }, keyFromSeed(3));
    // From w* + 0.01·N the chains would start at λ̂ ≈ 0.02; the posterior mean of λ̂ here is ≈ 1.9.
    const early = r.Ln.reduce((s, l) => s + p.temperature.nBeta * (l - p.L0), 0) / r.Ln.length;
    expect(early).toBeGreaterThan(1);
  });

  it('detects divergences and rejects them', () => {
    const r = hmc.run(problem(2), { ...OPTIONS, adapt_step_size: false, adapt_mass_matrix: false, warmup: 0, step_size: 1, draws: 20 }, keyFromSeed(4));
    const diag = r.diagnostics as { acceptance_rate: number; divergences: { sampling: number } };
    expect(diag.divergences.sampling).toBeGreaterThan(30);
    expect(diag.acceptance_rate).toBeLessThan(0.05);
    expect(r.Ln.every(Number.isFinite)).toBe(true);
    expect(Array.from(r.traces.diverging).filter((x) => x === 1).length).toBe(diag.divergences.sampling);
  });

  it('counts every gradient of every chain', () => {
    const r = hmc.run(problem(3), { ...OPTIONS, adapt_step_size: false, adapt_mass_matrix: false, warmup: 0, draws: 25 }, keyFromSeed(5));
    expect(r.work).toEqual({ fge_warmup: 1, fge_sampling: 25 * 8, grad_evals: 3 * (1 + 25 * 8), full_loss_evals: 0 });
  });

  it('records acceptance, energy, divergence and step size per draw, and is reproducible', () => {
    const a = hmc.run(problem(2), { ...OPTIONS, draws: 30 }, keyFromSeed(6));
    const b = hmc.run(problem(2), { ...OPTIONS, draws: 30 }, keyFromSeed(6));
    expect(Object.keys(a.traces).sort()).toEqual(['acceptance_rate', 'diverging', 'energy', 'step_size']);
    expect(a.Ln).toEqual(b.Ln);
    expect(a.traces.energy).toEqual(b.traces.energy);
  });

  it('rejects adaptation without a warm-up', () => {
    expect(hmc.options.safeParse({ ...OPTIONS, warmup: 0 }).success).toBe(false);
  });
});

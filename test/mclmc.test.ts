/**
 * MCLMC (packages/llc/src/samplers/mclmc.ts) on linear regression, whose localized tempered
 * posterior is exactly Gaussian: λ̂ against the closed form, the integrators' energy error order,
 * unit-norm velocities, the tuned step size against desired_energy_var, work accounting,
 * reproducibility and option validation.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { referenceKernel } from '../packages/llc/src/kernels/reference';
import type { LossKernel } from '../packages/llc/src/kernels/types';
import { layout, MlpArch } from '../packages/llc/src/mlp';
import { fillNormal, fold, keyFromSeed } from '../packages/llc/src/rng';
import { jitteredStart } from '../packages/llc/src/samplers/loop';
import mclmc, { MclmcOptions, mclmcSampler, tuningSchedule } from '../packages/llc/src/samplers/mclmc';
import { Posterior } from '../packages/llc/src/posterior';
import { regularTruth } from './support/regular-model';

const arch: MlpArch = { in_dim: 10, out_dim: 1, widths: [], activation: 'identity', bias: true, layernorm: false, skip_connections: false, residual_period: 2 };
const n = 1000;
const inDim = arch.in_dim;
const d = layout(arch).d;
const lossFn = { kind: 'mse' as const, df: 0, scale: 0 };
const nBeta = n / Math.log(n);
const temperature = { n, beta: nBeta / n, nBeta, gamma: 1 };

const X = new Float64Array(n * inDim);
const Y = new Float64Array(n);
{
  fillNormal(keyFromSeed(1), X);
  const w0 = new Float64Array(inDim);
  fillNormal(keyFromSeed(2), w0);
  const noise = new Float64Array(n);
  fillNormal(keyFromSeed(3), noise);
  for (let i = 0; i < n; i++) {
    let y = 0;
    for (let j = 0; j < inDim; j++) y += X[i * inDim + j] * w0[j];
    Y[i] = y + 0.1 * noise[i];
  }
}

/** The exact least-squares solution on [X, 1] (layout: Out.W then Out.b), by Gaussian elimination. */
function leastSquares(): Float64Array {
  const A = Array.from({ length: d }, () => new Float64Array(d + 1));
  for (let i = 0; i < n; i++) {
    const row = (j: number) => (j < inDim ? X[i * inDim + j] : 1);
    for (let j = 0; j < d; j++) {
      for (let k = 0; k < d; k++) A[j][k] += row(j) * row(k);
      A[j][d] += row(j) * Y[i];
    }
  }
  for (let p = 0; p < d; p++) {
    for (let r = p + 1; r < d; r++) {
      const f = A[r][p] / A[p][p];
      for (let k = p; k <= d; k++) A[r][k] -= f * A[p][k];
    }
  }
  const w = new Float64Array(d);
  for (let p = d - 1; p >= 0; p--) {
    let s = A[p][d];
    for (let k = p + 1; k < d; k++) s -= A[p][k] * w[k];
    w[p] = s / A[p][p];
  }
  return w;
}

const center = leastSquares();
const truth = regularTruth(X, Y, n, inDim, center, nBeta, temperature.gamma);

const kernelFor = (chains: number, dtype: 'float32' | 'float64' = 'float64') => referenceKernel({ arch, X, Y, n, lossFn, dtype, chains, maxBatch: 0 });

function problem(chains: number, dtype: 'float32' | 'float64' = 'float64'): Posterior {
  return new Posterior(kernelFor(chains, dtype), center, temperature);
}

const PRESET = parse(readFileSync(join(__dirname, '..', 'config', 'sampler', 'mclmc.yaml'), 'utf8')) as MclmcOptions;
const OPTIONS: MclmcOptions = { ...PRESET, draws: 2000 };

const mean = (x: ArrayLike<number>) => Array.from(x).reduce((a, b) => a + b, 0) / x.length;

type Diagnostics = {
  L: number;
  step_size: number;
  tuning_steps: Record<string, number>;
  preconditioner: { min: number; max: number } | null;
  energy_change: { mean_per_dim: number; var_per_dim: number; desired_var_per_dim: number };
};

/** λ̂ = nβ·(mean L_n − L0) over all chains and draws. */
const llcOf = (Ln: Float64Array, p: Posterior) => nBeta * (mean(Ln) - p.L0);

describe('MCLMC on linear regression (Gaussian posterior, d = 11, n = 1000)', () => {
  it('uses the exact least-squares solution as w*, so the closed-form λ applies', () => {
    expect(truth.distanceToMinimiser).toBeLessThan(1e-9);
    expect(truth.lambda).toBeGreaterThan(5.3);
    expect(truth.lambda).toBeLessThan(5.5);
  });

  it('tunes L and ε and estimates λ̂ within 5% of the exact value', () => {
    const p = problem(OPTIONS.chains);
    const r = mclmc.run(p, OPTIONS, keyFromSeed(7));
    const llc = llcOf(r.Ln, p);
    const { L, step_size, energy_change } = r.diagnostics as Diagnostics;
    console.log(
      `MCLMC λ̂ = ${llc.toFixed(4)}, exact λ = ${truth.lambda.toFixed(4)} (${((100 * (llc - truth.lambda)) / truth.lambda).toFixed(2)}%); ` +
        `tuned L = ${L.toPrecision(4)}, ε = ${step_size.toPrecision(4)}; Var[ΔE]/d = ${energy_change.var_per_dim.toExponential(3)} ` +
        `(desired ${energy_change.desired_var_per_dim}), mean ΔE/d = ${energy_change.mean_per_dim.toExponential(3)}; ` +
        `tuning ${r.timing.warmup_s.toFixed(2)} s, sampling ${r.timing.sampling_s.toFixed(2)} s`,
    );
    expect(Math.abs(llc - truth.lambda) / truth.lambda).toBeLessThan(0.05);
    // The tuned step size puts the energy-change variance per dimension near the target: within a
    // factor of 3 either way (BlackJAX's predictor averages over only 2·50 steps that start far away).
    expect(energy_change.var_per_dim).toBeGreaterThan(energy_change.desired_var_per_dim / 3);
    expect(energy_change.var_per_dim).toBeLessThan(energy_change.desired_var_per_dim * 3);
    expect(Number.isFinite(L) && L > 0).toBe(true);
    expect(Number.isFinite(step_size) && step_size > 0).toBe(true);
  });

  it('tunes a diagonal preconditioner and still estimates λ̂ within 5%', () => {
    const p = problem(OPTIONS.chains);
    const o = { ...OPTIONS, diagonal_preconditioning: true };
    const r = mclmc.run(p, o, keyFromSeed(8));
    const llc = llcOf(r.Ln, p);
    const { L, step_size, preconditioner, tuning_steps } = r.diagnostics as Diagnostics;
    console.log(`MCLMC with diagonal preconditioning: λ̂ = ${llc.toFixed(4)}; L = ${L.toPrecision(4)}, ε = ${step_size.toPrecision(4)}, σ in [${preconditioner?.min.toPrecision(3)}, ${preconditioner?.max.toPrecision(3)}]`);
    expect(tuning_steps).toEqual({ step_size: 50, step_size_and_variance: 50, preconditioner_readjust: 16, L_from_ess: 50 });
    // Posterior standard deviations are 1/√(nβ·a_k + γ) with a_k ≈ 2: about 0.06 in every coordinate.
    expect(preconditioner!.min).toBeGreaterThan(0.03);
    expect(preconditioner!.max).toBeLessThan(0.12);
    expect(Math.abs(llc - truth.lambda) / truth.lambda).toBeLessThan(0.05);
  });

  for (const integrator of ['isokinetic_mclachlan', 'isokinetic_velocity_verlet'] as const) {
    it(`${integrator}: the energy error shrinks as ε² and velocities stay unit-norm`, () => {
      // L = 1e300 turns the partial refresh off (ν = 0): the deterministic isokinetic dynamics, whose
      // energy (−log π plus the ESH kinetic energy) is conserved exactly by the flow.
      const p = problem(2);
      const duration = 2;
      const maxEnergyError = (eps: number) => {
        const sampler = mclmcSampler(p, { ...OPTIONS, tune: false, L: 1e300, step_size: eps, integrator });
        const s = sampler.init(jitteredStart(p, keyFromSeed(1)), keyFromSeed(2));
        const cumulative = [0, 0];
        let worst = 0;
        for (let t = 0; t < Math.round(duration / eps); t++) {
          const info = sampler.step(s, fold(keyFromSeed(3), t), 'sampling', t) as Record<string, Float64Array>;
          for (let c = 0; c < 2; c++) {
            cumulative[c] += info.energy_change[c];
            worst = Math.max(worst, Math.abs(cumulative[c]));
            let normSq = 0;
            for (let j = 0; j < d; j++) normSq += s.u[c * d + j] ** 2;
            expect(Math.abs(Math.sqrt(normSq) - 1)).toBeLessThan(1e-14);
          }
        }
        return worst;
      };
      const errors = [0.04, 0.02, 0.01].map(maxEnergyError);
      console.log(`${integrator}: max |energy error| over t ∈ [0, ${duration}] at ε = 0.04, 0.02, 0.01: ${errors.map((e) => e.toExponential(3)).join(', ')}`);
      for (let k = 1; k < errors.length; k++) {
        const ratio = errors[k - 1] / errors[k];
        expect(ratio).toBeGreaterThan(3.5);
        expect(ratio).toBeLessThan(4.5);
      }
    });
  }

  it('McLachlan has a smaller energy error than velocity Verlet at the same ε', () => {
    const p = problem(1);
    const rms = (integrator: MclmcOptions['integrator']) => {
      const r = mclmc.run(p, { ...OPTIONS, tune: false, L: 0.2, step_size: 0.05, draws: 200, chains: 1, integrator }, keyFromSeed(4));
      return Math.sqrt(mean(r.traces.energy_change.map((e) => e * e)));
    };
    expect(rms('isokinetic_mclachlan')).toBeLessThan(rms('isokinetic_velocity_verlet') / 3);
  });

  it('tuning survives non-finite steps: a failed chain is rolled back and ε is capped', () => {
    // Chain 0's gradient is NaN at the first position sub-step of the first step, so its velocity
    // and then its position become NaN (BlackJAX's failure condition); chain 1 is unaffected.
    const base = kernelFor(2);
    let calls = 0;
    const kernel: LossKernel = {
      ...base,
      lossGrad(positions, rows, batch, grad, out) {
        base.lossGrad(positions, rows, batch, grad, out);
        if (++calls === 2) {
          out[0] = NaN;
          grad.fill(NaN, 0, d);
        }
      },
    };
    const p = new Posterior(kernel, center, temperature);
    const sampler = mclmcSampler(p, { ...OPTIONS, chains: 2 });
    const start = jitteredStart(p, keyFromSeed(1));
    const s = sampler.init(start.slice(), keyFromSeed(2));
    const initialStepSize = s.stepSize;
    const initialLoss = s.loss[0];
    sampler.step(s, keyFromSeed(3), 'warmup', 0);
    expect(Array.from(s.w.subarray(0, d))).toEqual(Array.from(start.subarray(0, d)));
    expect(s.loss[0]).toBe(initialLoss);
    expect(Array.from(s.w.subarray(d))).not.toEqual(Array.from(start.subarray(d)));
    expect(s.stepSize).toBeLessThanOrEqual(0.8 * initialStepSize);
    for (let t = 1; t < 400; t++) sampler.step(s, fold(keyFromSeed(3), t), t < 150 ? 'warmup' : 'sampling', t);
    expect(s.w.every(Number.isFinite)).toBe(true);
    expect(Number.isFinite(s.L) && s.L > 0).toBe(true);
  });

  for (const [integrator, perStep] of [
    ['isokinetic_mclachlan', 2],
    ['isokinetic_velocity_verlet', 1],
  ] as const) {
    it(`${integrator}: counts ${perStep} gradient(s) per step plus the initial one, for every chain, tuning included`, () => {
      const chains = 3;
      const o = { ...OPTIONS, integrator, chains, num_steps: 100, draws: 20 };
      const r = mclmc.run(problem(chains), o, keyFromSeed(5));
      const tuning = 10 + 10 + 10;
      expect((r.diagnostics as Diagnostics).tuning_steps).toEqual({ step_size: 10, step_size_and_variance: 10, preconditioner_readjust: 0, L_from_ess: 10 });
      expect(tuningSchedule(o)).toEqual((r.diagnostics as Diagnostics).tuning_steps);
      expect(r.work).toEqual({
        fge_warmup: 1 + perStep * tuning,
        fge_sampling: perStep * o.draws,
        grad_evals: chains * (1 + perStep * (tuning + o.draws)),
        // L_n comes with the last gradient of each step: no separate loss pass.
        full_loss_evals: 0,
      });
      expect(Array.from(r.fge)).toEqual(Array.from({ length: o.draws }, (_, k) => 1 + perStep * (tuning + k + 1)));
      expect(r.draws).toBe(o.draws);
      expect(r.Ln).toHaveLength(chains * o.draws);
      expect(r.traces.energy_change).toHaveLength(chains * o.draws);
    });
  }

  it('records L_n as the kernel computes it at the chains’ positions', () => {
    const p = problem(2);
    const sampler = mclmcSampler(p, { ...OPTIONS, tune: false, L: 0.2, step_size: 0.1 });
    const s = sampler.init(jitteredStart(p, keyFromSeed(1)), keyFromSeed(2));
    const loss = new Float64Array(2);
    for (let t = 0; t < 5; t++) {
      sampler.step(s, fold(keyFromSeed(3), t), 'sampling', t);
      p.loss(sampler.positions(s), loss);
      expect(Array.from(sampler.losses!(s))).toEqual(Array.from(loss));
    }
  });

  it('gives identical traces for the same seed and different ones for another (float32 too)', () => {
    for (const dtype of ['float64', 'float32'] as const) {
      const o = { ...OPTIONS, dtype, draws: 50, num_steps: 100, chains: 2 };
      const a = mclmc.run(problem(2, dtype), o, keyFromSeed(3));
      const b = mclmc.run(problem(2, dtype), o, keyFromSeed(3));
      const c = mclmc.run(problem(2, dtype), o, keyFromSeed(4));
      expect(a.Ln).toEqual(b.Ln);
      expect(a.traces.energy_change).toEqual(b.traces.energy_change);
      expect(a.diagnostics).toEqual(b.diagnostics);
      expect(a.Ln).not.toEqual(c.Ln);
      expect(a.Ln.every(Number.isFinite)).toBe(true);
    }
  });

  it('rejects d < 2, where the velocity sphere is a pair of points', () => {
    const tiny: MlpArch = { ...arch, in_dim: 1, bias: false };
    const kernel = referenceKernel({ arch: tiny, X: X.subarray(0, n), Y, n, lossFn, dtype: 'float64', chains: 1, maxBatch: 0 });
    expect(() => mclmcSampler(new Posterior(kernel, [0], temperature), OPTIONS)).toThrow(/at least 2 parameters/);
  });
});

describe('MCLMC options', () => {
  const parse = (o: Record<string, unknown>) => mclmc.options.safeParse(o);
  const messageAt = (o: Record<string, unknown>, key: string) => {
    const result = parse(o);
    expect(result.success).toBe(false);
    return result.error!.issues.filter((i) => i.path[0] === key).map((i) => i.message).join('; ');
  };

  it('accepts the preset, which holds the reference defaults', () => {
    expect(parse(PRESET).success).toBe(true);
    expect(PRESET).toEqual({
      draws: 1000,
      L: 1,
      step_size: 0.1,
      integrator: 'isokinetic_mclachlan',
      tune: true,
      num_steps: 500,
      frac_tune1: 0.1,
      frac_tune2: 0.1,
      frac_tune3: 0.1,
      desired_energy_var: 5e-4,
      trust_in_estimate: 1,
      num_effective_samples: 150,
      diagonal_preconditioning: false,
      chains: 4,
      dtype: 'float64',
    });
  });

  it('rejects unknown and missing keys, wrong types and out-of-range values', () => {
    expect(parse({ ...PRESET, num_step: 500 }).success).toBe(false);
    const { draws: _, ...missing } = PRESET;
    expect(parse(missing).success).toBe(false);
    expect(parse({ ...PRESET, integrator: 'mclachlan' }).success).toBe(false);
    expect(parse({ ...PRESET, tune: 'yes' }).success).toBe(false);
    expect(parse({ ...PRESET, frac_tune1: 1.5 }).success).toBe(false);
    expect(parse({ ...PRESET, frac_tune2: -0.1 }).success).toBe(false);
    expect(parse({ ...PRESET, draws: 0 }).success).toBe(false);
    expect(parse({ ...PRESET, draws: 10.5 }).success).toBe(false);
    expect(parse({ ...PRESET, L: 0 }).success).toBe(false);
    expect(parse({ ...PRESET, step_size: -1 }).success).toBe(false);
    expect(parse({ ...PRESET, desired_energy_var: 0 }).success).toBe(false);
    expect(parse({ ...PRESET, num_effective_samples: 0.5 }).success).toBe(false);
    expect(parse({ ...PRESET, chains: 0 }).success).toBe(false);
    expect(parse({ ...PRESET, dtype: 'float16' }).success).toBe(false);
  });

  it('rejects a tuning phase whose fraction is positive but too small for num_steps', () => {
    expect(messageAt({ ...PRESET, frac_tune1: 0.001 }, 'frac_tune1')).toMatch(/= 0 tuning steps/);
    expect(messageAt({ ...PRESET, frac_tune2: 0.002 }, 'frac_tune2')).toMatch(/= 1 tuning steps.*variance/);
    expect(messageAt({ ...PRESET, frac_tune3: 0.006 }, 'frac_tune3')).toMatch(/= 3 tuning steps.*ESS/);
    expect(messageAt({ ...PRESET, num_steps: 5 }, 'frac_tune1')).toMatch(/num_steps = 5/);
    // A zero fraction skips the phase; without tuning the fractions are not used at all.
    expect(parse({ ...PRESET, frac_tune3: 0 }).success).toBe(true);
    expect(parse({ ...PRESET, tune: false, frac_tune1: 0.001 }).success).toBe(true);
  });

  it('checks the tuning settings against each other', () => {
    expect(messageAt({ ...PRESET, frac_tune1: 0, frac_tune2: 0, frac_tune3: 0 }, 'tune')).toMatch(/every tuning phase has 0 steps/);
    expect(messageAt({ ...PRESET, tune: false, diagonal_preconditioning: true }, 'diagonal_preconditioning')).toMatch(/needs tune: true/);
    expect(messageAt({ ...PRESET, frac_tune2: 0, diagonal_preconditioning: true }, 'diagonal_preconditioning')).toMatch(/phase 2/);
  });
});

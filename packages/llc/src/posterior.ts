/**
 * The localized tempered posterior (docs/mathematics.md; Lau, Furman, Wang, Murfet & Wei 2023,
 * "The Local Learning Coefficient: A Singularity-Aware Complexity Measure"):
 *   log π(w) = −nβ·L_n(w) − (γ/2)·‖w − w*‖² + const,
 * with β = β0 / ln(max(3, n)) in mode `1_over_log_n`, or β = β0 in mode `constant`, and
 * γ = d / prior_radius² when a prior radius is set: its settings, its temperature, and the
 * Posterior every sampler draws from.
 */
import { z } from 'zod';
import type { LeapfrogState, LossKernel, SgldArrays, SgldStep } from './kernels/types';
import { castTo, Dtype, FloatArray } from './mlp';

export const PosteriorConfig = z.strictObject({
  beta_mode: z.enum(['1_over_log_n', 'constant']),
  beta0: z.number().positive(),
  gamma: z.number().min(0),
  prior_radius: z.number().positive().nullable(),
});
export type PosteriorConfig = z.infer<typeof PosteriorConfig>;

/** The resolved posterior settings: only what can change the result. */
export type PosteriorSpec = { beta_mode: PosteriorConfig['beta_mode']; beta0: number } & ({ gamma: number } | { prior_radius: number });

export function resolvePosterior(c: PosteriorConfig): PosteriorSpec {
  return c.prior_radius !== null
    ? { beta_mode: c.beta_mode, beta0: c.beta0, prior_radius: c.prior_radius }
    : { beta_mode: c.beta_mode, beta0: c.beta0, gamma: c.gamma };
}

export interface Temperature {
  n: number;
  beta: number;
  /** n·β, the factor between a loss difference and λ̂. */
  nBeta: number;
  gamma: number;
}

export function temperature(spec: PosteriorSpec, n: number, d: number): Temperature {
  const beta = spec.beta_mode === '1_over_log_n' ? spec.beta0 / Math.log(Math.max(3, n)) : spec.beta0;
  const gamma = 'prior_radius' in spec ? d / (spec.prior_radius * spec.prior_radius) : spec.gamma;
  return { n, beta, nBeta: n * beta, gamma };
}

/**
 * The posterior a sampler explores, bound to a kernel (the data, the loss and the precision) and to
 * w*: the potential U(w) = nβ·L(w) + (γ/2)·‖w − w*‖², so that log π = −U, and its gradient, for all
 * chains per call. This is the one place the gradient of U is derived; samplers reach the kernel
 * only through it. Positions and gradients are chains × d, row-major by chain.
 */
export class Posterior {
  readonly d: number;
  readonly n: number;
  readonly chains: number;
  readonly dtype: Dtype;
  readonly nBeta: number;
  readonly gamma: number;
  /** L_n(w*), computed by the same kernel in the same precision as the losses it is subtracted from. */
  readonly L0: number;
  /** w*, in the kernel's precision. */
  readonly center: FloatArray;
  private dataGrad?: FloatArray;

  constructor(
    private readonly kernel: LossKernel,
    center: ArrayLike<number>,
    readonly temperature: Temperature,
  ) {
    ({ d: this.d, n: this.n, chains: this.chains, dtype: this.dtype } = kernel);
    this.nBeta = temperature.nBeta;
    this.gamma = temperature.gamma;
    this.center = kernel.array(this.d);
    this.center.set(castTo(this.dtype, center));
    const replicated = kernel.array(this.chains * this.d);
    for (let c = 0; c < this.chains; c++) replicated.set(this.center, c * this.d);
    const L0s = new Float64Array(this.chains);
    kernel.loss(replicated, L0s);
    this.L0 = L0s[0];
  }

  /** A zeroed array in the kernel's precision, which the kernel uses in place. */
  array(length: number): FloatArray {
    return this.kernel.array(length);
  }

  /** λ̂ of a mean loss: nβ·(L − L0). */
  llc(meanLoss: number): number {
    return this.nBeta * (meanLoss - this.L0);
  }

  /** Full-data mean loss L_n at every chain's position. */
  loss(positions: FloatArray, out: Float64Array): void {
    this.kernel.loss(positions, out);
  }

  /**
   * The data term alone: the mean loss over `batch` rows per chain (`rows`, chain c at c·batch),
   * or over all n rows when rows is null, and its gradient ∇L (for Hessians of the loss).
   */
  lossGradient(positions: FloatArray, rows: Int32Array | null, batch: number, grad: FloatArray, loss: Float64Array): void {
    this.kernel.lossGrad(positions, rows, batch, grad, loss);
  }

  /**
   * ∇U = nβ·∇L + γ·(w − w*) at every chain's position, written to `grad` (of either precision),
   * with L the mean loss over `rows` (or all n rows); L per chain goes to `loss` and, when asked
   * for, U per chain to `potential`.
   */
  gradient(positions: FloatArray, grad: FloatArray, loss: Float64Array, potential: Float64Array | null = null, rows: Int32Array | null = null, batch = this.n): void {
    const { d, chains, nBeta, gamma, center } = this;
    // The kernel writes ∇L into `grad` itself when it has the kernel's precision, else into a scratch array.
    const data = grad instanceof Float32Array === (this.dtype === 'float32') ? grad : (this.dataGrad ??= this.kernel.array(chains * d));
    this.kernel.lossGrad(positions, rows, batch, data, loss);
    for (let c = 0; c < chains; c++) {
      let r2 = 0;
      for (let j = 0, i = c * d; j < d; j++, i++) {
        const offset = positions[i] - center[j];
        grad[i] = nBeta * data[i] + gamma * offset;
        r2 += offset * offset;
      }
      if (potential) potential[c] = nBeta * loss[c] + 0.5 * gamma * r2;
    }
  }

  /**
   * `steps` leapfrog steps of Hamiltonian dynamics on U with a diagonal inverse mass (chains × d)
   * and a step size per chain, in place: from positions q with momenta p and ∇U(q) in grad, each
   * step is p ← p − ½ε·∇U, q ← q + ε·M⁻¹p, a new gradient, p ← p − ½ε·∇U; at the end grad, loss
   * and potential hold ∇U, L_n and U at the new q. A kernel that can keep the trajectory on its
   * device (the GPU kernel) runs it in one submission; elsewhere it runs here, a gradient per step.
   */
  leapfrog(state: LeapfrogState, invMass: Float64Array, step: Float64Array, steps: number): void {
    if (this.kernel.leapfrog) return this.kernel.leapfrog({ ...state, center: this.center }, { invMass, step, steps, nBeta: this.nBeta, gamma: this.gamma });
    const { d, chains } = this;
    const { q, p, grad } = state;
    for (let l = 0; l < steps; l++) {
      for (let c = 0; c < chains; c++) {
        const e = step[c];
        for (let j = 0; j < d; j++) {
          const i = c * d + j;
          p[i] -= 0.5 * e * grad[i];
          q[i] += e * invMass[i] * p[i];
        }
      }
      this.gradient(q, grad, state.loss, state.potential);
      for (let c = 0; c < chains; c++) {
        const e = step[c];
        for (let j = 0; j < d; j++) p[c * d + j] -= 0.5 * e * grad[c * d + j];
      }
    }
  }

  /**
   * One SGLD step of every chain (packages/llc/src/samplers/sgld.ts), fused in the kernel: the
   * minibatch gradient, then w ← w − ½·εP⊙(γ(w − w*) + nβ·drift) + √(εP)⊙ξ with this posterior's
   * nβ, γ and w*. Each chain's minibatch loss goes to `loss`.
   */
  sgldStep(state: Omit<SgldArrays, 'center'>, rows: Int32Array, batch: number, loss: Float64Array, update: Omit<SgldStep, 'nBeta' | 'gamma'>): void {
    this.sgldSteps(state, rows, batch, loss, [update]);
  }

  /**
   * updates.length SGLD steps, step s with the rows rows[s·chains·batch …]: one submission on a
   * kernel that fuses steps (the GPU kernel), else step by step; the same either way.
   */
  sgldSteps(state: Omit<SgldArrays, 'center'>, rows: Int32Array, batch: number, loss: Float64Array, updates: Omit<SgldStep, 'nBeta' | 'gamma'>[]): void {
    const arrays = { ...state, center: this.center };
    const steps = updates.map((u) => ({ ...u, nBeta: this.nBeta, gamma: this.gamma }));
    if (this.kernel.sgldSteps) return this.kernel.sgldSteps(arrays, rows, batch, loss, steps);
    const perStep = this.chains * batch;
    steps.forEach((step, s) => this.kernel.sgldStep(arrays, rows.subarray(s * perStep, (s + 1) * perStep), batch, loss, step));
  }
}

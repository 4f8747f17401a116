/**
 * The MALA acceptance probability of SGLD's proposal: how far a Langevin step of size ε strays from
 * the posterior it discretises (Roberts & Tweedie 1996; used to check SGLD step sizes for the LLC by
 * Lau, Furman, Wang, Murfet & Wei 2023, who report 0.86–0.93 on deep linear networks).
 *
 * At a checked step, from every chain's position w with the step's minibatch B, the proposal is
 *   w' = w − ½·εP⊙∇U_B(w) + √(εP)⊙ξ,   ξ ~ N(0, I)
 * with U_B(w) = nβ·L_B(w) + (γ/2)·‖w − w*‖² and P the step's diagonal preconditioner (1 without
 * one), and the Metropolis–Hastings acceptance probability of that proposal is
 *   α = min(1, exp(U_B(w) − U_B(w') + log q(w | w') − log q(w' | w))),
 *   log q(x | y) = −Σ_j (x_j − y_j + ½·εP_j·∂_jU_B(y))² / (2εP_j) + const.
 * It costs two minibatch gradients per chain and check. The check draws its own ξ and moves no
 * chain: SGLD's trajectory is the same with or without it.
 */
import type { FloatArray } from '../mlp';
import type { Posterior } from '../posterior';
import { fillNormal, Key } from '../rng';

export interface MalaSummary {
  /** Mean acceptance probability over every chain and check. */
  mean: number;
  per_chain: number[];
  checks_per_chain: number;
  /** Steps between checks. */
  every: number;
  /** The step size the acceptance refers to. */
  step_size: number;
}

/**
 * The acceptance range we recommend for SGLD's step size. Below it, the discretisation visibly
 * biases the samples; above it the step could be larger (faster mixing) at little cost in bias.
 * 0.9 is the target a suggested step size aims for, in the middle of what Lau et al. report.
 */
export const MALA_RANGE = { low: 0.8, high: 0.995, target: 0.9 } as const;

/**
 * The step size expected to give the target acceptance: for MALA on smooth targets 1 − α grows as
 * ε^{3/2} (Roberts & Rosenthal 1998), so ε·((1 − target)/(1 − α))^{2/3}.
 */
export function suggestedStepSize(mala: Pick<MalaSummary, 'mean' | 'step_size'>): number {
  const rejected = Math.max(1 - mala.mean, 1e-6);
  return mala.step_size * Math.pow((1 - MALA_RANGE.target) / rejected, 2 / 3);
}

/** Accumulates MALA checks of every chain over a run. */
export class MalaCheck {
  private readonly sum: Float64Array;
  /** Checks so far; each cost two minibatch gradients per chain. */
  checks = 0;
  private readonly g0: Float64Array;
  private readonly g1: Float64Array;
  private readonly xi: Float64Array;
  private readonly proposal: FloatArray;
  private readonly loss0: Float64Array;
  private readonly loss1: Float64Array;
  private readonly u0: Float64Array;
  private readonly u1: Float64Array;

  constructor(
    private readonly posterior: Posterior,
    readonly every: number,
    private readonly stepSize: number,
  ) {
    const { chains, d } = posterior;
    this.sum = new Float64Array(chains);
    this.g0 = new Float64Array(chains * d);
    this.g1 = new Float64Array(chains * d);
    this.xi = new Float64Array(chains * d);
    this.proposal = posterior.array(chains * d);
    this.loss0 = new Float64Array(chains);
    this.loss1 = new Float64Array(chains);
    this.u0 = new Float64Array(chains);
    this.u1 = new Float64Array(chains);
  }

  /**
   * One check from positions w (chains × d, the kernel's precision) with the minibatch `rows`
   * (chain c at c·batch) and the preconditioner P (chains × d), or null for P = 1. Returns the
   * acceptance probability of each chain (valid until the next call).
   */
  check(w: FloatArray, rows: Int32Array, batch: number, precond: ((i: number) => number) | null, key: Key): Float64Array {
    const { posterior, stepSize: eps, g0, g1, xi, proposal } = this;
    const { chains, d } = posterior;
    posterior.gradient(w, g0, this.loss0, this.u0, rows, batch);
    fillNormal(key, xi);
    for (let i = 0; i < chains * d; i++) {
      const p = precond ? precond(i) : 1;
      proposal[i] = w[i] - 0.5 * eps * p * g0[i] + Math.sqrt(eps * p) * xi[i];
    }
    posterior.gradient(proposal, g1, this.loss1, this.u1, rows, batch);
    const alpha = new Float64Array(chains);
    for (let c = 0; c < chains; c++) {
      let forward = 0;
      let backward = 0;
      for (let j = 0, i = c * d; j < d; j++, i++) {
        const p = precond ? precond(i) : 1;
        // Differences of the rounded positions the losses were evaluated at.
        const step = proposal[i] - w[i];
        forward += (step + 0.5 * eps * p * g0[i]) ** 2 / (2 * eps * p);
        backward += (-step + 0.5 * eps * p * g1[i]) ** 2 / (2 * eps * p);
      }
      const logAlpha = this.u0[c] - this.u1[c] - backward + forward;
      alpha[c] = Number.isNaN(logAlpha) ? 0 : Math.min(1, Math.exp(logAlpha));
      this.sum[c] += alpha[c];
    }
    this.checks++;
    return alpha;
  }

  summary(): MalaSummary | undefined {
    if (this.checks === 0) return undefined;
    const perChain = Array.from(this.sum, (s) => s / this.checks);
    return { mean: perChain.reduce((a, b) => a + b, 0) / perChain.length, per_chain: perChain, checks_per_chain: this.checks, every: this.every, step_size: this.stepSize };
  }
}

/**
 * The ELBO's per-draw gradient estimate:
 *   - ρ and A: "sticking the landing" (Roeder, Wu & Duvenaud 2017). The gradient is the pathwise
 *     derivative of log p(t̃_φ) − log q_φ̄(t̃_φ) through the sample, q's parameters frozen inside
 *     log q. It keeps the entropy's path term −∇_t̃ log q (the reference dropped it, and its fixed
 *     version collapsed), and drops only the score term, whose expectation E_q[∇_φ log q] is zero.
 *     The discrete component draw needs no correction: averaging the pathwise term over m ~ π
 *     reproduces Σ_m π_m ∇_φ E_{N_m}[·], the exact gradient for fixed π.
 *   - α: the score-function estimator ∇_α log q(t̃)·(f − b), f = log p − log q, b a bias-corrected
 *     running mean of f over *earlier* steps (none at step 0, so no α step then). Here
 *     ∇_α log q(t̃) = (r(t̃) − π)/T with r the responsibilities: the Rao–Blackwellised score of the
 *     drawn component (E[e_m | t̃] = r(t̃)). Unbiased for any b fixed before the draw, because
 *     E_q[∇_α log q] = 0; at q = p, f is constant, so the estimator's variance vanishes too.
 */
import type { FloatArray } from '../../mlp';
import type { MfaFamily } from './mfa';

export interface ObjectiveSettings {
  dirichlet: number | null;
  entropyBonus: number;
}

/**
 * One chain's per-draw ELBO term f = log p(w) − log q(w) and its gradient estimate (STL for ρ and
 * A, score function for α, plus the weight regularisers), in the whitened coordinates of `whitening`.
 */
export class MfaObjective {
  /** log p and log q(w) of the last draw passed to `gradient`. */
  lastLogP = 0;
  lastLogQ = 0;
  /** Σ_i log a_i per chain: q over w has density q(t̃)·Π a_i. */
  readonly logJacobian: Float64Array;
  private readonly G: Float64Array;
  private readonly gradLogQ: Float64Array;

  constructor(
    readonly family: MfaFamily,
    /** a, chains × d. */
    readonly whitening: Float64Array,
    private readonly settings: ObjectiveSettings,
  ) {
    const { d } = family.shape;
    this.logJacobian = new Float64Array(family.slots);
    for (let c = 0; c < family.slots; c++) for (let i = 0; i < d; i++) this.logJacobian[c] += Math.log(whitening[c * d + i]);
    this.G = new Float64Array(d);
    this.gradLogQ = new Float64Array(d);
  }

  /**
   * For chain c's draw t̃ (t[c·d …], component m, noise z|ε) at w = w* + t̃/a, with the posterior's
   * minibatch potential U(w) = −log p(w) and its gradient gradU[c·d …] (Posterior.gradient):
   * writes the chain's gradient block of `out` and returns f. `baseline` null skips the α score
   * term (no baseline yet).
   */
  gradient(c: number, params: Float64Array, m: number, noise: Float64Array, t: Float64Array, potential: number, gradU: FloatArray, baseline: number | null, out: Float64Array): number {
    const { family, whitening, G, gradLogQ } = this;
    const d = family.shape.d;
    // ∇_t̃ log p = (∇_w log p)/a = −∇U/a.
    for (let i = 0; i < d; i++) G[i] = -gradU[c * d + i] / whitening[c * d + i];
    const logP = -potential;
    const logQ = family.logDensity(c, params, t, c * d, gradLogQ) + this.logJacobian[c];
    for (let i = 0; i < d; i++) G[i] -= gradLogQ[i];
    out.fill(0, c * family.size, (c + 1) * family.size);
    family.pathwiseGradient(c, params, m, noise, t, c * d, G, out);
    const f = logP - logQ;
    if (baseline !== null) family.addAlphaScore(c, f - baseline, out);
    family.addWeightRegularisers(c, this.settings.dirichlet, this.settings.entropyBonus, out);
    this.lastLogP = logP;
    this.lastLogQ = logQ;
    return f;
  }
}

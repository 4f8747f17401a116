/**
 * Variational inference for λ̂ with a mixture of factor analysers (MFA; Ghahramani & Hinton 1996),
 * SPEC §4 "VI" — the reference's §6.4–6.5 with the defects of its Appendix B fixed.
 *
 * Target: the localized tempered posterior log p(w) = −nβ·L_n(w) − (γ/2)·‖w − w*‖² (+ const).
 * Family, per chain, in whitened coordinates t̃ = a⊙(w − w*) (a = 1 without whitening):
 *   q(t̃) = Σ_m π_m·N(t̃; 0, S(A_m A_mᵀ + I)S),   π = softmax(α/T),   S = diag(s),
 *   s = softplus(ρ) clipped to [1e-4, 1e2],  A_m ∈ R^{d×r} (columns beyond r_m held at zero),
 * sampled as m ~ Cat(π), z ~ N(0, I_r), ε ~ N(0, I_d), t̃ = s⊙(A_m z + ε). Component densities
 * use the matrix determinant lemma and the Woodbury identity with C_m = I_r + A_mᵀA_m (an r×r
 * Cholesky), so a density and its gradient cost O(M·d·r) and nothing d×d is ever formed.
 *
 * Fit: Adam *ascent* on the ELBO E_q[log p(w) − log q(w)], one draw per chain and step, with the
 * mean loss of B rows drawn with replacement standing in for L_n:
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
 * Adam (β 0.9/0.999, ε 1e-8); optional per-chain global-norm clipping (off in the preset: the
 * gradient's norm is heavy-tailed and grows with nβ and d, so a fixed threshold binds on most steps,
 * reweights them by 1/‖g‖ and moves the fixed point away from the ELBO's optimum; Adam's
 * normalisation already bounds each step); a linear warm-up, then a constant, cosine or linearly
 * decaying rate. After each step A's columns are capped at norm 10 (a projection that binds only
 * for a direction with 100× the variance of the diagonal part, as in the reference). The start
 * scale s₀ comes from a cheap curvature estimate (see `initialScales`), not the reference's ln 2.
 *
 * Estimate, per chain, from eval_samples draws v_s = w_s − w* of the fitted q, H = ∇²L_n(w*):
 *   Ê = mean_s[L_n(w_s) − ½·v_sᵀHv_s] + ½·tr(HΣ_q),   λ̂ = nβ·(Ê − L0),
 * an unbiased control variate because E_q[vvᵀ] = Σ_q = Σ_m π_m Σ_m exactly (every component has
 * mean w*). The trace is complete: Σ_m π_m Σ_j u_mjᵀHu_mj (u_mj = s⊙A_m[:, j]/a) plus the diagonal
 * part Σ_i (s_i/a_i)²·H_ii, which the reference left out. H·v comes from central differences of
 * full-data gradients; H_ii exactly from d unit vectors when d ≤ exact_trace_max_d, else from
 * Hutchinson's estimator with Rademacher probes. Central differences are a linear operator only
 * where the loss is smooth on the scale of the step; a ReLU kink closer to w* than that (common in
 * float32, whose step is ~5e-3) makes the operator direction-dependent and the control variate
 * biased. Two checks guard it: the first 8 draws' HVPs are repeated at half the step (a kink
 * changes the result by O(1), smoothness by O(h²)), and mean_s v_sᵀHv_s must match tr(HΣ_q)
 * within sampling error; λ̂ falls back to the plain Monte Carlo mean if either fails.
 *
 * The variational parameters and all of the family's algebra are float64; `dtype` sets the
 * kernel's precision (the network's forward and backward passes).
 */
import { z } from 'zod';
import type { LossKernel } from '../kernels/types';
import type { FloatArray } from '../mlp';
import { fillBelow, fillNormal, fillUniform, fold, Key } from '../rng';
import { RUN_KEY } from './loop';
import type { Progress, SamplerModule, SamplerResult, SamplingProblem } from './types';

const options = z
  .strictObject({
    M: z.int().min(1).max(64),
    r: z.int().min(1).max(64),
    steps: z.int().min(1),
    batch_size: z.int().min(1),
    lr: z.number().positive(),
    eval_samples: z.int().min(2),
    dtype: z.enum(['float32', 'float64']),
    whitening_mode: z.enum(['none', 'rmsprop', 'adam']),
    whitening_decay: z.number().min(0).lt(1),
    clip_global_norm: z.number().positive().nullable(),
    alpha_temperature: z.number().positive(),
    r_per_component: z.array(z.int().min(0)).nullable(),
    alpha_dirichlet_prior: z.number().positive().nullable(),
    lr_schedule: z.enum(['cosine', 'linear_decay']).nullable(),
    lr_warmup_frac: z.number().min(0).lt(1),
    entropy_bonus: z.number().min(0),
    control_variate: z.boolean(),
    exact_trace_max_d: z.int().min(0),
    trace_probes: z.int().min(1),
    chains: z.int().min(1).max(1024),
  })
  .superRefine((o, ctx) => {
    const ranks = o.r_per_component;
    if (ranks === null) return;
    if (ranks.length !== o.M)
      ctx.addIssue({ code: 'custom', path: ['r_per_component'], message: `has ${ranks.length} entries but M is ${o.M}: give one rank per component` });
    ranks.forEach((rank, m) => {
      if (rank > o.r) ctx.addIssue({ code: 'custom', path: ['r_per_component', m], message: `is ${rank}, more than r (${o.r})` });
    });
  });
export type ViOptions = z.infer<typeof options>;

const LOG_2PI = Math.log(2 * Math.PI);
const SCALE_MIN = 1e-4;
const SCALE_MAX = 1e2;
const LOG_BLOCK = 32;
const A_INIT_SCALE = 0.05;
const A_COLUMN_CAP = 10;
const ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
const BASELINE_DECAY = 0.99;
/** Floor under the whitening second moment (the reference's), so a coordinate whose gradient never moves keeps a finite scale. */
const WHITENING_FLOOR = 1e-8;
/** The reporter throttles what is shown; this only keeps the callback off the hot path. */
const PROGRESS_EVERY_MS = 100;
/** Largest |z| of mean_s v_sᵀHv_s against tr(HΣ_q) at which the control variate is trusted (a 6e-5 false-alarm rate). */
const CV_CONSISTENCY_Z = 4;
/**
 * Eval draws per chain whose HVP is repeated at half the step: for a smooth loss the two central
 * differences agree to O(h²) (~1e-5), across a ReLU kink they differ by O(1).
 */
const LINEARITY_CHECKS = 8;
const LINEARITY_TOL = 1e-2;

/** Key tags under each chain's key. */
const TAG = { init: 0, whitening: 1, optimisation: 2, evaluation: 3, probes: 4, initScale: 5 } as const;
/** Hutchinson probes per chain for the starting scale (2 minibatch gradients each). */
const INIT_PROBES = 8;

function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** In-place Cholesky of the r×r matrix at `off` (lower triangle read and written); returns log det. */
function cholesky(c: Float64Array, off: number, r: number): number {
  let logDet = 0;
  for (let j = 0; j < r; j++) {
    let diag = c[off + j * r + j];
    for (let k = 0; k < j; k++) diag -= c[off + j * r + k] ** 2;
    const ljj = Math.sqrt(diag);
    c[off + j * r + j] = ljj;
    logDet += 2 * Math.log(ljj);
    for (let i = j + 1; i < r; i++) {
      let v = c[off + i * r + j];
      for (let k = 0; k < j; k++) v -= c[off + i * r + k] * c[off + j * r + k];
      c[off + i * r + j] = v / ljj;
    }
  }
  return logDet;
}

/** Solves L·Lᵀ·y = g for the first `n` unknowns of the factor at `off` (a leading block of a Cholesky factor is the factor of the leading block). */
function choleskySolve(l: Float64Array, off: number, r: number, n: number, g: Float64Array, y: Float64Array, yOff: number): void {
  for (let i = 0; i < n; i++) {
    let v = g[i];
    for (let k = 0; k < i; k++) v -= l[off + i * r + k] * y[yOff + k];
    y[yOff + i] = v / l[off + i * r + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let v = y[yOff + i];
    for (let k = i + 1; k < n; k++) v -= l[off + k * r + i] * y[yOff + k];
    y[yOff + i] = v / l[off + i * r + i];
  }
}

export interface MfaShape {
  d: number;
  M: number;
  r: number;
  /** Rank of each component (≤ r); columns beyond it stay zero. */
  ranks: readonly number[];
  /** T in π = softmax(α/T). */
  temperature: number;
}

/**
 * The MFA family for `slots` independent parameter blocks (one per chain). A block is
 * [ρ (d) | A (M × d × r, row i of component m at (m·d + i)·r) | α (M)], at slot·size in the
 * parameter array. `prepare` caches what a block's densities share (scales, Cholesky factors,
 * log-weights); the other methods read that cache, so call it after every parameter change.
 */
export class MfaFamily {
  readonly size: number;
  readonly aOffset: number;
  readonly alphaOffset: number;
  /** π per slot (slots × M), set by `prepare`. */
  readonly pi: Float64Array;
  /** Responsibilities r(t̃) per slot (slots × M), set by `logDensity`. */
  readonly resp: Float64Array;
  private readonly scale: Float64Array;
  private readonly logScaleSums: Float64Array;
  private readonly chol: Float64Array;
  private readonly logNorm: Float64Array;
  private readonly logPi: Float64Array;
  private readonly x: Float64Array;
  private readonly proj: Float64Array;
  private readonly y: Float64Array;

  constructor(
    readonly shape: MfaShape,
    readonly slots: number,
  ) {
    const { d, M, r, ranks } = shape;
    if (ranks.length !== M || ranks.some((k) => k < 0 || k > r)) throw new RangeError(`ranks must be ${M} integers in [0, ${r}], got [${ranks.join(', ')}]`);
    this.aOffset = d;
    this.alphaOffset = d + M * d * r;
    this.size = this.alphaOffset + M;
    this.pi = new Float64Array(slots * M);
    this.resp = new Float64Array(slots * M);
    this.scale = new Float64Array(slots * d);
    this.logScaleSums = new Float64Array(slots);
    this.chol = new Float64Array(slots * M * r * r);
    this.logNorm = new Float64Array(slots * M);
    this.logPi = new Float64Array(slots * M);
    this.x = new Float64Array(d);
    this.proj = new Float64Array(r);
    this.y = new Float64Array(M * r);
  }

  /**
   * s = `initialScale` in every coordinate (ρ = softplus⁻¹), A = 0.05·N(0, 1) with capped columns
   * and α = 0 (the reference's A and α; its s = ln 2 is `initialScale`'s upper bound).
   */
  init(slot: number, params: Float64Array, initialScale: number, key: Key): void {
    const { d, M, r, ranks } = this.shape;
    const off = slot * this.size;
    params.fill(0, off, off + this.size);
    params.fill(Math.log(Math.expm1(initialScale)), off, off + d);
    const noise = new Float64Array(M * d * r);
    fillNormal(key, noise);
    for (let m = 0; m < M; m++)
      for (let i = 0; i < d; i++)
        for (let j = 0; j < ranks[m]; j++) params[off + this.aOffset + (m * d + i) * r + j] = A_INIT_SCALE * noise[(m * d + i) * r + j];
    this.capColumns(slot, params);
  }

  prepare(slot: number, params: Float64Array): void {
    const { d, M, r, ranks, temperature } = this.shape;
    const off = slot * this.size;
    const scale = this.scale;
    const chol = this.chol;
    // Σ log s from products of LOG_BLOCK scales (each in [1e-4, 1e2], so a block stays far from
    // under- and overflow): one logarithm per block instead of one per coordinate.
    let logScaleSum = 0;
    let product = 1;
    for (let i = 0; i < d; i++) {
      const s = Math.min(SCALE_MAX, Math.max(SCALE_MIN, softplus(params[off + i])));
      scale[slot * d + i] = s;
      product *= s;
      if ((i + 1) % LOG_BLOCK === 0) {
        logScaleSum += Math.log(product);
        product = 1;
      }
    }
    logScaleSum += Math.log(product);
    this.logScaleSums[slot] = logScaleSum;
    for (let m = 0; m < M; m++) {
      // C_m = I + A_mᵀA_m (lower triangle), accumulated row by row of A_m.
      const c = (slot * M + m) * r * r;
      chol.fill(0, c, c + r * r);
      const rank = ranks[m];
      const base = off + this.aOffset + m * d * r;
      const end = base + d * r;
      for (let j = 0; j < rank; j++) {
        for (let k = 0; k <= j; k++) {
          let dot = 0;
          for (let row = base; row < end; row += r) dot += params[row + j] * params[row + k];
          chol[c + j * r + k] = dot;
        }
      }
      for (let j = 0; j < r; j++) chol[c + j * r + j] += 1;
      const logDetC = cholesky(chol, c, r);
      this.logNorm[slot * M + m] = -0.5 * (d * LOG_2PI + 2 * logScaleSum + logDetC);
    }
    const alpha = off + this.alphaOffset;
    let maxLogit = -Infinity;
    for (let m = 0; m < M; m++) maxLogit = Math.max(maxLogit, params[alpha + m] / temperature);
    let total = 0;
    for (let m = 0; m < M; m++) total += Math.exp(params[alpha + m] / temperature - maxLogit);
    const logTotal = maxLogit + Math.log(total);
    for (let m = 0; m < M; m++) {
      const lp = params[alpha + m] / temperature - logTotal;
      this.logPi[slot * M + m] = lp;
      this.pi[slot * M + m] = Math.exp(lp);
    }
  }

  /** s (clipped) of a prepared slot. */
  scales(slot: number): Float64Array {
    return this.scale.subarray(slot * this.shape.d, (slot + 1) * this.shape.d);
  }

  /** Σ_i log s_i of a prepared slot. */
  logScaleSum(slot: number): number {
    return this.logScaleSums[slot];
  }

  /**
   * t̃ = s⊙(A_m z + ε) into out[outOff …], with m the component whose cumulative weight first
   * exceeds `uniform`; `noise` holds z (r entries) then ε (d entries). Returns m.
   */
  sample(slot: number, params: Float64Array, uniform: number, noise: Float64Array, out: Float64Array, outOff: number): number {
    const { d, M, r, ranks } = this.shape;
    let m = 0;
    let cumulative = this.pi[slot * M];
    while (m < M - 1 && uniform >= cumulative) cumulative += this.pi[slot * M + ++m];
    const base = slot * this.size + this.aOffset + m * d * r;
    const rank = ranks[m];
    for (let i = 0; i < d; i++) {
      let u = noise[r + i];
      for (let j = 0; j < rank; j++) u += params[base + i * r + j] * noise[j];
      out[outOff + i] = this.scale[slot * d + i] * u;
    }
    return m;
  }

  /**
   * log q(t̃) for t̃ = t[tOff …]; fills `resp` for the slot and, when `grad` is given, ∇_t̃ log q.
   * With x = t̃/s, g = A_mᵀx and y = C_m⁻¹g: Σ_m⁻¹t̃ = (x − A_m y)/s and xᵀ(A_mA_mᵀ + I)⁻¹x = xᵀx − gᵀy.
   */
  logDensity(slot: number, params: Float64Array, t: Float64Array, tOff: number, grad: Float64Array | null): number {
    const { d, M, r, ranks } = this.shape;
    const { x, proj, y, resp } = this;
    const scale = this.scale;
    const sOff = slot * d;
    let xx = 0;
    for (let i = 0; i < d; i++) {
      const xi = t[tOff + i] / scale[sOff + i];
      x[i] = xi;
      xx += xi * xi;
    }
    let maxLog = -Infinity;
    for (let m = 0; m < M; m++) {
      const rank = ranks[m];
      const base = slot * this.size + this.aOffset + m * d * r;
      const end = base + d * r;
      for (let j = 0; j < rank; j++) {
        let dot = 0;
        for (let row = base + j, i = 0; row < end; row += r, i++) dot += params[row] * x[i];
        proj[j] = dot;
      }
      choleskySolve(this.chol, (slot * M + m) * r * r, r, rank, proj, y, m * r);
      let reduction = 0;
      for (let j = 0; j < rank; j++) reduction += proj[j] * y[m * r + j];
      const logJoint = this.logPi[slot * M + m] + this.logNorm[slot * M + m] - 0.5 * (xx - reduction);
      resp[slot * M + m] = logJoint;
      maxLog = Math.max(maxLog, logJoint);
    }
    let total = 0;
    for (let m = 0; m < M; m++) total += Math.exp(resp[slot * M + m] - maxLog);
    const logQ = maxLog + Math.log(total);
    for (let m = 0; m < M; m++) resp[slot * M + m] = Math.exp(resp[slot * M + m] - logQ);
    if (grad) {
      // ∇_t̃ log q = −Σ_m r_m Σ_m⁻¹t̃ = −(x − Σ_m r_m A_m y_m)/s: accumulate Σ_m A_m(r_m y_m) into x.
      for (let m = 0; m < M; m++) {
        const rank = ranks[m];
        const rm = resp[slot * M + m];
        if (rank === 0 || rm === 0) continue;
        const base = slot * this.size + this.aOffset + m * d * r;
        const end = base + d * r;
        for (let j = 0; j < rank; j++) {
          const coef = rm * y[m * r + j];
          for (let at = base + j, i = 0; at < end; at += r, i++) x[i] -= params[at] * coef;
        }
      }
      for (let i = 0; i < d; i++) grad[i] = -x[i] / scale[sOff + i];
    }
    return logQ;
  }

  /**
   * Writes the pathwise gradient (∂t̃/∂ρ, ∂t̃/∂A)ᵀG of the sample t̃ = s⊙(A_m z + ε) into the slot's
   * ρ entries and component m's A entries of `out` (the others are left as they are).
   * ∂t̃_i/∂ρ_i = (t̃_i/s_i)·sigmoid(ρ_i): the derivative passes through the clip of s, so that a
   * coordinate pushed to a bound is not frozen there. ∂t̃_i/∂A_m[i, j] = s_i z_j.
   */
  pathwiseGradient(slot: number, params: Float64Array, m: number, noise: Float64Array, t: Float64Array, tOff: number, G: Float64Array, out: Float64Array): void {
    const { d, r, ranks } = this.shape;
    const off = slot * this.size;
    const rank = ranks[m];
    for (let i = 0; i < d; i++) {
      const s = this.scale[slot * d + i];
      out[off + i] = ((G[i] * t[tOff + i]) / s) * sigmoid(params[off + i]);
      const row = off + this.aOffset + (m * d + i) * r;
      const gs = G[i] * s;
      for (let j = 0; j < rank; j++) out[row + j] = gs * noise[j];
    }
  }

  /** Adds weight·∇_α log q(t̃) = weight·(r − π)/T to the α entries of `out` (after `logDensity`). */
  addAlphaScore(slot: number, weight: number, out: Float64Array): void {
    const { M, temperature } = this.shape;
    const off = slot * this.size + this.alphaOffset;
    for (let m = 0; m < M; m++) out[off + m] += (weight * (this.resp[slot * M + m] - this.pi[slot * M + m])) / temperature;
  }

  /**
   * Adds the gradient of the weight regularisers (α₀ − 1)·Σ_m log π_m (a Dirichlet(α₀) prior on π)
   * and λ·H(π) (an entropy bonus). With ∂π_m/∂α_k = π_m(δ_mk − π_k)/T these are
   * (α₀ − 1)(1 − Mπ_k)/T and λ·π_k(Σ_m π_m log π_m − log π_k)/T.
   */
  addWeightRegularisers(slot: number, dirichlet: number | null, entropyBonus: number, out: Float64Array): void {
    if (dirichlet === null && entropyBonus === 0) return;
    const { M, temperature } = this.shape;
    const off = slot * this.size + this.alphaOffset;
    let piLogPi = 0;
    for (let m = 0; m < M; m++) piLogPi += this.pi[slot * M + m] * this.logPi[slot * M + m];
    for (let k = 0; k < M; k++) {
      const pk = this.pi[slot * M + k];
      let g = entropyBonus * pk * (piLogPi - this.logPi[slot * M + k]);
      if (dirichlet !== null) g += (dirichlet - 1) * (1 - M * pk);
      out[off + k] += g / temperature;
    }
  }

  /** Scales every column of every A_m down to a norm of at most 10. */
  capColumns(slot: number, params: Float64Array): void {
    const { d, M, r, ranks } = this.shape;
    for (let m = 0; m < M; m++) {
      const base = slot * this.size + this.aOffset + m * d * r;
      const end = base + d * r;
      for (let j = 0; j < ranks[m]; j++) {
        let sq = 0;
        for (let at = base + j; at < end; at += r) sq += params[at] * params[at];
        const norm = Math.sqrt(sq);
        if (norm <= A_COLUMN_CAP) continue;
        const shrink = A_COLUMN_CAP / norm;
        for (let at = base + j; at < end; at += r) params[at] *= shrink;
      }
    }
  }
}

export interface ObjectiveSettings {
  nBeta: number;
  gamma: number;
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
   * For chain c's draw t̃ (t[c·d …], component m, noise z|ε) with minibatch loss `loss` and its
   * gradient lossGrad[c·d …] at w = w* + t̃/a: writes the chain's gradient block of `out` and
   * returns f. `baseline` null skips the α score term (no baseline yet).
   */
  gradient(c: number, params: Float64Array, m: number, noise: Float64Array, t: Float64Array, loss: number, lossGrad: FloatArray, baseline: number | null, out: Float64Array): number {
    const { family, whitening, G, gradLogQ } = this;
    const { nBeta, gamma } = this.settings;
    const d = family.shape.d;
    // ∇_t̃ log p = (∇_w log p)/a, with ∇_w log p = −nβ·∇L_B − γ(w − w*).
    let sq = 0;
    for (let i = 0; i < d; i++) {
      const a = whitening[c * d + i];
      const v = t[c * d + i] / a;
      sq += v * v;
      G[i] = (-nBeta * lossGrad[c * d + i] - gamma * v) / a;
    }
    const logP = -nBeta * loss - 0.5 * gamma * sq;
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

/** The learning rate at step t (0-based): a linear warm-up over ⌊lr_warmup_frac·steps⌋ steps, then constant, cosine or linear decay to 0. */
export function learningRate(o: Pick<ViOptions, 'lr' | 'steps' | 'lr_schedule' | 'lr_warmup_frac'>, t: number): number {
  const warmup = Math.floor(o.lr_warmup_frac * o.steps);
  if (t < warmup) return (o.lr * (t + 1)) / warmup;
  if (o.lr_schedule === null) return o.lr;
  const progress = (t - warmup) / (o.steps - warmup);
  return o.lr_schedule === 'cosine' ? 0.5 * o.lr * (1 + Math.cos(Math.PI * progress)) : o.lr * (1 - progress);
}

/** Number of minibatch gradients in the whitening pre-pass (the reference's rule). */
export function whiteningSteps(o: Pick<ViOptions, 'whitening_mode' | 'steps'>): number {
  return o.whitening_mode === 'none' ? 0 : Math.min(1000, Math.max(500, Math.floor(o.steps / 10)));
}

/**
 * The diagonal whitening a = v^{1/4} (chains × d), v a decayed second moment of minibatch loss
 * gradients at w*, one independent estimate per chain. `rmsprop` starts v at 1 without bias
 * correction (SPEC §4's RMSprop; the 1 lingers as decay^S, ≈ 0.007 at the defaults, and floors v
 * where gradients are small); `adam` is Adam's second-moment estimate, started at 0 and bias
 * corrected, so v is the plain average of g² however small. (The reference's `adam` also kept a
 * first moment it never used, making both modes identical; a diagonal whitener is a scale, so a
 * first moment has no role in it.) Each chain's a is then divided by its geometric mean: q's family
 * is unchanged by a common factor in a (s absorbs it), so the factor — the arbitrary magnitude of
 * the loss gradients — would only distort the reported scales and the cap of the starting scale.
 */
function whiteningScales(kernel: LossKernel, center: FloatArray, o: ViOptions, keys: Key[], a: Float64Array): void {
  const S = whiteningSteps(o);
  if (S === 0) {
    a.fill(1);
    return;
  }
  const { d, n, chains } = kernel;
  const B = o.batch_size;
  const positions = kernel.array(chains * d);
  for (let c = 0; c < chains; c++) positions.set(center, c * d);
  const rows = new Int32Array(chains * B);
  const rowViews = keys.map((_, c) => rows.subarray(c * B, (c + 1) * B));
  const grad = kernel.array(chains * d);
  const loss = new Float64Array(chains);
  const v = a; // accumulate v in place, then map it to v^{1/4}
  v.fill(o.whitening_mode === 'rmsprop' ? 1 : 0);
  const decay = o.whitening_decay;
  for (let t = 0; t < S; t++) {
    for (let c = 0; c < chains; c++) fillBelow(fold(keys[c], t), n, rowViews[c]);
    kernel.lossGrad(positions, rows, B, grad, loss);
    for (let i = 0; i < chains * d; i++) v[i] = decay * v[i] + (1 - decay) * grad[i] * grad[i];
  }
  const correction = o.whitening_mode === 'adam' ? 1 - Math.pow(decay, S) : 1;
  for (let c = 0; c < chains; c++) {
    let meanLog = 0;
    for (let i = c * d; i < (c + 1) * d; i++) {
      a[i] = Math.pow(v[i] / correction + WHITENING_FLOOR, 0.25);
      meanLog += Math.log(a[i]) / d;
    }
    const geometricMean = Math.exp(meanLog);
    for (let i = c * d; i < (c + 1) * d; i++) a[i] /= geometricMean;
  }
}

/**
 * Hessian-vector products at w* by central differences of gradients, every chain slot of the kernel
 * carrying one direction: H·v ≈ ‖v‖·(∇L(w* + h·v̂) − ∇L(w* − h·v̂))/(2h), v̂ = v/‖v‖; of L_n with
 * full-data gradients, or of a minibatch loss (an unbiased estimate of H·v) when given rows.
 * The step balances truncation (O(h²), third derivatives) against rounding (O(ε_mach/h)):
 * h = ε_mach^{1/3}·(1 + rms(w*)), about 5e-3 in float32 and 6e-6 in float64 for unit-scale weights.
 */
export class CentralDifferenceHessian {
  readonly step: number;
  /** Gradients computed so far, every slot of every call counted. */
  gradients = 0;
  private readonly plus: FloatArray;
  private readonly minus: FloatArray;
  private readonly gradPlus: FloatArray;
  private readonly gradMinus: FloatArray;
  private readonly loss: Float64Array;
  private readonly norms: Float64Array;

  constructor(
    readonly kernel: LossKernel,
    private readonly center: FloatArray,
  ) {
    const { d, chains, dtype } = kernel;
    let sq = 0;
    for (let i = 0; i < d; i++) sq += center[i] * center[i];
    const machineEps = dtype === 'float32' ? 2 ** -23 : 2 ** -52;
    this.step = Math.cbrt(machineEps) * (1 + Math.sqrt(sq / d));
    this.plus = kernel.array(chains * d);
    this.minus = kernel.array(chains * d);
    this.gradPlus = kernel.array(chains * d);
    this.gradMinus = kernel.array(chains * d);
    this.loss = new Float64Array(chains);
    this.norms = new Float64Array(chains);
  }

  /**
   * out[c·d …] = H·directions[c·d …] for every slot c (a zero direction gives zero); `rows`: per-slot
   * minibatches of `batch` rows; `h`: the difference step, `step` unless testing linearity.
   */
  apply(directions: Float64Array, out: Float64Array, rows: Int32Array | null = null, batch = this.kernel.n, h = this.step): void {
    const { d, chains } = this.kernel;
    for (let c = 0; c < chains; c++) {
      let sq = 0;
      for (let i = 0; i < d; i++) sq += directions[c * d + i] ** 2;
      const norm = Math.sqrt(sq);
      this.norms[c] = norm;
      const scale = norm > 0 ? h / norm : 0;
      for (let i = 0; i < d; i++) {
        this.plus[c * d + i] = this.center[i] + scale * directions[c * d + i];
        this.minus[c * d + i] = this.center[i] - scale * directions[c * d + i];
      }
    }
    this.kernel.lossGrad(this.plus, rows, batch, this.gradPlus, this.loss);
    this.kernel.lossGrad(this.minus, rows, batch, this.gradMinus, this.loss);
    this.gradients += 2 * chains;
    for (let c = 0; c < chains; c++) {
      const factor = this.norms[c] / (2 * h);
      for (let i = 0; i < d; i++) out[c * d + i] = factor * (this.gradPlus[c * d + i] - this.gradMinus[c * d + i]);
    }
  }
}

/**
 * Each chain's starting scale s₀ = 1/√(mean diagonal of the whitened posterior precision),
 * nβ·tr(Ã⁻¹HÃ⁻¹)/d + γ·mean(1/a²) with Ã = diag(a), tr(·) from Hutchinson's estimator with
 * `probes` Rademacher probes on minibatch HVPs (2 minibatch gradients each), capped at ln 2 (the
 * reference's start, also the fallback when the estimate is not positive). Why: the ρ-gradient
 * grows like (posterior precision)·s², so a start 10× too wide (the reference's ln 2 against a
 * posterior scale of ~0.06 at n = 1000) makes the first gradients ~100× their size near the
 * optimum; Adam's second moment (β₂ = 0.999) remembers them for thousands of steps and the fit
 * stalls short of the optimum (linear regression: λ̂ 10% high after 5000 steps). A start near the
 * mean scale keeps gradients O(1); coordinates it starts too narrow get bounded gradients (the
 * entropy's push 1 − precision·s² ≤ 1) and widen at Adam's pace.
 */
export function initialScales(
  hessian: CentralDifferenceHessian,
  whitening: Float64Array,
  nBeta: number,
  gamma: number,
  batch: number,
  probes: number,
  keys: Key[],
): Float64Array {
  const { d, n, chains } = hessian.kernel;
  const directions = new Float64Array(chains * d);
  const hv = new Float64Array(chains * d);
  const signs = new Int32Array(d);
  const rows = new Int32Array(chains * batch);
  const rowViews = keys.map((_, c) => rows.subarray(c * batch, (c + 1) * batch));
  const curvature = new Float64Array(chains);
  for (let p = 0; p < probes; p++) {
    for (let c = 0; c < chains; c++) {
      fillBelow(fold(keys[c], p, 0), 2, signs);
      fillBelow(fold(keys[c], p, 1), n, rowViews[c]);
      for (let i = 0; i < d; i++) directions[c * d + i] = (2 * signs[i] - 1) / whitening[c * d + i];
    }
    hessian.apply(directions, hv, rows, batch);
    for (let c = 0; c < chains; c++) {
      let q = 0;
      for (let i = 0; i < d; i++) q += directions[c * d + i] * hv[c * d + i];
      curvature[c] += q / (probes * d);
    }
  }
  return curvature.map((h, c) => {
    let localizer = 0;
    for (let i = 0; i < d; i++) localizer += gamma / (d * whitening[c * d + i] ** 2);
    const precision = nBeta * Math.max(0, h) + localizer;
    return precision > 0 ? Math.min(Math.LN2, 1 / Math.sqrt(precision)) : Math.LN2;
  });
}

export interface CovarianceTrace {
  /** Σ_m π_m Σ_j u_mjᵀHu_mj per chain. */
  lowRank: Float64Array;
  /** Σ_i (s_i/a_i)²·H_ii per chain (exact, or Hutchinson's estimate). */
  diagonal: Float64Array;
  method: 'exact' | 'hutchinson';
}

/**
 * tr(H·Σ_q) in model coordinates for every chain's (prepared) q, Σ_q = Σ_m π_m Σ_m with
 * Σ_m = diag(s/a)(A_mA_mᵀ + I)diag(s/a): the low-rank part through the HVPs of u_mj = s⊙A_m[:, j]/a,
 * the diagonal part from H_ii. Exactly, H_ii = e_iᵀHe_i, shared by all chains (⌈d/chains⌉ HVP
 * calls); otherwise each chain averages (Dz)ᵀH(Dz) over `probes` Rademacher z, D = diag(s/a),
 * an unbiased estimate of Σ_i D_ii²H_ii (Hutchinson 1990) whose error comes only from H's
 * off-diagonal entries.
 */
export function covarianceTrace(
  hessian: CentralDifferenceHessian,
  family: MfaFamily,
  params: Float64Array,
  whitening: Float64Array,
  exactMaxD: number,
  probes: number,
  probeKeys: Key[],
): CovarianceTrace {
  const { d, M, r, ranks } = family.shape;
  const chains = family.slots;
  const directions = new Float64Array(chains * d);
  const hv = new Float64Array(chains * d);
  const quadratic = (c: number): number => {
    let q = 0;
    for (let i = 0; i < d; i++) q += directions[c * d + i] * hv[c * d + i];
    return q;
  };
  const lowRank = new Float64Array(chains);
  for (let m = 0; m < M; m++) {
    for (let j = 0; j < ranks[m]; j++) {
      for (let c = 0; c < chains; c++) {
        const s = family.scales(c);
        const row = c * family.size + family.aOffset + m * d * r;
        for (let i = 0; i < d; i++) directions[c * d + i] = (s[i] * params[row + i * r + j]) / whitening[c * d + i];
      }
      hessian.apply(directions, hv);
      for (let c = 0; c < chains; c++) lowRank[c] += family.pi[c * M + m] * quadratic(c);
    }
  }
  const diagonal = new Float64Array(chains);
  if (d <= exactMaxD) {
    const hDiag = new Float64Array(d);
    for (let first = 0; first < d; first += chains) {
      directions.fill(0);
      for (let c = 0; c < chains && first + c < d; c++) directions[c * d + first + c] = 1;
      hessian.apply(directions, hv);
      for (let c = 0; c < chains && first + c < d; c++) hDiag[first + c] = hv[c * d + first + c];
    }
    for (let c = 0; c < chains; c++) {
      const s = family.scales(c);
      for (let i = 0; i < d; i++) diagonal[c] += (s[i] / whitening[c * d + i]) ** 2 * hDiag[i];
    }
    return { lowRank, diagonal, method: 'exact' };
  }
  const signs = new Int32Array(d);
  for (let p = 0; p < probes; p++) {
    for (let c = 0; c < chains; c++) {
      fillBelow(fold(probeKeys[c], p), 2, signs);
      const s = family.scales(c);
      for (let i = 0; i < d; i++) directions[c * d + i] = ((2 * signs[i] - 1) * s[i]) / whitening[c * d + i];
    }
    hessian.apply(directions, hv);
    for (let c = 0; c < chains; c++) diagonal[c] += quadratic(c) / probes;
  }
  return { lowRank, diagonal, method: 'hutchinson' };
}

/** One Adam step *up* the gradient on [from, to): θ += lr·m̂/(√v̂ + ε), the gradient first scaled by `clip`. */
function adamAscent(params: Float64Array, grad: Float64Array, m: Float64Array, v: Float64Array, from: number, to: number, clip: number, stepScale: number, vScale: number): void {
  const { beta1, beta2, eps } = ADAM;
  for (let k = from; k < to; k++) {
    const g = clip * grad[k];
    const mk = beta1 * m[k] + (1 - beta1) * g;
    const vk = beta2 * v[k] + (1 - beta2) * g * g;
    m[k] = mk;
    v[k] = vk;
    params[k] += (stepScale * mk) / (Math.sqrt(vk * vScale) + eps);
  }
}

/**
 * Per-step, per-chain optimisation curves, at the parameters the step's draw was made with: `elbo`
 * the one-draw ELBO estimate log p(w) − log q(w), unbiased with the minibatch in log p (log p
 * unnormalised: the ELBO is below log Z of exp(−nβ·L_n − γ‖w − w*‖²/2)); `grad_norm` before
 * clipping; `loss_batch` L_B(w); `log_q` log q(w);
 * `scale_geomean` the geometric mean of s/a (q's diagonal scale in model coordinates); `pi_entropy` H(π).
 */
const CURVES = ['elbo', 'grad_norm', 'loss_batch', 'log_q', 'scale_geomean', 'pi_entropy'] as const;

function reporter(progress: Progress | undefined) {
  let last = performance.now();
  return (phase: 'warmup' | 'sampling', done: number, total: number, llc?: number) => {
    const now = performance.now();
    // Each phase's first and last report always pass: they time the phase.
    if (progress && (now - last >= PROGRESS_EVERY_MS || done === 0 || done === total)) {
      last = now;
      progress({ phase, done, total, llc });
    }
  };
}

function variance(xs: Float64Array): number {
  let mean = 0;
  for (const x of xs) mean += x / xs.length;
  let sq = 0;
  for (const x of xs) sq += (x - mean) ** 2;
  return sq / (xs.length - 1);
}

function spread(xs: ArrayLike<number>): { min: number; median: number; max: number } {
  const sorted = Float64Array.from(xs).sort();
  const mid = sorted.length >> 1;
  return { min: sorted[0], median: sorted.length % 2 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]), max: sorted[sorted.length - 1] };
}

/** JSON has no Infinity or NaN: such values become null. */
function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

export const vi: SamplerModule<typeof options> = {
  options,

  precision: (o) => ({ dtype: o.dtype, chains: o.chains, maxBatch: o.batch_size }),

  run(problem: SamplingProblem, o: ViOptions, key: Key, progress?: Progress): SamplerResult {
    const start = performance.now();
    const report = reporter(progress);
    const { kernel, center, temperature, L0 } = problem;
    const { nBeta, gamma } = temperature;
    const { d, n, chains } = kernel;
    const B = o.batch_size;
    const { M, r, steps } = o;
    const ranks = o.r_per_component ?? Array<number>(M).fill(r);
    const family = new MfaFamily({ d, M, r, ranks, temperature: o.alpha_temperature }, chains);
    const P = family.size;
    // Each chain is an independent fit under its own key, so chain c's result does not depend on how many chains run beside it.
    const chainKeys = Array.from({ length: chains }, (_, c) => fold(key, RUN_KEY.sampler, c));
    const keysFor = (tag: number) => chainKeys.map((k) => fold(k, tag));

    // --- Whitening pre-pass and initialisation.
    const whitening = new Float64Array(chains * d);
    whiteningScales(kernel, center, o, keysFor(TAG.whitening), whitening);
    const prepassSteps = whiteningSteps(o);
    const objective = new MfaObjective(family, whitening, { nBeta, gamma, dirichlet: o.alpha_dirichlet_prior, entropyBonus: o.entropy_bonus });
    const initHessian = new CentralDifferenceHessian(kernel, center);
    const startScales = initialScales(initHessian, whitening, nBeta, gamma, B, INIT_PROBES, keysFor(TAG.initScale));
    const params = new Float64Array(chains * P);
    keysFor(TAG.init).forEach((k, c) => family.init(c, params, startScales[c], k));

    // --- Optimisation: all chains advance together, one kernel call per step.
    const optKeys = keysFor(TAG.optimisation);
    const grad = new Float64Array(chains * P);
    const adamM = new Float64Array(chains * P);
    const adamV = new Float64Array(chains * P);
    const draws = new Float64Array(chains * d);
    const positions = kernel.array(chains * d);
    const lossGrad = kernel.array(chains * d);
    const lossBatch = new Float64Array(chains);
    const rows = new Int32Array(chains * B);
    const rowViews = chainKeys.map((_, c) => rows.subarray(c * B, (c + 1) * B));
    const noise = new Float64Array(chains * (r + d));
    const noiseViews = chainKeys.map((_, c) => noise.subarray(c * (r + d), (c + 1) * (r + d)));
    const uniform = new Float64Array(1);
    const components = new Int32Array(chains);
    const baselineSum = new Float64Array(chains);
    const curves = Object.fromEntries(CURVES.map((name) => [name, new Float64Array(chains * steps)])) as Record<(typeof CURVES)[number], Float64Array>;

    report('warmup', 0, steps);
    for (let t = 0; t < steps; t++) {
      for (let c = 0; c < chains; c++) {
        const stepKey = fold(optKeys[c], t);
        fillBelow(fold(stepKey, 0), n, rowViews[c]);
        fillUniform(fold(stepKey, 1), uniform);
        fillNormal(fold(stepKey, 2), noiseViews[c]);
        family.prepare(c, params);
        components[c] = family.sample(c, params, uniform[0], noiseViews[c], draws, c * d);
        for (let i = 0; i < d; i++) positions[c * d + i] = center[i] + draws[c * d + i] / whitening[c * d + i];
      }
      kernel.lossGrad(positions, rows, B, lossGrad, lossBatch);
      const lr = learningRate(o, t);
      const bias1 = 1 - Math.pow(ADAM.beta1, t + 1);
      const bias2 = 1 - Math.pow(ADAM.beta2, t + 1);
      const baselineBias = 1 - Math.pow(BASELINE_DECAY, t);
      for (let c = 0; c < chains; c++) {
        const baseline = t === 0 ? null : baselineSum[c] / baselineBias;
        const f = objective.gradient(c, params, components[c], noiseViews[c], draws, lossBatch[c], lossGrad, baseline, grad);
        baselineSum[c] = BASELINE_DECAY * baselineSum[c] + (1 - BASELINE_DECAY) * f;
        let sq = 0;
        for (let k = c * P; k < (c + 1) * P; k++) sq += grad[k] * grad[k];
        const norm = Math.sqrt(sq);
        const clip = o.clip_global_norm === null ? 1 : Math.min(1, o.clip_global_norm / (norm + 1e-8));
        adamAscent(params, grad, adamM, adamV, c * P, (c + 1) * P, clip, lr / bias1, 1 / bias2);
        family.capColumns(c, params);
        let piEntropy = 0;
        for (let m = 0; m < M; m++) piEntropy -= family.pi[c * M + m] > 0 ? family.pi[c * M + m] * Math.log(family.pi[c * M + m]) : 0;
        const at = c * steps + t;
        curves.elbo[at] = f;
        curves.grad_norm[at] = norm;
        curves.loss_batch[at] = lossBatch[c];
        curves.log_q[at] = objective.lastLogQ;
        curves.scale_geomean[at] = Math.exp((family.logScaleSum(c) - objective.logJacobian[c]) / d);
        curves.pi_entropy[at] = piEntropy;
      }
      report('warmup', t + 1, steps);
    }
    const optimisationEnd = performance.now();
    report('sampling', 0, o.eval_samples);

    // --- Evaluation: the trace term first, then eval_samples draws of every chain's q.
    for (let c = 0; c < chains; c++) family.prepare(c, params);
    const E = o.eval_samples;
    const hessian = new CentralDifferenceHessian(kernel, center);
    const trace = o.control_variate ? covarianceTrace(hessian, family, params, whitening, o.exact_trace_max_d, o.trace_probes, keysFor(TAG.probes)) : null;
    const traceTerm = Float64Array.from({ length: chains }, (_, c) => (trace ? trace.lowRank[c] + trace.diagonal[c] : 0));
    // Per chain: the whitening pre-pass, the starting-scale probes and the optimisation, all minibatch gradients.
    const minibatchGrads = chains * (prepassSteps + steps) + initHessian.gradients;
    const fgeOptimisation = (minibatchGrads / chains) * (B / n);
    const evalKeys = keysFor(TAG.evaluation);
    const Ln = new Float64Array(chains * E);
    const quad = new Float64Array(chains * E);
    const fge = new Float64Array(E);
    const seconds = new Float64Array(E);
    const hv = new Float64Array(chains * d);
    const hvHalfStep = new Float64Array(chains * d);
    const loss = new Float64Array(chains);
    let linearityChecks = 0;
    let linearityFailures = 0;
    let runningMc = 0;
    for (let s = 0; s < E; s++) {
      for (let c = 0; c < chains; c++) {
        const drawKey = fold(evalKeys[c], s);
        fillUniform(fold(drawKey, 0), uniform);
        fillNormal(fold(drawKey, 1), noiseViews[c]);
        family.sample(c, params, uniform[0], noiseViews[c], draws, c * d);
        for (let i = 0; i < d; i++) {
          draws[c * d + i] /= whitening[c * d + i]; // now v = w − w*
          positions[c * d + i] = center[i] + draws[c * d + i];
        }
      }
      kernel.loss(positions, loss);
      const checkLinearity = o.control_variate && s < LINEARITY_CHECKS;
      if (o.control_variate) hessian.apply(draws, hv);
      if (checkLinearity) hessian.apply(draws, hvHalfStep, null, n, hessian.step / 2);
      for (let c = 0; c < chains; c++) {
        Ln[c * E + s] = loss[c];
        if (o.control_variate) for (let i = 0; i < d; i++) quad[c * E + s] += draws[c * d + i] * hv[c * d + i];
        if (checkLinearity) {
          let halfStepQuad = 0;
          for (let i = 0; i < d; i++) halfStepQuad += draws[c * d + i] * hvHalfStep[c * d + i];
          // Measured against the typical size of vᵀHv (its mean is the trace), so flat directions do not raise false alarms.
          linearityChecks++;
          if (Math.abs(halfStepQuad - quad[c * E + s]) > LINEARITY_TOL * Math.max(Math.abs(quad[c * E + s]), traceTerm[c])) linearityFailures++;
        }
        runningMc += nBeta * (loss[c] - L0);
      }
      fge[s] = fgeOptimisation + hessian.gradients / chains + (s + 1);
      seconds[s] = (performance.now() - start) / 1000;
      report('sampling', s + 1, E, runningMc / ((s + 1) * chains));
    }
    const end = performance.now();

    // --- Per-chain estimates.
    const eqMc: number[] = [];
    const eqCv: number[] = [];
    const varianceReduction: (number | null)[] = [];
    const llcCvTrace = new Float64Array(chains * E);
    let traceGap = 0;
    let traceGapVariance = 0;
    for (let c = 0; c < chains; c++) {
      const losses = Ln.subarray(c * E, (c + 1) * E);
      const quadratics = quad.subarray(c * E, (c + 1) * E);
      const corrected = Float64Array.from(losses, (l, s) => l - 0.5 * quadratics[s]);
      eqMc.push(losses.reduce((a, b) => a + b, 0) / E);
      eqCv.push(corrected.reduce((a, b) => a + b, 0) / E + 0.5 * traceTerm[c]);
      for (let s = 0; s < E; s++) llcCvTrace[c * E + s] = nBeta * (corrected[s] + 0.5 * traceTerm[c] - L0);
      varianceReduction.push(o.control_variate ? finiteOrNull(variance(losses) / variance(corrected)) : null);
      traceGap += quadratics.reduce((a, b) => a + b, 0) / E - traceTerm[c];
      traceGapVariance += variance(quadratics) / E;
    }
    // The control variate is unbiased only if the HVP operator is linear, so that E_q[vᵀHv] = tr(HΣ_q).
    // A loss with kinks (ReLU) within the difference step of w* breaks that; two checks, and λ̂
    // falls back to the plain mean if either fails: the half-step HVPs, and the sample mean of
    // v_sᵀHv_s against the trace in standard errors.
    const consistencyZ = o.control_variate ? traceGap / Math.sqrt(traceGapVariance) : NaN;
    const cvUsed = o.control_variate && linearityFailures === 0 && Math.abs(consistencyZ) <= CV_CONSISTENCY_Z;
    const llcMc = eqMc.map((e) => nBeta * (e - L0));
    const llcCv = eqCv.map((e) => nBeta * (e - L0));
    const llcPerChain = cvUsed ? llcCv : llcMc;

    const tail = Math.max(1, Math.floor(steps / 10));
    const finalElbo = Array.from({ length: chains }, (_, c) => curves.elbo.subarray((c + 1) * steps - tail, (c + 1) * steps).reduce((a, b) => a + b, 0) / tail);
    const hvpGradients = hessian.gradients;

    return {
      chains,
      draws: E,
      Ln,
      fge,
      seconds,
      traces: cvUsed ? { llc_cv: llcCvTrace } : {},
      work: {
        fge_warmup: fgeOptimisation,
        // A full-data loss pass is counted as one FGE: an upper bound on its cost, but the estimator cannot do without it.
        fge_sampling: hvpGradients / chains + E,
        grad_evals: minibatchGrads + hvpGradients,
        full_loss_evals: chains * E,
      },
      timing: { warmup_s: (optimisationEnd - start) / 1000, sampling_s: (end - optimisationEnd) / 1000 },
      diagnostics: {
        estimator: cvUsed ? 'control_variate' : 'monte_carlo',
        llc_mc: llcMc,
        llc_cv: o.control_variate ? llcCv : null,
        Eq_Ln_mc: eqMc,
        Eq_Ln_cv: o.control_variate ? eqCv : null,
        variance_reduction: varianceReduction,
        control_variate: {
          requested: o.control_variate,
          used: cvUsed,
          linearity_checks: linearityChecks,
          linearity_failures: linearityFailures,
          // (mean_s v_sᵀHv_s − tr(HΣ_q)) over its standard error, pooled over chains; beyond ±4 the control variate is not used.
          consistency_z: finiteOrNull(consistencyZ),
        },
        trace: trace && {
          method: trace.method,
          low_rank: Array.from(trace.lowRank),
          diagonal: Array.from(trace.diagonal),
          probes: trace.method === 'hutchinson' ? o.trace_probes : null,
          hvp_step: hessian.step,
        },
        initial_scale: Array.from(startScales),
        elbo_final: finalElbo,
        mixture_weights: Array.from({ length: chains }, (_, c) => Array.from(family.pi.subarray(c * M, (c + 1) * M))),
        scale_model: Array.from({ length: chains }, (_, c) => spread(Array.from(family.scales(c), (s, i) => s / whitening[c * d + i]))),
        whitening: {
          mode: o.whitening_mode,
          prepass_steps: prepassSteps,
          a: Array.from({ length: chains }, (_, c) => spread(whitening.subarray(c * d, (c + 1) * d))),
        },
        work_breakdown: {
          whitening_minibatch_grads: chains * prepassSteps,
          initial_scale_minibatch_grads: initHessian.gradients,
          optimisation_minibatch_grads: chains * steps,
          hvp_full_grads: hvpGradients,
          full_loss_evals: chains * E,
        },
      },
      llcPerChain,
      optimization: { steps, curves },
    };
  },
};

export default vi;

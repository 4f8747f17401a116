/**
 * The mixture of factor analysers q(t̃) = Σ_m π_m·N(t̃; 0, S(A_m A_mᵀ + I)S), sampled as m ~ Cat(π),
 * z ~ N(0, I_r), ε ~ N(0, I_d), t̃ = s⊙(A_m z + ε). Component densities use the matrix determinant
 * lemma and the Woodbury identity with C_m = I_r + A_mᵀA_m (an r×r Cholesky), so a density and its
 * gradient cost O(M·d·r) and nothing d×d is ever formed.
 */
import { fillNormal, Key } from '../../rng';
import { cholesky, choleskySolve } from './linalg';

const LOG_2PI = Math.log(2 * Math.PI);
const SCALE_MIN = 1e-4;
const SCALE_MAX = 1e2;
const LOG_BLOCK = 32;
const A_INIT_SCALE = 0.05;
/** Norm cap on A's columns (the reference's): it binds only for a direction with 100× the variance of the diagonal part. */
const A_COLUMN_CAP = 10;

function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
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

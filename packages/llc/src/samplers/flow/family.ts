/**
 * The flow family: w = w* + σ₀ ⊙ T(z), z ~ N(0, I_d), with σ₀ a fixed per-coordinate scale (the
 * starting scale, initial-scale.ts) and T = C_K ∘ … ∘ C_1 ∘ E:
 *   E(z) = e^a ⊙ z + b                                    (elementwise affine, a = b = 0 at the start)
 *   C_k(x): y_A = x_A,  y_B = x_B ⊙ e^{s(x_A)} + t(x_A)    (affine coupling; Dinh, Sohl-Dickstein & Bengio 2017)
 *     h = tanh(W1·x_A + b1),  [ŝ; t] = W2·h + b2,  s = s_max·tanh(ŝ/s_max)
 * with A_k the conditioning coordinates of layer k and B_k the rest. Masks come in pairs: layer 2j
 * conditions on the first ⌈d/2⌉ coordinates of a permutation (the identity's even/odd split, or a
 * random permutation per pair), layer 2j + 1 on its complement, so every coordinate is transformed
 * once per pair; or (`ordered`) layer pair j splits the coordinates in index order at
 * p_j = d·(j + 1)/(pairs + 1), its even layer transforming those after p_j given those before, its
 * odd layer the reverse: for a network's parameters, stored layer by layer, later layers' weights
 * are then transformed given all of the earlier layers' (and vice versa). W2 and b2 start at zero, so every coupling starts as the identity.
 *   log q(w) = log N(z; 0, I) − log|det ∂T/∂z| − Σ log σ₀,   log|det ∂T/∂z| = Σ_i a_i + Σ_k Σ_{j∈B_k} s_kj.
 *
 * Gradients are written by hand: `forward` keeps every layer's input and hidden activation, and
 * `backward` carries ∂f/∂y back through the layers for f = ⟨g, T(z)⟩ + log|det ∂T/∂z| (g fixed,
 * ∂f/∂x_B = g_B ⊙ e^s, ∂f/∂s = g_B ⊙ x_B ⊙ e^s + 1, ∂f/∂t = g_B, through s_max·tanh, W2, tanh and W1,
 * and ∂f/∂x_A = g_A + W1ᵀδ), adding ∂f/∂θ for every flow parameter θ. All of it is float64.
 */
import { fillBelow, fold, Key } from '../../rng';

export interface FlowShape {
  d: number;
  /** Coupling layers. */
  K: number;
  /** Hidden width of each coupling's MLP. */
  hidden: number;
  /** Bound on |s|: s = s_max·tanh(ŝ/s_max). */
  sMax: number;
  masks: 'alternating' | 'random' | 'ordered';
}

/** Offsets of one coupling layer's parameters within a chain's block. */
interface LayerLayout {
  /** Conditioning and transformed coordinate counts. */
  nA: number;
  nB: number;
  W1: number;
  b1: number;
  W2: number;
  b2: number;
}

/** What `forward` keeps for `backward`. */
export class FlowCache {
  /** z. */
  readonly z: Float64Array;
  /** Input of layer k at k·d (k = 0 … K−1, layer 0's input is E(z)), and T(z) at K·d. */
  readonly x: Float64Array;
  /** Hidden activation of layer k at k·hidden. */
  readonly h: Float64Array;
  /** s of layer k at k·d (only the first nB entries used). */
  readonly s: Float64Array;
  logDet = 0;

  constructor(shape: FlowShape) {
    const { d, K, hidden } = shape;
    this.z = new Float64Array(d);
    this.x = new Float64Array((K + 1) * d);
    this.h = new Float64Array(K * hidden);
    this.s = new Float64Array(K * d);
  }

  /** T(z): the last layer's output. */
  get output(): Float64Array {
    const d = this.z.length;
    return this.x.subarray(this.x.length - d);
  }
}

export class FlowFamily {
  /** Parameters per chain. */
  readonly size: number;
  readonly layers: LayerLayout[];
  /** Per chain and layer, the conditioning then the transformed coordinates (d entries), at (c·K + k)·d. */
  readonly order: Int32Array;
  private readonly gx: Float64Array;
  private readonly gh: Float64Array;
  private readonly scratch: Float64Array;
  private readonly zeros: Float64Array;
  /** The shifts t of the coupling layer `conditioner` last evaluated. */
  private readonly shift: Float64Array;

  constructor(
    readonly shape: FlowShape,
    /** Independent chains (parameter blocks), each with its own masks. */
    readonly slots: number,
    maskKeys: Key[],
  ) {
    const { d, K, hidden } = shape;
    this.layers = [];
    let offset = 2 * d;
    const pairs = Math.ceil(K / 2);
    /** The ordered masks' split point of layer pair j: d·(j + 1)/(pairs + 1), rounded. */
    const split = (k: number) => Math.round((d * (Math.floor(k / 2) + 1)) / (pairs + 1));
    for (let k = 0; k < K; k++) {
      const half = k % 2 === 0 ? Math.ceil(d / 2) : Math.floor(d / 2);
      const nA = shape.masks === 'ordered' ? (k % 2 === 0 ? split(k) : d - split(k)) : half;
      const nB = d - nA;
      const W1 = offset;
      const b1 = W1 + hidden * nA;
      const W2 = b1 + hidden;
      const b2 = W2 + 2 * nB * hidden;
      offset = b2 + 2 * nB;
      this.layers.push({ nA, nB, W1, b1, W2, b2 });
    }
    this.size = offset;
    this.order = new Int32Array(slots * K * d);
    const perm = new Int32Array(d);
    const u = new Int32Array(d);
    for (let c = 0; c < slots; c++) {
      for (let k = 0; k < K; k++) {
        if (shape.masks === 'ordered') {
          // Even layers transform the coordinates after the split given those before it, odd layers the reverse.
          const p = split(k);
          const base = (c * K + k) * d;
          for (let i = 0; i < d; i++) this.order[base + i] = k % 2 === 0 ? i : (i + p) % d;
          continue;
        }
        if (k % 2 === 0) {
          if (shape.masks === 'alternating') {
            // Even coordinates first, then odd ones.
            let j = 0;
            for (let i = 0; i < d; i += 2) perm[j++] = i;
            for (let i = 1; i < d; i += 2) perm[j++] = i;
          } else {
            // Fisher–Yates with one integer per position.
            for (let i = 0; i < d; i++) perm[i] = i;
            fillBelow(fold(maskKeys[c], k), 1 << 30, u);
            for (let i = d - 1; i > 0; i--) {
              const j = u[i] % (i + 1);
              const tmp = perm[i];
              perm[i] = perm[j];
              perm[j] = tmp;
            }
          }
        }
        const base = (c * K + k) * d;
        const { nA } = this.layers[k];
        if (k % 2 === 0) this.order.set(perm, base);
        else {
          // The complement of the previous layer's conditioning set comes first.
          const half = d - nA;
          for (let i = 0; i < nA; i++) this.order[base + i] = perm[half + i];
          for (let i = 0; i < half; i++) this.order[base + nA + i] = perm[i];
        }
      }
    }
    this.gx = new Float64Array(d);
    this.gh = new Float64Array(hidden);
    this.shift = new Float64Array(d);
    this.scratch = new Float64Array(this.size);
    this.zeros = new Float64Array(d);
  }

  /** Chain c's starting parameters: E and every coupling the identity, W1 ~ N(0, 1/|A|)-like from `normals` (hidden·nA per layer, any fill). */
  init(c: number, params: Float64Array, normals: (count: number) => Float64Array): void {
    const base = c * this.size;
    params.fill(0, base, base + this.size);
    const { hidden } = this.shape;
    for (const L of this.layers) {
      if (L.nA === 0) continue;
      const w = normals(hidden * L.nA);
      const scale = 1 / Math.sqrt(L.nA);
      for (let i = 0; i < hidden * L.nA; i++) params[base + L.W1 + i] = scale * w[i];
    }
  }

  /**
   * Coupling layer L's conditioner, the same for T and T⁻¹: from the kept coordinates x[xa + ord[0..nA)]
   * (equal on both sides of the layer), its hidden units into h[hk…], the bounded log-scales
   * s = s_max·tanh(ŝ/s_max) into s[sk…] and the shifts into this.shift; returns Σ s.
   */
  private conditioner(params: Float64Array, base: number, L: LayerLayout, ord: Int32Array, x: Float64Array, xa: number, h: Float64Array, hk: number, s: Float64Array, sk: number): number {
    const { hidden, sMax } = this.shape;
    const { nA, nB } = L;
    for (let j = 0; j < hidden; j++) {
      let pre = params[base + L.b1 + j];
      const row = base + L.W1 + j * nA;
      for (let i = 0; i < nA; i++) pre += params[row + i] * x[xa + ord[i]];
      h[hk + j] = Math.tanh(pre);
    }
    let sum = 0;
    for (let i = 0; i < nB; i++) {
      let sRaw = params[base + L.b2 + i];
      let t = params[base + L.b2 + nB + i];
      const rowS = base + L.W2 + i * hidden;
      const rowT = base + L.W2 + (nB + i) * hidden;
      for (let j = 0; j < hidden; j++) {
        sRaw += params[rowS + j] * h[hk + j];
        t += params[rowT + j] * h[hk + j];
      }
      s[sk + i] = sMax * Math.tanh(sRaw / sMax);
      sum += s[sk + i];
      this.shift[i] = t;
    }
    return sum;
  }

  /** T(z) for chain c into cache (cache.output), with its log-determinant; cache.z must hold z. */
  forward(c: number, params: Float64Array, cache: FlowCache): number {
    const { d, K, hidden } = this.shape;
    const base = c * this.size;
    const { x, h, s, z } = cache;
    let logDet = 0;
    for (let i = 0; i < d; i++) {
      const a = params[base + i];
      x[i] = Math.exp(a) * z[i] + params[base + d + i];
      logDet += a;
    }
    for (let k = 0; k < K; k++) {
      const L = this.layers[k];
      const { nA, nB } = L;
      const ord = this.order.subarray((c * K + k) * d, (c * K + k + 1) * d);
      const xin = k * d;
      const xout = (k + 1) * d;
      const hk = k * hidden;
      const sk = k * d;
      for (let i = 0; i < nA; i++) x[xout + ord[i]] = x[xin + ord[i]];
      logDet += this.conditioner(params, base, L, ord, x, xin, h, hk, s, sk);
      for (let i = 0; i < nB; i++) {
        const coord = ord[nA + i];
        x[xout + coord] = x[xin + coord] * Math.exp(s[sk + i]) + this.shift[i];
      }
    }
    cache.logDet = logDet;
    return logDet;
  }

  /**
   * Adds to out[c·size …] the gradient of f = ⟨g, T(z)⟩ + logDetWeight·log|det ∂T/∂z| with respect to
   * chain c's parameters (out null: none), at the point `forward` left in cache, and writes ∂f/∂z to
   * gz when given. g (d entries) is not modified.
   */
  backward(c: number, params: Float64Array, cache: FlowCache, g: Float64Array, out: Float64Array | null, logDetWeight = 1, gz: Float64Array | null = null): void {
    const { d, K, hidden, sMax } = this.shape;
    const base = c * this.size;
    const o = out ?? this.scratch;
    const ob = out ? base : 0;
    const { x, h, s, z } = cache;
    const { gx, gh } = this;
    gx.set(g.subarray(0, d));
    for (let k = K - 1; k >= 0; k--) {
      const L = this.layers[k];
      const { nA, nB } = L;
      const ord = this.order.subarray((c * K + k) * d, (c * K + k + 1) * d);
      const xin = k * d;
      const hk = k * hidden;
      const sk = k * d;
      gh.fill(0);
      for (let i = 0; i < nB; i++) {
        const coord = ord[nA + i];
        const gy = gx[coord];
        const es = Math.exp(s[sk + i]);
        const gS = gy * x[xin + coord] * es + logDetWeight;
        const ratio = s[sk + i] / sMax;
        const gSRaw = gS * (1 - ratio * ratio);
        const gT = gy;
        gx[coord] = gy * es; // ∂f/∂x_B
        o[ob + L.b2 + i] += gSRaw;
        o[ob + L.b2 + nB + i] += gT;
        const rowS = L.W2 + i * hidden;
        const rowT = L.W2 + (nB + i) * hidden;
        for (let j = 0; j < hidden; j++) {
          o[ob + rowS + j] += gSRaw * h[hk + j];
          o[ob + rowT + j] += gT * h[hk + j];
          gh[j] += gSRaw * params[base + rowS + j] + gT * params[base + rowT + j];
        }
      }
      for (let j = 0; j < hidden; j++) {
        const hj = h[hk + j];
        const gPre = gh[j] * (1 - hj * hj);
        if (gPre === 0) continue;
        o[ob + L.b1 + j] += gPre;
        const row = L.W1 + j * nA;
        for (let i = 0; i < nA; i++) {
          const coord = ord[i];
          o[ob + row + i] += gPre * x[xin + coord];
          gx[coord] += gPre * params[base + row + i]; // ∂f/∂x_A = g_A + W1ᵀδ (x_A passes through unchanged)
        }
      }
    }
    // E: x0 = e^a ⊙ z + b.
    for (let i = 0; i < d; i++) {
      const ea = Math.exp(params[base + i]);
      o[ob + i] += gx[i] * ea * z[i] + logDetWeight;
      o[ob + d + i] += gx[i];
      if (gz) gz[i] = gx[i] * ea;
    }
  }

  /**
   * ∇_v log q(v) at v = T(z) (q the density of T(z), z ~ N(0, I)), into out (d entries), at the point
   * `forward` left in cache: log q(T(z)) = log N(z) − log|det J(z)|, so Jᵀ∇_v log q = u with
   * u = −z − ∇_z log|det J|, and ∇_v log q = J⁻ᵀu, J = J_K⋯J_1·J_E. Each coupling's Jacobian, in
   * (A, B) order, is [[I, 0], [C, diag(e^s)]], C = ∂y_B/∂x_A, so J⁻ᵀ solves r_B = e^{−s}⊙u_B,
   * r_A = u_A − Cᵀr_B, Cᵀr_B being the vector–Jacobian product through the coupling's MLP.
   */
  gradLogDensity(c: number, params: Float64Array, cache: FlowCache, out: Float64Array): void {
    const { d, K, hidden, sMax } = this.shape;
    const base = c * this.size;
    const { x, h, s, z } = cache;
    const { gh } = this;
    // u = −z − ∇_z log|det J|.
    this.backward(c, params, cache, this.zeros, null, 1, out);
    for (let i = 0; i < d; i++) out[i] = -z[i] - out[i];
    // J_E⁻ᵀ: divide by e^a.
    for (let i = 0; i < d; i++) out[i] *= Math.exp(-params[base + i]);
    for (let k = 0; k < K; k++) {
      const L = this.layers[k];
      const { nA, nB } = L;
      const ord = this.order.subarray((c * K + k) * d, (c * K + k + 1) * d);
      const xin = k * d;
      const hk = k * hidden;
      const sk = k * d;
      gh.fill(0);
      for (let i = 0; i < nB; i++) {
        const coord = ord[nA + i];
        const es = Math.exp(s[sk + i]);
        const rB = out[coord] / es;
        out[coord] = rB;
        // Cᵀr_B: y_B = x_B⊙e^s + t through ŝ, t = W2·h + b2.
        const ratio = s[sk + i] / sMax;
        const gSRaw = rB * x[xin + coord] * es * (1 - ratio * ratio);
        const rowS = base + L.W2 + i * hidden;
        const rowT = base + L.W2 + (nB + i) * hidden;
        for (let j = 0; j < hidden; j++) gh[j] += gSRaw * params[rowS + j] + rB * params[rowT + j];
      }
      for (let j = 0; j < hidden; j++) {
        const hj = h[hk + j];
        const gPre = gh[j] * (1 - hj * hj);
        if (gPre === 0) continue;
        const row = base + L.W1 + j * nA;
        for (let i = 0; i < nA; i++) out[ord[i]] -= gPre * params[row + i];
      }
    }
  }

  /** z = T⁻¹(v) for chain c into cache (and the forward pass's intermediate values), returning log|det ∂T/∂z| at that z. */
  inverse(c: number, params: Float64Array, v: Float64Array, cache: FlowCache): number {
    const { d, K, hidden } = this.shape;
    const base = c * this.size;
    const { x, h, s, z } = cache;
    x.set(v.subarray(0, d), K * d);
    let logDet = 0;
    for (let k = K - 1; k >= 0; k--) {
      const L = this.layers[k];
      const { nA, nB } = L;
      const ord = this.order.subarray((c * K + k) * d, (c * K + k + 1) * d);
      const xin = k * d;
      const xout = (k + 1) * d;
      const hk = k * hidden;
      const sk = k * d;
      for (let i = 0; i < nA; i++) x[xin + ord[i]] = x[xout + ord[i]];
      logDet += this.conditioner(params, base, L, ord, x, xout, h, hk, s, sk);
      for (let i = 0; i < nB; i++) {
        const coord = ord[nA + i];
        x[xin + coord] = (x[xout + coord] - this.shift[i]) * Math.exp(-s[sk + i]);
      }
    }
    for (let i = 0; i < d; i++) {
      const a = params[base + i];
      z[i] = (x[i] - params[base + d + i]) * Math.exp(-a);
      logDet += a;
    }
    cache.logDet = logDet;
    return logDet;
  }
}

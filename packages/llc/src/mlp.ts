/**
 * Multilayer perceptrons on a flat parameter vector, forward and backward written by hand.
 *
 * Layer order in the flat vector (the reference's order, C order within each array):
 *   [L1.W (out×in), L1.b, (LN1.weight, LN1.bias), L2.W, L2.b, …, Out.W, Out.b]
 * A hidden layer computes a = act(W·h + b), then an optional LayerNorm, then an optional skip
 * connection adding its input (for layers i > 0 with i % residual_period == 0 and equal widths).
 * The output layer is affine.
 *
 * This is the plain TypeScript implementation: the test oracle for faster kernels. Buffers use the
 * typed array of the requested precision, so float32 runs round every stored intermediate to
 * float32; sums inside one dot product accumulate in float64.
 */
import { fold, Key, Stream } from './rng';

export type Activation = 'relu' | 'tanh' | 'gelu' | 'identity';
export type FloatArray = Float64Array | Float32Array;
export type Dtype = 'float32' | 'float64';

export interface MlpArch {
  in_dim: number;
  out_dim: number;
  widths: number[];
  activation: Activation;
  bias: boolean;
  layernorm: boolean;
  skip_connections: boolean;
  residual_period: number;
}

export interface ParamEntry {
  name: string;
  shape: number[];
  offset: number;
}

interface Layer {
  inDim: number;
  outDim: number;
  w: number;
  b: number; // -1 when the layer has no bias
  lnGain: number; // -1 when no LayerNorm
  lnBias: number;
  hidden: boolean;
  skip: boolean;
}

export interface Layout {
  d: number;
  entries: ParamEntry[];
  layers: Layer[];
}

export function arrayFor(dtype: Dtype, length: number): FloatArray {
  return dtype === 'float32' ? new Float32Array(length) : new Float64Array(length);
}

export function castTo(dtype: Dtype, src: ArrayLike<number>): FloatArray {
  const out = arrayFor(dtype, src.length);
  out.set(src as ArrayLike<number>);
  return out;
}

/**
 * Hidden widths whose parameter count is close to `targetParams`: the positive root of
 * (in+1)h + (L−1)(h+1)h + (h+1)·out = TP, floored (the reference's rule).
 */
export function inferWidths(inDim: number, outDim: number, depth: number, targetParams: number | null, fallback: number): number[] {
  if (depth === 0) return [];
  if (targetParams === null) return Array(depth).fill(fallback);
  const a = depth - 1;
  const b = inDim + 1 + (depth - 1) + outDim;
  const h =
    a === 0
      ? Math.max(1, Math.floor((targetParams - outDim) / (inDim + 1)))
      : Math.max(1, Math.floor((-b + Math.sqrt(b * b + 4 * a * targetParams)) / (2 * a)));
  return Array(depth).fill(h);
}

export function layout(arch: MlpArch): Layout {
  const entries: ParamEntry[] = [];
  const layers: Layer[] = [];
  let offset = 0;
  const add = (name: string, shape: number[]): number => {
    const at = offset;
    entries.push({ name, shape, offset: at });
    offset += shape.reduce((x, y) => x * y, 1);
    return at;
  };
  let prev = arch.in_dim;
  arch.widths.forEach((width, i) => {
    const w = add(`L${i + 1}.W`, [width, prev]);
    const b = arch.bias ? add(`L${i + 1}.b`, [width]) : -1;
    const lnGain = arch.layernorm ? add(`LN${i + 1}.weight`, [width]) : -1;
    const lnBias = arch.layernorm ? add(`LN${i + 1}.bias`, [width]) : -1;
    const skip = arch.skip_connections && i > 0 && i % arch.residual_period === 0 && width === prev;
    layers.push({ inDim: prev, outDim: width, w, b, lnGain, lnBias, hidden: true, skip });
    prev = width;
  });
  const w = add('Out.W', [arch.out_dim, prev]);
  const b = arch.bias ? add('Out.b', [arch.out_dim]) : -1;
  layers.push({ inDim: prev, outDim: arch.out_dim, w, b, lnGain: -1, lnBias: -1, hidden: false, skip: false });
  return { d: offset, entries, layers };
}

/** Initialisation U(±1/√fan_in) for weights and biases; LayerNorm gain 1, bias 0. */
export function initParams(arch: MlpArch, key: Key, out: FloatArray = new Float64Array(layout(arch).d)): FloatArray {
  const { layers } = layout(arch);
  layers.forEach((layer, i) => {
    const s = new Stream(fold(key, i));
    const bound = 1 / Math.sqrt(layer.inDim);
    for (let j = 0; j < layer.inDim * layer.outDim; j++) out[layer.w + j] = (2 * s.uniform() - 1) * bound;
    if (layer.b >= 0) for (let j = 0; j < layer.outDim; j++) out[layer.b + j] = (2 * s.uniform() - 1) * bound;
    if (layer.lnGain >= 0) {
      out.fill(1, layer.lnGain, layer.lnGain + layer.outDim);
      out.fill(0, layer.lnBias, layer.lnBias + layer.outDim);
    }
  });
  return out;
}

const GELU_C = Math.sqrt(2 / Math.PI);
const LN_EPS = 1e-5;

function activate(kind: Activation, z: FloatArray, a: FloatArray, len: number): void {
  switch (kind) {
    case 'relu':
      for (let i = 0; i < len; i++) a[i] = z[i] > 0 ? z[i] : 0;
      return;
    case 'tanh':
      for (let i = 0; i < len; i++) a[i] = Math.tanh(z[i]);
      return;
    case 'gelu':
      for (let i = 0; i < len; i++) {
        const x = z[i];
        a[i] = 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x * x * x)));
      }
      return;
    case 'identity':
      for (let i = 0; i < len; i++) a[i] = z[i];
      return;
  }
}

/** Multiplies `g` (the gradient with respect to act(z)) in place by act'(z). */
function activationBackward(kind: Activation, z: FloatArray, g: FloatArray, len: number): void {
  switch (kind) {
    case 'relu':
      for (let i = 0; i < len; i++) if (!(z[i] > 0)) g[i] = 0;
      return;
    case 'tanh':
      for (let i = 0; i < len; i++) {
        const t = Math.tanh(z[i]);
        g[i] *= 1 - t * t;
      }
      return;
    case 'gelu':
      for (let i = 0; i < len; i++) {
        const x = z[i];
        const t = Math.tanh(GELU_C * (x + 0.044715 * x * x * x));
        g[i] *= 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * x * x);
      }
      return;
    case 'identity':
      return;
  }
}

export type LossKind = 'mse' | 't_regression';

/** The per-element loss and its derivative; `t_regression` is ½(ν+1)·log1p(r²/(ν s²)). */
export interface LossFn {
  kind: LossKind;
  df: number;
  scale: number;
}

/**
 * Evaluates one parameter vector on up to `maxRows` rows at a time. Holds all scratch buffers so
 * that repeated calls allocate nothing.
 */
export class MlpEvaluator {
  readonly layout: Layout;
  private readonly input: FloatArray;
  private readonly pre: FloatArray[]; // per layer: W·h + b
  private readonly post: FloatArray[]; // per layer output (after activation, LayerNorm, skip)
  private readonly act: FloatArray[]; // per hidden layer: act(pre) (before LayerNorm)
  private readonly xhat: FloatArray[];
  private readonly rstd: FloatArray[];
  private readonly gradOut: FloatArray[]; // per layer: gradient with respect to `post`
  private readonly gradPre: FloatArray;

  constructor(readonly arch: MlpArch, readonly maxRows: number, readonly dtype: Dtype = 'float64') {
    this.layout = layout(arch);
    const L = this.layout.layers;
    const make = (n: number) => arrayFor(dtype, n);
    this.input = make(maxRows * arch.in_dim);
    this.pre = L.map((l) => make(maxRows * l.outDim));
    this.post = L.map((l) => make(maxRows * l.outDim));
    this.act = L.map((l) => (l.lnGain >= 0 ? make(maxRows * l.outDim) : make(0)));
    this.xhat = L.map((l) => (l.lnGain >= 0 ? make(maxRows * l.outDim) : make(0)));
    this.rstd = L.map((l) => (l.lnGain >= 0 ? make(maxRows) : make(0)));
    this.gradOut = L.map((l) => make(maxRows * l.outDim));
    this.gradPre = make(maxRows * Math.max(...L.map((l) => l.outDim)));
  }

  /**
   * Forward pass over `rows` (indices into X) or, when `rows` is null, over the first `count` rows
   * of X. Returns the output buffer (count × out_dim), valid until the next call.
   */
  forward(theta: FloatArray, thetaOff: number, X: FloatArray, rows: Int32Array | null, count: number, rowsOff = 0): FloatArray {
    if (count > this.maxRows) throw new RangeError(`batch of ${count} rows exceeds evaluator capacity ${this.maxRows}`);
    const inDim = this.arch.in_dim;
    let h: FloatArray;
    if (rows) {
      for (let i = 0; i < count; i++) {
        const src = rows[rowsOff + i] * inDim;
        for (let k = 0; k < inDim; k++) this.input[i * inDim + k] = X[src + k];
      }
      h = this.input;
    } else {
      h = X;
    }
    const layers = this.layout.layers;
    for (let li = 0; li < layers.length; li++) {
      const l = layers[li];
      const z = this.pre[li];
      affine(theta, thetaOff + l.w, l.b >= 0 ? thetaOff + l.b : -1, h, count, l.inDim, l.outDim, z);
      const out = this.post[li];
      if (l.hidden) {
        if (l.lnGain >= 0) {
          activate(this.arch.activation, z, this.act[li], count * l.outDim);
          layerNorm(this.act[li], count, l.outDim, theta, thetaOff + l.lnGain, thetaOff + l.lnBias, this.xhat[li], this.rstd[li], out);
        } else {
          activate(this.arch.activation, z, out, count * l.outDim);
        }
        if (l.skip) for (let j = 0; j < count * l.outDim; j++) out[j] += h[j];
      } else {
        out.set(z.subarray(0, count * l.outDim));
      }
      h = out;
    }
    return h;
  }

  /** Mean loss over the batch (all count·out_dim elements). */
  loss(theta: FloatArray, thetaOff: number, X: FloatArray, Y: FloatArray, rows: Int32Array | null, count: number, lossFn: LossFn, rowsOff = 0): number {
    const f = this.forward(theta, thetaOff, X, rows, count, rowsOff);
    return meanLoss(f, Y, rows, rowsOff, count, this.arch.out_dim, lossFn, null);
  }

  /**
   * Mean loss over the batch and its gradient with respect to theta, written to
   * grad[gradOff .. gradOff + d) (overwritten, not accumulated).
   */
  lossAndGrad(
    theta: FloatArray,
    thetaOff: number,
    X: FloatArray,
    Y: FloatArray,
    rows: Int32Array | null,
    count: number,
    lossFn: LossFn,
    grad: FloatArray,
    gradOff: number,
    rowsOff = 0,
  ): number {
    const layers = this.layout.layers;
    const f = this.forward(theta, thetaOff, X, rows, count, rowsOff);
    const last = layers.length - 1;
    const value = meanLoss(f, Y, rows, rowsOff, count, this.arch.out_dim, lossFn, this.gradOut[last]);
    for (let li = last; li >= 0; li--) {
      const l = layers[li];
      const gOut = this.gradOut[li];
      const h = li === 0 ? (rows ? this.input : X) : this.post[li - 1];
      const n = count * l.outDim;
      const gPre = this.gradPre;
      if (l.hidden) {
        if (l.lnGain >= 0) {
          layerNormBackward(gOut, count, l.outDim, theta, thetaOff + l.lnGain, this.xhat[li], this.rstd[li], grad, gradOff + l.lnGain, gradOff + l.lnBias, gPre);
        } else {
          for (let j = 0; j < n; j++) gPre[j] = gOut[j];
        }
        activationBackward(this.arch.activation, this.pre[li], gPre, n);
      } else {
        for (let j = 0; j < n; j++) gPre[j] = gOut[j];
      }
      affineBackward(h, gPre, count, l.inDim, l.outDim, grad, gradOff + l.w, l.b >= 0 ? gradOff + l.b : -1);
      if (li > 0) {
        const gIn = this.gradOut[li - 1];
        inputGradient(theta, thetaOff + l.w, gPre, count, l.inDim, l.outDim, gIn);
        if (l.skip) for (let j = 0; j < count * l.inDim; j++) gIn[j] += gOut[j];
      }
    }
    return value;
  }
}

/** z[i, o] = b[o] + Σ_k h[i, k]·W[o, k]. */
function affine(theta: FloatArray, w: number, b: number, h: FloatArray, count: number, inDim: number, outDim: number, z: FloatArray): void {
  for (let i = 0; i < count; i++) {
    const hi = i * inDim;
    for (let o = 0; o < outDim; o++) {
      const wo = w + o * inDim;
      let s = b >= 0 ? theta[b + o] : 0;
      for (let k = 0; k < inDim; k++) s += h[hi + k] * theta[wo + k];
      z[i * outDim + o] = s;
    }
  }
}

/** dW[o, k] = Σ_i g[i, o]·h[i, k] and db[o] = Σ_i g[i, o], written to grad. */
function affineBackward(
  h: FloatArray,
  g: FloatArray,
  count: number,
  inDim: number,
  outDim: number,
  grad: FloatArray,
  gw: number,
  gb: number,
): void {
  const acc = new Float64Array(inDim);
  for (let o = 0; o < outDim; o++) {
    acc.fill(0);
    let sb = 0;
    for (let i = 0; i < count; i++) {
      const gi = g[i * outDim + o];
      if (gi === 0) continue;
      sb += gi;
      const hi = i * inDim;
      for (let k = 0; k < inDim; k++) acc[k] += gi * h[hi + k];
    }
    const row = gw + o * inDim;
    for (let k = 0; k < inDim; k++) grad[row + k] = acc[k];
    if (gb >= 0) grad[gb + o] = sb;
  }
}

/** gIn[i, k] = Σ_o g[i, o]·W[o, k]. */
function inputGradient(theta: FloatArray, w: number, g: FloatArray, count: number, inDim: number, outDim: number, gIn: FloatArray): void {
  const acc = new Float64Array(inDim);
  for (let i = 0; i < count; i++) {
    acc.fill(0);
    for (let o = 0; o < outDim; o++) {
      const gi = g[i * outDim + o];
      if (gi === 0) continue;
      const wo = w + o * inDim;
      for (let k = 0; k < inDim; k++) acc[k] += gi * theta[wo + k];
    }
    const base = i * inDim;
    for (let k = 0; k < inDim; k++) gIn[base + k] = acc[k];
  }
}

function layerNorm(
  a: FloatArray,
  count: number,
  width: number,
  theta: FloatArray,
  gain: number,
  bias: number,
  xhat: FloatArray,
  rstd: FloatArray,
  out: FloatArray,
): void {
  for (let i = 0; i < count; i++) {
    const base = i * width;
    let mean = 0;
    for (let j = 0; j < width; j++) mean += a[base + j];
    mean /= width;
    let v = 0;
    for (let j = 0; j < width; j++) v += (a[base + j] - mean) ** 2;
    const r = 1 / Math.sqrt(v / width + LN_EPS);
    rstd[i] = r;
    for (let j = 0; j < width; j++) {
      const x = (a[base + j] - mean) * r;
      xhat[base + j] = x;
      out[base + j] = x * theta[gain + j] + theta[bias + j];
    }
  }
}

function layerNormBackward(
  gOut: FloatArray,
  count: number,
  width: number,
  theta: FloatArray,
  gain: number,
  xhat: FloatArray,
  rstd: FloatArray,
  grad: FloatArray,
  gGain: number,
  gBias: number,
  gIn: FloatArray,
): void {
  const dGain = new Float64Array(width);
  const dBias = new Float64Array(width);
  for (let i = 0; i < count; i++) {
    const base = i * width;
    let meanG = 0;
    let meanGX = 0;
    for (let j = 0; j < width; j++) {
      const g = gOut[base + j];
      dGain[j] += g * xhat[base + j];
      dBias[j] += g;
      const dx = g * theta[gain + j];
      meanG += dx;
      meanGX += dx * xhat[base + j];
    }
    meanG /= width;
    meanGX /= width;
    for (let j = 0; j < width; j++) {
      const dx = gOut[base + j] * theta[gain + j];
      gIn[base + j] = rstd[i] * (dx - meanG - xhat[base + j] * meanGX);
    }
  }
  for (let j = 0; j < width; j++) {
    grad[gGain + j] = dGain[j];
    grad[gBias + j] = dBias[j];
  }
}

/** Mean loss over count·outDim elements; when `dF` is given, writes ∂(mean loss)/∂f into it. */
function meanLoss(
  f: FloatArray,
  Y: FloatArray,
  rows: Int32Array | null,
  rowsOff: number,
  count: number,
  outDim: number,
  lossFn: LossFn,
  dF: FloatArray | null,
): number {
  const m = count * outDim;
  let total = 0;
  const tScale = lossFn.kind === 't_regression' ? lossFn.df * lossFn.scale * lossFn.scale : 0;
  for (let i = 0; i < count; i++) {
    const yi = (rows ? rows[rowsOff + i] : i) * outDim;
    for (let o = 0; o < outDim; o++) {
      const r = f[i * outDim + o] - Y[yi + o];
      if (lossFn.kind === 'mse') {
        total += r * r;
        if (dF) dF[i * outDim + o] = (2 * r) / m;
      } else {
        const q = (r * r) / tScale;
        total += 0.5 * (lossFn.df + 1) * Math.log1p(q);
        if (dF) dF[i * outDim + o] = ((lossFn.df + 1) * r) / (tScale * (1 + q)) / m;
      }
    }
  }
  return total / m;
}

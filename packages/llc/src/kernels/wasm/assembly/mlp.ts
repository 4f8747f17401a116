/**
 * Forward and backward passes of the MLP (the same network as packages/llc/src/mlp.ts: affine
 * layers, activation, optional LayerNorm and skip connections, affine output; MSE or Student-t
 * loss) for one work item: a block of rows of one chain. The JS side lays out every buffer and
 * writes two tables into memory:
 *
 * The architecture table (i32 words; offsets in elements of T, relative to the thread's scratch):
 *   0 layers, 1 in_dim, 2 out_dim, 3 activation (0 relu, 1 tanh, 2 gelu, 3 identity),
 *   4 loss (0 mse, 1 t_regression), 5 max rows, 6 input offset, 7 gPre offset, 8 unused,
 *   bytes 48–55 the Student-t ν, 56–63 its scale (f64); then per layer, 16 words from word 16:
 *   in, out, w, b, lnGain, lnBias (parameter offsets, −1 when absent), hidden, skip,
 *   pre, post, act, xhat, rstd, gradOut (scratch offsets), 2 unused.
 * The item (u32 words): 0 θ, 1 X, 2 Y, 3 rows (0: contiguous rows from rowStart), 4 rowStart,
 *   5 count, 6 gradient (0: loss only), 7 the f64 the mean loss is written to.
 * The item's gradient is that of its own mean loss; the JS side weights items by their rows.
 */
import { gemm, gemmNT } from './gemm';

const LAYER_BASE = 16;
const LAYER_WORDS = 16;

// @ts-ignore: decorator
@inline function word(table: usize, i: i32): i32 {
  return load<i32>(table + (<usize>i << 2));
}

// @ts-ignore: decorator
@inline function layerWord(arch: usize, layer: i32, field: i32): i32 {
  return word(arch, LAYER_BASE + layer * LAYER_WORDS + field);
}

/** The address of element `offset` of T in the thread's scratch. */
// @ts-ignore: decorator
@inline function at<T>(scratch: usize, offset: i32): usize {
  return scratch + <usize>offset * sizeof<T>();
}

// @ts-ignore: decorator
@inline function tanhOf<T>(x: T): T {
  if (sizeof<T>() == 4) return <T>Mathf.tanh(<f32>x);
  return <T>Math.tanh(<f64>x);
}

const GELU_C = 0.7978845608028654; // √(2/π)

function activate<T>(kind: i32, z: usize, a: usize, n: i32): void {
  const S = <usize>sizeof<T>();
  if (kind == 0) {
    // relu, 16 bytes at a time; row blocks are sized in multiples of 4 elements.
    const zero = v128.splat<T>(0);
    const end = <usize>n * S;
    let i: usize = 0;
    for (; i + 16 <= end; i += 16) v128.store(a + i, v128.max<T>(v128.load(z + i), zero));
    for (; i < end; i += S) {
      const x = load<T>(z + i);
      store<T>(a + i, x > <T>0 ? x : <T>0);
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const x = load<T>(z + <usize>i * S);
    let y: T;
    if (kind == 0) y = x > <T>0 ? x : <T>0;
    else if (kind == 1) y = tanhOf<T>(x);
    else if (kind == 2) y = <T>0.5 * x * (<T>1 + tanhOf<T>(<T>GELU_C * (x + <T>0.044715 * x * x * x)));
    else y = x;
    store<T>(a + <usize>i * S, y);
  }
}

/** g ← g ⊙ act′(z), in place. */
function activationBackward<T>(kind: i32, z: usize, g: usize, n: i32): void {
  const S = <usize>sizeof<T>();
  if (kind == 3) return;
  if (kind == 0) {
    // g stays where z > 0, becomes 0 elsewhere: a mask from the comparison.
    const zero = v128.splat<T>(0);
    const end = <usize>n * S;
    let i: usize = 0;
    for (; i + 16 <= end; i += 16) v128.store(g + i, v128.and(v128.load(g + i), v128.gt<T>(v128.load(z + i), zero)));
    for (; i < end; i += S) if (!(load<T>(z + i) > <T>0)) store<T>(g + i, <T>0);
    return;
  }
  for (let i = 0; i < n; i++) {
    const x = load<T>(z + <usize>i * S);
    const p = g + <usize>i * S;
    if (kind == 0) {
      if (!(x > <T>0)) store<T>(p, <T>0);
    } else if (kind == 1) {
      const t = tanhOf<T>(x);
      store<T>(p, load<T>(p) * (<T>1 - t * t));
    } else {
      const t = tanhOf<T>(<T>GELU_C * (x + <T>0.044715 * x * x * x));
      store<T>(p, load<T>(p) * (<T>0.5 * (<T>1 + t) + <T>0.5 * x * (<T>1 - t * t) * <T>GELU_C * (<T>1 + <T>3 * <T>0.044715 * x * x)));
    }
  }
}

function layerNorm<T>(a: usize, count: i32, width: i32, gain: usize, bias: usize, xhat: usize, rstd: usize, out: usize): void {
  const S = <usize>sizeof<T>();
  for (let i = 0; i < count; i++) {
    const row = a + <usize>(i * width) * S;
    let mean: f64 = 0;
    for (let j = 0; j < width; j++) mean += <f64>load<T>(row + <usize>j * S);
    mean /= width;
    let v: f64 = 0;
    for (let j = 0; j < width; j++) {
      const dev = <f64>load<T>(row + <usize>j * S) - mean;
      v += dev * dev;
    }
    const r = 1 / Math.sqrt(v / width + 1e-5);
    store<T>(rstd + <usize>i * S, <T>r);
    for (let j = 0; j < width; j++) {
      const x = <T>((<f64>load<T>(row + <usize>j * S) - mean) * r);
      store<T>(xhat + <usize>(i * width + j) * S, x);
      store<T>(out + <usize>(i * width + j) * S, x * load<T>(gain + <usize>j * S) + load<T>(bias + <usize>j * S));
    }
  }
}

function layerNormBackward<T>(gOut: usize, count: i32, width: i32, gain: usize, xhat: usize, rstd: usize, dGain: usize, dBias: usize, gIn: usize): void {
  const S = <usize>sizeof<T>();
  for (let j = 0; j < width; j++) {
    store<T>(dGain + <usize>j * S, <T>0);
    store<T>(dBias + <usize>j * S, <T>0);
  }
  for (let i = 0; i < count; i++) {
    const base = <usize>(i * width) * S;
    let meanG: f64 = 0;
    let meanGX: f64 = 0;
    for (let j = 0; j < width; j++) {
      const g = load<T>(gOut + base + <usize>j * S);
      const x = load<T>(xhat + base + <usize>j * S);
      store<T>(dGain + <usize>j * S, load<T>(dGain + <usize>j * S) + g * x);
      store<T>(dBias + <usize>j * S, load<T>(dBias + <usize>j * S) + g);
      const dx = <f64>(g * load<T>(gain + <usize>j * S));
      meanG += dx;
      meanGX += dx * <f64>x;
    }
    meanG /= width;
    meanGX /= width;
    const r = <f64>load<T>(rstd + <usize>i * S);
    for (let j = 0; j < width; j++) {
      const dx = <f64>(load<T>(gOut + base + <usize>j * S) * load<T>(gain + <usize>j * S));
      store<T>(gIn + base + <usize>j * S, <T>(r * (dx - meanG - <f64>load<T>(xhat + base + <usize>j * S) * meanGX)));
    }
  }
}

/** out[o] = Σ_i g[i, o] for g count×width, 16 bytes of columns at a time. */
function columnSums<T>(g: usize, count: i32, width: i32, out: usize): void {
  const S = <usize>sizeof<T>();
  const rowBytes = <usize>width * S;
  const vecEnd = rowBytes - (rowBytes % 16);
  for (let o: usize = 0; o < rowBytes; o += S) store<T>(out + o, <T>0);
  for (let i = 0; i < count; i++) {
    const row = g + <usize>i * rowBytes;
    let o: usize = 0;
    for (; o < vecEnd; o += 16) v128.store(out + o, v128.add<T>(v128.load(out + o), v128.load(row + o)));
    for (; o < rowBytes; o += S) store<T>(out + o, load<T>(out + o) + load<T>(row + o));
  }
}

/** Mean loss over count·out elements; when dF ≠ 0, writes ∂(mean loss)/∂f there. */
function meanLoss<T>(arch: usize, f: usize, Y: usize, rows: usize, rowStart: i32, count: i32, outDim: i32, dF: usize): f64 {
  const S = <usize>sizeof<T>();
  const m = <f64>(count * outDim);
  const student = word(arch, 4) == 1;
  const df = load<f64>(arch, 48);
  const scale = load<f64>(arch, 56);
  const tScale = df * scale * scale;
  let total: f64 = 0;
  for (let i = 0; i < count; i++) {
    const yRow = rows != 0 ? load<i32>(rows + (<usize>i << 2)) : rowStart + i;
    for (let o = 0; o < outDim; o++) {
      const r = <f64>load<T>(f + <usize>(i * outDim + o) * S) - <f64>load<T>(Y + <usize>(yRow * outDim + o) * S);
      if (!student) {
        total += r * r;
        if (dF != 0) store<T>(dF + <usize>(i * outDim + o) * S, <T>((2 * r) / m));
      } else {
        const q = (r * r) / tScale;
        total += 0.5 * (df + 1) * Math.log1p(q);
        if (dF != 0) store<T>(dF + <usize>(i * outDim + o) * S, <T>(((df + 1) * r) / (tScale * (1 + q)) / m));
      }
    }
  }
  return total / m;
}

/** Forward pass; returns the address of the output (count × out_dim). */
function forward<T>(arch: usize, item: usize, scratch: usize): usize {
  const S = <usize>sizeof<T>();
  const theta = <usize>load<u32>(item, 0);
  const X = <usize>load<u32>(item, 4);
  const rows = <usize>load<u32>(item, 12);
  const rowStart = load<i32>(item, 16);
  const count = load<i32>(item, 20);
  const layers = word(arch, 0);
  const inDim = word(arch, 1);
  const activation = word(arch, 3);

  let h: usize;
  if (rows != 0) {
    h = at<T>(scratch, word(arch, 6));
    const bytes = <usize>inDim * S;
    for (let i = 0; i < count; i++) memory.copy(h + <usize>i * bytes, X + <usize>load<i32>(rows + (<usize>i << 2)) * bytes, bytes);
  } else {
    h = X + <usize>(rowStart * inDim) * S;
  }
  for (let l = 0; l < layers; l++) {
    const lin = layerWord(arch, l, 0);
    const lout = layerWord(arch, l, 1);
    const w = theta + <usize>layerWord(arch, l, 2) * S;
    const b = layerWord(arch, l, 3);
    const pre = at<T>(scratch, layerWord(arch, l, 8));
    if (b >= 0) for (let i = 0; i < count; i++) memory.copy(pre + <usize>(i * lout) * S, theta + <usize>b * S, <usize>lout * S);
    gemmNT<T>(count, lout, lin, h, lin, w, lin, pre, lout, b >= 0);
    if (layerWord(arch, l, 6) == 0) {
      h = pre;
      continue;
    }
    const post = at<T>(scratch, layerWord(arch, l, 9));
    const n = count * lout;
    const lnGain = layerWord(arch, l, 4);
    if (lnGain >= 0) {
      const act = at<T>(scratch, layerWord(arch, l, 10));
      activate<T>(activation, pre, act, n);
      layerNorm<T>(act, count, lout, theta + <usize>lnGain * S, theta + <usize>layerWord(arch, l, 5) * S, at<T>(scratch, layerWord(arch, l, 11)), at<T>(scratch, layerWord(arch, l, 12)), post);
    } else {
      activate<T>(activation, pre, post, n);
    }
    if (layerWord(arch, l, 7) != 0) for (let j = 0; j < n; j++) store<T>(post + <usize>j * S, load<T>(post + <usize>j * S) + load<T>(h + <usize>j * S));
    h = post;
  }
  return h;
}

export function lossOnly<T>(arch: usize, item: usize, scratch: usize): void {
  const f = forward<T>(arch, item, scratch);
  const loss = meanLoss<T>(arch, f, <usize>load<u32>(item, 8), <usize>load<u32>(item, 12), load<i32>(item, 16), load<i32>(item, 20), word(arch, 2), 0);
  store<f64>(<usize>load<u32>(item, 28), loss);
}

export function lossAndGrad<T>(arch: usize, item: usize, scratch: usize): void {
  const S = <usize>sizeof<T>();
  const f = forward<T>(arch, item, scratch);
  const theta = <usize>load<u32>(item, 0);
  const X = <usize>load<u32>(item, 4);
  const rows = <usize>load<u32>(item, 12);
  const rowStart = load<i32>(item, 16);
  const count = load<i32>(item, 20);
  const grad = <usize>load<u32>(item, 24);
  const layers = word(arch, 0);
  const inDim = word(arch, 1);
  const activation = word(arch, 3);
  const last = layers - 1;
  const loss = meanLoss<T>(arch, f, <usize>load<u32>(item, 8), rows, rowStart, count, word(arch, 2), at<T>(scratch, layerWord(arch, last, 13)));
  store<f64>(<usize>load<u32>(item, 28), loss);

  const gPre = at<T>(scratch, word(arch, 7));
  for (let l = last; l >= 0; l--) {
    const lin = layerWord(arch, l, 0);
    const lout = layerWord(arch, l, 1);
    const n = count * lout;
    const gOut = at<T>(scratch, layerWord(arch, l, 13));
    const h = l == 0 ? (rows != 0 ? at<T>(scratch, word(arch, 6)) : X + <usize>(rowStart * inDim) * S) : (layerWord(arch, l - 1, 6) != 0 ? at<T>(scratch, layerWord(arch, l - 1, 9)) : at<T>(scratch, layerWord(arch, l - 1, 8)));
    let g = gOut;
    if (layerWord(arch, l, 6) != 0) {
      const lnGain = layerWord(arch, l, 4);
      if (lnGain >= 0) {
        layerNormBackward<T>(gOut, count, lout, theta + <usize>lnGain * S, at<T>(scratch, layerWord(arch, l, 11)), at<T>(scratch, layerWord(arch, l, 12)), grad + <usize>lnGain * S, grad + <usize>layerWord(arch, l, 5) * S, gPre);
      } else {
        memory.copy(gPre, gOut, <usize>n * S);
      }
      activationBackward<T>(activation, at<T>(scratch, layerWord(arch, l, 8)), gPre, n);
      g = gPre;
    }
    // dW = gᵀ·h, written straight into the gradient (W is out×in row-major).
    gemm<T>(lout, lin, count, g, lout, true, h, lin, grad + <usize>layerWord(arch, l, 2) * S, lin, false);
    const b = layerWord(arch, l, 3);
    if (b >= 0) {
      const db = grad + <usize>b * S;
      columnSums<T>(g, count, lout, db);
    }
    if (l > 0) {
      const gIn = at<T>(scratch, layerWord(arch, l - 1, 13));
      gemm<T>(count, lin, lout, g, lout, false, theta + <usize>layerWord(arch, l, 2) * S, lin, gIn, lin, false);
      if (layerWord(arch, l, 7) != 0) for (let j = 0; j < count * lin; j++) store<T>(gIn + <usize>j * S, load<T>(gIn + <usize>j * S) + load<T>(gOut + <usize>j * S));
    }
  }
}

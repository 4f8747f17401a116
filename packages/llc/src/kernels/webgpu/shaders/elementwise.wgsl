// The elementwise and per-row parts of the backward pass, and LayerNorm, for every chain at once.
// Tensors are chains × rows × width, row-major; parameters and their gradients are chains × d.
// Elementwise entry points take a two-dimensional grid of 256-thread workgroups (element
// g.x + g.y·256·groups.x), so that more than 65,535 workgroups' worth of elements fit one dispatch.

struct Params {
  rows: u32, width: u32, chains: u32, d: u32,
  activation: u32, accumulate: u32, paramOff: u32, paramOff2: u32,
  skip: u32, pad0: u32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

const LN_EPS: f32 = 1e-5;

// g ← g ⊙ act′(z).
@group(0) @binding(1) var<storage, read> Z: array<f32>;
@group(0) @binding(2) var<storage, read_write> G: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn activationBackward(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  let e = g.x + g.y * n.x * 256u;
  if (e >= p.chains * p.rows * p.width) { return; }
  let x = Z[e];
  switch p.activation {
    case 0u: { G[e] = select(0.0, G[e], x > 0.0); }
    case 1u: {
      let t = tanhSafe(x);
      G[e] = G[e] * (1.0 - t * t);
    }
    case 2u: {
      let t = tanhSafe(GELU_C * (x + 0.044715 * x * x * x));
      G[e] = G[e] * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * 0.044715 * x * x));
    }
    default: {}
  }
}

// O ← O + I (a skip connection's gradient), or O ← I when accumulate is 0.
@group(0) @binding(3) var<storage, read> I: array<f32>;
@group(0) @binding(4) var<storage, read_write> O: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn add(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  let e = g.x + g.y * n.x * 256u;
  if (e >= p.chains * p.rows * p.width) { return; }
  if (p.accumulate == 1u) { O[e] = O[e] + I[e]; } else { O[e] = I[e]; }
}

// The bias gradient: grad[paramOff + c·d + o] (+)= Σ_i G[c][i][o], rows in order.
@group(0) @binding(5) var<storage, read> Gin: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn columnSums(@builtin(global_invocation_id) g: vec3u) {
  let o = g.x;
  let c = g.y;
  if (o >= p.width) { return; }
  var s = 0.0;
  for (var i = 0u; i < p.rows; i++) { s += Gin[(c * p.rows + i) * p.width + o]; }
  let at = p.paramOff + c * p.d + o;
  if (p.accumulate == 1u) { s = grad[at] + s; }
  grad[at] = s;
}

// LayerNorm of each row: xhat = (a − mean)·rstd, out = xhat·gain + bias (+ the layer's input when
// skip is 1). Gain at paramOff, bias at paramOff2 in theta.
@group(0) @binding(7) var<storage, read> theta: array<f32>;
@group(0) @binding(8) var<storage, read> act: array<f32>;
@group(0) @binding(9) var<storage, read_write> xhat: array<f32>;
@group(0) @binding(10) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(11) var<storage, read_write> outLn: array<f32>;
@group(0) @binding(12) var<storage, read> skipIn: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn layerNorm(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x;
  let c = g.y;
  if (i >= p.rows) { return; }
  let base = (c * p.rows + i) * p.width;
  var mean = 0.0;
  for (var j = 0u; j < p.width; j++) { mean += act[base + j]; }
  mean = mean / f32(p.width);
  var v = 0.0;
  for (var j = 0u; j < p.width; j++) {
    let dev = act[base + j] - mean;
    v += dev * dev;
  }
  let r = 1.0 / sqrt(v / f32(p.width) + LN_EPS);
  rstd[c * p.rows + i] = r;
  for (var j = 0u; j < p.width; j++) {
    let x = (act[base + j] - mean) * r;
    xhat[base + j] = x;
    var y = x * theta[p.paramOff + c * p.d + j] + theta[p.paramOff2 + c * p.d + j];
    if (p.skip == 1u) { y += skipIn[base + j]; }
    outLn[base + j] = y;
  }
}

// LayerNorm backward: the input gradient of each row, from the output gradient gOut.
@group(0) @binding(13) var<storage, read> gOut: array<f32>;
@group(0) @binding(14) var<storage, read> xhatIn: array<f32>;
@group(0) @binding(15) var<storage, read> rstdIn: array<f32>;

@group(0) @binding(16) var<storage, read_write> gInLn: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn layerNormBackward(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x;
  let c = g.y;
  if (i >= p.rows) { return; }
  let base = (c * p.rows + i) * p.width;
  var meanG = 0.0;
  var meanGX = 0.0;
  for (var j = 0u; j < p.width; j++) {
    let dx = gOut[base + j] * theta[p.paramOff + c * p.d + j];
    meanG += dx;
    meanGX += dx * xhatIn[base + j];
  }
  meanG = meanG / f32(p.width);
  meanGX = meanGX / f32(p.width);
  let r = rstdIn[c * p.rows + i];
  for (var j = 0u; j < p.width; j++) {
    let dx = gOut[base + j] * theta[p.paramOff + c * p.d + j];
    gInLn[base + j] = r * (dx - meanG - xhatIn[base + j] * meanGX);
  }
}

// LayerNorm's gain and bias gradients: Σ_i gOut·xhat and Σ_i gOut per column, rows in order.
@compute @workgroup_size(64, 1, 1)
fn layerNormParams(@builtin(global_invocation_id) g: vec3u) {
  let j = g.x;
  let c = g.y;
  if (j >= p.width) { return; }
  var dGain = 0.0;
  var dBias = 0.0;
  for (var i = 0u; i < p.rows; i++) {
    let at = (c * p.rows + i) * p.width + j;
    dGain += gOut[at] * xhatIn[at];
    dBias += gOut[at];
  }
  let gainAt = p.paramOff + c * p.d + j;
  let biasAt = p.paramOff2 + c * p.d + j;
  if (p.accumulate == 1u) {
    dGain += grad[gainAt];
    dBias += grad[biasAt];
  }
  grad[gainAt] = dGain;
  grad[biasAt] = dBias;
}

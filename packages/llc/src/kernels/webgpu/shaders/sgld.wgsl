// The SGLD update of every chain (packages/llc/src/samplers/sgld.ts), one thread per parameter:
//   w ← w − ½·εP⊙(γ(w − w*) + nβ·drift) + √(εP)⊙ξ,
// with ξ element c·d + j of the normal stream of the step's key: the (e mod 2)-th Box–Muller
// normal of Threefry-2x32-20 block ⌊e/2⌋, the stream every kernel draws (packages/llc/src/rng.ts),
// computed with the float32 log and sin/cos polynomials of the CPU kernels' float32 generator
// rather than WGSL's builtins, whose accuracy the standard leaves loose.

struct Params {
  d: u32, chains: u32, pad0: u32, pad1: u32,
}


@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read_write> w: array<f32>;
@group(0) @binding(3) var<storage, read> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> m: array<f32>;
@group(0) @binding(5) var<storage, read_write> v: array<f32>;
@group(0) @binding(6) var<storage, read> center: array<f32>;

fn rotl(x: u32, r: u32) -> u32 {
  return (x << r) | (x >> (32u - r));
}

// Threefry-2x32 with 20 rounds (Salmon et al. 2011) of counter (c0, c1) under key (k0, k1).
fn threefry(k0: u32, k1: u32, c0: u32, c1: u32) -> vec2u {
  let ks2 = k0 ^ k1 ^ 0x1bd11bdau;
  let ks = array<u32, 3>(k0, k1, ks2);
  let rot = array<u32, 8>(13u, 15u, 26u, 6u, 17u, 29u, 16u, 24u);
  var x0 = c0 + k0;
  var x1 = c1 + k1;
  for (var block = 0u; block < 5u; block++) {
    for (var r = 0u; r < 4u; r++) {
      x0 = x0 + x1;
      x1 = rotl(x1, rot[(block % 2u) * 4u + r]) ^ x0;
    }
    x0 = x0 + ks[(block + 1u) % 3u];
    x1 = x1 + ks[(block + 2u) % 3u] + block + 1u;
  }
  return vec2u(x0, x1);
}

// ln x for x in (0, 1]: exponent, mantissa in [√½, √2), then 2·atanh((m − 1)/(m + 1)).
fn logF32(x: f32) -> f32 {
  let bits = bitcast<u32>(x);
  var e = i32(bits >> 23u) - 127;
  var m = bitcast<f32>((bits & 0x007fffffu) | 0x3f800000u);
  if (m > 1.4142135623730951) {
    m = m * 0.5;
    e = e + 1;
  }
  let s = (m - 1.0) / (m + 1.0);
  let s2 = s * s;
  var q = 1.0 / 9.0;
  q = q * s2 + 1.0 / 7.0;
  q = q * s2 + 1.0 / 5.0;
  q = q * s2 + 1.0 / 3.0;
  q = q * s2 + 1.0;
  return f32(e) * 0.6931471805599453 + (q * s) * 2.0;
}

// Element e of the normal stream of key (k0, k1).
fn normalAt(k0: u32, k1: u32, e: u32) -> f32 {
  let x = threefry(k0, k1, 0u, e >> 1u);
  let scale = 2.3283064365386963e-10;
  let u1 = (f32(x.x) + 0.5) * scale;
  let u2 = (f32(x.y) + 0.5) * scale;
  let r = sqrt(-2.0 * logF32(u1));
  // 2π·u2 = q·π/2 + f with f in [−π/4, π/4].
  let t = u2 * 4.0;
  let qf = round(t);
  let f = (t - qf) * 1.5707963267948966;
  let q = u32(qf);
  let f2 = f * f;
  var sp = 1.0 / 362880.0;
  sp = sp * f2 - 1.0 / 5040.0;
  sp = sp * f2 + 1.0 / 120.0;
  sp = sp * f2 - 1.0 / 6.0;
  sp = sp * f2 + 1.0;
  let sinF = sp * f;
  var cp = -1.0 / 3628800.0;
  cp = cp * f2 + 1.0 / 40320.0;
  cp = cp * f2 - 1.0 / 720.0;
  cp = cp * f2 + 1.0 / 24.0;
  cp = cp * f2 - 0.5;
  let cosF = cp * f2 + 1.0;
  let odd = (q & 1u) == 1u;
  var sinT = select(sinF, cosF, odd);
  var cosT = select(cosF, sinF, odd);
  if ((q & 2u) != 0u) { sinT = -sinT; }
  if (((q + 1u) & 2u) != 0u) { cosT = -cosT; }
  return select(r * cosT, r * sinT, (e & 1u) == 1u);
}

@compute @workgroup_size(256, 1, 1)
fn update(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  let e = g.x + g.y * n.x * 256u;
  if (e >= p.chains * p.d) { return; }
  let j = e % p.d;
  let gr = grad[e];
  var precondition = 1.0;
  var drift = gr;
  if (step.precond != 0u) {
    let vj = step.beta2 * v[e] + (1.0 - step.beta2) * gr * gr;
    v[e] = vj;
    precondition = 1.0 / (sqrt(vj / step.bias2) + step.eps);
    if (step.precond == 2u) {
      let mj = step.beta1 * m[e] + (1.0 - step.beta1) * gr;
      m[e] = mj;
      drift = mj / step.bias1;
    }
  }
  let ep = step.stepSize * precondition;
  let wj = w[e];
  w[e] = wj - 0.5 * ep * (step.gamma * (wj - center[j]) + step.nBeta * drift) + sqrt(ep) * normalAt(step.keyHi, step.keyLo, e);
}

// The pieces of a leapfrog step of HMC on U(w) = nβ·L(w) + (γ/2)·‖w − w*‖² (Posterior.leapfrog),
// every chain at once, so that a whole trajectory runs on the device: the momentum kick, the
// position drift, ∇L turned into ∇U, and U from the loss and a fixed-order sum of ‖w − w*‖².
// Elementwise entry points take the two-dimensional grid of elementwise.wgsl.

struct Params {
  d: u32, chains: u32, nBeta: f32, gamma: f32,
  // Elements of the loss (n·out_dim), which the loss total is divided by.
  elements: f32, pad0: u32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;
@group(0) @binding(2) var<storage, read_write> mom: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;
@group(0) @binding(4) var<storage, read> invMass: array<f32>;
@group(0) @binding(5) var<storage, read> step: array<f32>;
@group(0) @binding(6) var<storage, read> center: array<f32>;
@group(0) @binding(7) var<storage, read> total: array<f32>;
@group(0) @binding(8) var<storage, read_write> potential: array<f32>;

// p ← p − ½ε·∇U.
@compute @workgroup_size(256, 1, 1)
fn kick(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  let e = g.x + g.y * n.x * 256u;
  if (e >= p.chains * p.d) { return; }
  mom[e] = mom[e] - 0.5 * step[e / p.d] * grad[e];
}

// q ← q + ε·M⁻¹p.
@compute @workgroup_size(256, 1, 1)
fn drift(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  let e = g.x + g.y * n.x * 256u;
  if (e >= p.chains * p.d) { return; }
  q[e] = q[e] + step[e / p.d] * invMass[e] * mom[e];
}

// ∇U = nβ·∇L + γ·(q − w*), in place of ∇L.
@compute @workgroup_size(256, 1, 1)
fn combine(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  let e = g.x + g.y * n.x * 256u;
  if (e >= p.chains * p.d) { return; }
  grad[e] = p.nBeta * grad[e] + p.gamma * (q[e] - center[e % p.d]);
}

var<workgroup> sums: array<f32, 256>;

// U = nβ·L + (γ/2)·‖q − w*‖², one workgroup per chain: thread t sums coordinates t, t + 256, …
// in order, then a fixed tree adds the threads.
@compute @workgroup_size(256, 1, 1)
fn potentialOf(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let c = wg.x;
  var s = 0.0;
  for (var j = li; j < p.d; j += 256u) {
    let x = q[c * p.d + j] - center[j];
    s += x * x;
  }
  sums[li] = s;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride = stride / 2u) {
    if (li < stride) { sums[li] = sums[li] + sums[li + stride]; }
    workgroupBarrier();
  }
  if (li == 0u) { potential[c] = p.nBeta * (total[c] / p.elements) + 0.5 * p.gamma * sums[0]; }
}

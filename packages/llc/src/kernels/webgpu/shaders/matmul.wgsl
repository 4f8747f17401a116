// C = op(A)·op(B) for every chain at once (workgroup z = chain), in 64 × 64 tiles staged through
// workgroup memory, each of the 16 × 16 threads accumulating a 4 × 4 block over k in order. The
// strides say how each operand is laid out, so one shader does the three products of an MLP:
//   forward   Z = H·Wᵀ (+ b), then D = act(Z) (+ H for a skip connection)
//   backward  dW (+)= Gᵀ·H       dH = G·W
// Element (i, k) of A for chain c is A[aOff + c·aBatch + i·aRow + k·aCol], element (k, j) of B
// likewise, element (i, j) of C is C[cOff + c·cBatch + i·N + j]. The bias, when bias ≥ 0, is
// B[bias + c·bBatch + j] (weights and biases share the parameter buffer).

struct Params {
  M: u32, N: u32, K: u32, accumulate: u32,
  aOff: u32, aBatch: u32, aRow: u32, aCol: u32,
  bOff: u32, bBatch: u32, bRow: u32, bCol: u32,
  cOff: u32, cBatch: u32, bias: i32, epilogue: u32,
  activation: u32, skip: u32, pad0: u32, pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<storage, read_write> D: array<f32>;

const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;

var<workgroup> As: array<f32, 1024>; // TM × TK, element (i, k) at i·TK + k
var<workgroup> Bs: array<f32, 1024>; // TK × TN, element (k, j) at k·TN + j

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let c = wg.z;
  let i0 = wg.y * TM;
  let j0 = wg.x * TN;
  let aBase = p.aOff + c * p.aBatch;
  let bBase = p.bOff + c * p.bBatch;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    for (var e = li; e < TM * TK; e += 256u) {
      let gi = i0 + e / TK;
      let gk = k0 + e % TK;
      var v = 0.0;
      if (gi < p.M && gk < p.K) { v = A[aBase + gi * p.aRow + gk * p.aCol]; }
      As[e] = v;
    }
    for (var e = li; e < TK * TN; e += 256u) {
      let gk = k0 + e / TN;
      let gj = j0 + e % TN;
      var v = 0.0;
      if (gk < p.K && gj < p.N) { v = B[bBase + gk * p.bRow + gj * p.bCol]; }
      Bs[e] = v;
    }
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var r = 0u; r < 4u; r++) { a[r] = As[(lid.y * 4u + r) * TK + k]; }
      for (var s = 0u; s < 4u; s++) { b[s] = Bs[k * TN + lid.x * 4u + s]; }
      for (var r = 0u; r < 4u; r++) {
        for (var s = 0u; s < 4u; s++) { acc[r][s] = acc[r][s] + a[r] * b[s]; }
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < 4u; r++) {
    for (var s = 0u; s < 4u; s++) {
      let i = i0 + lid.y * 4u + r;
      let j = j0 + lid.x * 4u + s;
      if (i < p.M && j < p.N) {
        var z = acc[r][s];
        if (p.bias >= 0) { z += B[u32(p.bias) + c * p.bBatch + j]; }
        let at = p.cOff + c * p.cBatch + i * p.N + j;
        if (p.accumulate == 1u) { z += C[at]; }
        C[at] = z;
        if (p.epilogue == 1u) {
          var y = activate(p.activation, z);
          if (p.skip == 1u) { y += A[aBase + i * p.aRow + j * p.aCol]; }
          D[at] = y;
        }
      }
    }
  }
}

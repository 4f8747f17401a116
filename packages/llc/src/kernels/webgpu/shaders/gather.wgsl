// The rows a pass works on, copied per chain into H0 (count × in_dim) and Yb (count × out_dim):
// a minibatch (each chain its own rows, from the step's slice of the rows buffer) or a contiguous
// block of the full data (the same rows for every chain). One thread per chain and row.

struct Params {
  count: u32, inDim: u32, outDim: u32, chains: u32,
  // Contiguous rows from rowStart when useRows is 0; else rows[rowsBase + step.rowsOffset + c·count + i].
  rowStart: u32, useRows: u32, rowsBase: u32, pad0: u32,
}


@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read> Y: array<f32>;
@group(0) @binding(4) var<storage, read> rows: array<u32>;
@group(0) @binding(5) var<storage, read_write> H0: array<f32>;
@group(0) @binding(6) var<storage, read_write> Yb: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x;
  let c = g.y;
  if (i >= p.count) { return; }
  var src = p.rowStart + i;
  if (p.useRows == 1u) { src = rows[p.rowsBase + step.rowsOffset + c * p.count + i]; }
  let dst = c * p.count + i;
  for (var k = 0u; k < p.inDim; k++) { H0[dst * p.inDim + k] = X[src * p.inDim + k]; }
  for (var o = 0u; o < p.outDim; o++) { Yb[dst * p.outDim + o] = Y[src * p.outDim + o]; }
}

// PQ lookup tables for a batch of queries: luts[slot][j][c] = internal distance between the
// query's j-th sub-vector and centroid c of subspace j (squared L2, or negated inner product).
// One thread per (slot, j, c).
struct Params {
  total: u32,  // slots * m * 256
  m: u32,
  dsub: u32,
  metric: u32,
  dim: u32,
  groupsX: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<storage, read> codebooks: array<f32>; // [j][c][t]
@group(0) @binding(1) var<storage, read> queries: array<f32>;   // [slot][dim]
@group(0) @binding(2) var<storage, read_write> luts: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = (wg.y * params.groupsX + wg.x) * 64u + lid;
  if (g >= params.total) {
    return;
  }
  let c = g % 256u;
  let j = (g / 256u) % params.m;
  let slot = g / (256u * params.m);
  let qBase = slot * params.dim + j * params.dsub;
  let cBase = (j * 256u + c) * params.dsub;
  var s = 0.0;
  for (var t = 0u; t < params.dsub; t++) {
    let q = queries[qBase + t];
    let x = codebooks[cBase + t];
    if (params.metric == 0u) {
      let d = q - x;
      s += d * d;
    } else {
      s -= q * x;
    }
  }
  luts[g] = s;
}

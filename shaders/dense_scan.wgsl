// Exact search, step 1: distances from a block of queries to every item of one store chunk.
// One thread per (query, item); out[q * outStride + idBase + i]. Smaller is better.
struct Params {
  nq: u32,         // queries in the block
  n: u32,          // items in this chunk
  vecsPerRow: u32,
  metric: u32,     // 0 = squared L2, 1 = inner product (negated)
  outStride: u32,  // items in the whole store (row length of the output matrix)
  idBase: u32,     // global id of this chunk's first item
  groupsX: u32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> items: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> queries: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = (wg.y * params.groupsX + wg.x) * 64u + lid;
  if (t >= params.nq * params.n) {
    return;
  }
  let q = t / params.n;
  let i = t % params.n;
  let qBase = q * params.vecsPerRow;
  let iBase = i * params.vecsPerRow;
  var s = 0.0;
  for (var c = 0u; c < params.vecsPerRow; c++) {
    let a = queries[qBase + c];
    let b = items[iBase + c];
    if (params.metric == 0u) {
      let d = a - b;
      s += dot(d, d);
    } else {
      s += dot(a, b);
    }
  }
  out[q * params.outStride + params.idBase + i] = select(-s, s, params.metric == 0u);
}

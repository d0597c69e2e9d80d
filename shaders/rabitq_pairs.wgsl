// RaBitQ estimates for (query slot, item) pairs, the arithmetic of resident_rabitq.wgsl (rows
// and query slots laid out alike): S = sum_j 2^j sum_k 2^k popcount(code_j AND query_k) in
// integers, exactly the CPU's, then add + constant + sign * rescale * (step S + low sx -
// middle sum) in f32. One thread per pair; ids are local to the bound chunk; id 0xffffffff (an
// empty neighbour slot) reads nothing and scores far.
struct Params {
  count: u32,       // pairs in this dispatch
  groupsX: u32,     // workgroups along x (the dispatch is 2-D beyond 65535 groups)
  base: u32,        // index of this dispatch's first pair
  positions: u32,   // u32 words per plane: the rotated dimension / 32
  bits: u32,        // code planes
  rowWords: u32,    // u32 words per row: bits * positions of code, then add, rescale, sx
  queryWords: u32,  // u32 words per query slot: step, low, middle * sum, constant, then 4 * positions of planes
  metric: u32,      // 0 = squared L2 (sign -2), 1 = inner product (sign -1)
}

@group(0) @binding(0) var<storage, read> rows: array<u32>;
@group(0) @binding(1) var<storage, read> queries: array<u32>;
@group(0) @binding(2) var<storage, read> pairs: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let local = (wg.y * params.groupsX + wg.x) * 64u + lid;
  if (local >= params.count) {
    return;
  }
  let p = params.base + local;
  let id = pairs[2u * p + 1u];
  if (id == 0xffffffffu) {
    out[p] = 3.4e38;
    return;
  }
  let row = id * params.rowWords;
  let qb = pairs[2u * p] * params.queryWords;
  var s = 0u;
  for (var u = 0u; u < params.positions; u++) {
    let i = u >> 2u;
    let w = u & 3u;
    let q = qb + 4u + 16u * i + w;
    let q0 = queries[q];
    let q1 = queries[q + 4u];
    let q2 = queries[q + 8u];
    let q3 = queries[q + 12u];
    let x0 = row + 4u * params.bits * i + w;
    for (var j = 0u; j < params.bits; j++) {
      let x = rows[x0 + 4u * j];
      let t = countOneBits(x & q0) + 2u * countOneBits(x & q1) + 4u * countOneBits(x & q2) + 8u * countOneBits(x & q3);
      s += t << j;
    }
  }
  let f = row + params.bits * params.positions;
  let add = bitcast<f32>(rows[f]);
  let rescale = bitcast<f32>(rows[f + 1u]);
  let sx = bitcast<f32>(rows[f + 2u]);
  let step = bitcast<f32>(queries[qb]);
  let low = bitcast<f32>(queries[qb + 1u]);
  let middleSum = bitcast<f32>(queries[qb + 2u]);
  let constant = bitcast<f32>(queries[qb + 3u]);
  let sign = select(-1.0, -2.0, params.metric == 0u);
  out[p] = (add + constant) + (sign * rescale) * ((step * f32(s) + low * sx) - middleSum);
}

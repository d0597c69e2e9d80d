// Sparse inner product (and L2 through norms) for (query slot, item) pairs. Each query is
// scattered into a dense row of `dim` floats, so an item costs one gather per non-zero.
struct Params {
  count: u32,
  dim: u32,
  metric: u32, // 0 = squared L2 (|q|^2 + |x|^2 - 2 q.x), 1 = inner product (negated)
  groupsX: u32,
}

@group(0) @binding(0) var<storage, read> indptr: array<u32>;
@group(0) @binding(1) var<storage, read> indices: array<u32>;
@group(0) @binding(2) var<storage, read> values: array<f32>;
@group(0) @binding(3) var<storage, read> queries: array<f32>;   // [slot][dim], dense scatter
@group(0) @binding(4) var<storage, read> norms: array<f32>;     // item norms, then slot norms
@group(0) @binding(5) var<storage, read> pairs: array<u32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let p = (wg.y * params.groupsX + wg.x) * 64u + lid;
  if (p >= params.count) {
    return;
  }
  let slot = pairs[2u * p];
  let id = pairs[2u * p + 1u];
  if (id == 0xffffffffu) {
    out[p] = 3.4e38; // an empty neighbour slot
    return;
  }
  let qBase = slot * params.dim;
  var s = 0.0;
  for (var j = indptr[id]; j < indptr[id + 1u]; j++) {
    s += queries[qBase + indices[j]] * values[j];
  }
  if (params.metric == 0u) {
    let n = arrayLength(&indptr) - 1u;
    out[p] = norms[id] + norms[n + slot] - 2.0 * s;
  } else {
    out[p] = -s;
  }
}

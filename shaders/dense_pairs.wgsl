// Dense L2 / inner-product distances for a list of (query slot, item id) pairs.
// One workgroup per pair: 64 threads stride over the row's vec4s, then a tree reduction.
// Rows are padded with zeros to a multiple of 4 components (zeros change neither metric).
// Pair p (global index base + local) reads pairs[2p], pairs[2p+1] and writes out[p]; item ids
// are local to the bound chunk of the store; id 0xffffffff (an empty neighbour slot) scores far.
struct Params {
  count: u32,      // pairs in this dispatch
  vecsPerRow: u32, // vec4s per row
  metric: u32,     // 0 = squared L2, 1 = inner product (written negated: smaller is better)
  groupsX: u32,    // workgroups along x (the dispatch is 2-D when count > 65535)
  base: u32,       // index of this dispatch's first pair
}

@group(0) @binding(0) var<storage, read> items: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> queries: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> pairs: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> partial: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let local = wg.y * params.groupsX + wg.x;
  if (local >= params.count) {
    return;
  }
  let p = params.base + local;
  let id = pairs[2u * p + 1u];
  let qBase = pairs[2u * p] * params.vecsPerRow;
  let iBase = id * params.vecsPerRow;
  // An empty neighbour slot (id 0xffffffff) reads nothing and scores as far.
  let n = select(params.vecsPerRow, 0u, id == 0xffffffffu);
  var s = 0.0;
  for (var i = lid; i < n; i += 64u) {
    let a = queries[qBase + i];
    let b = items[iBase + i];
    if (params.metric == 0u) {
      let d = a - b;
      s += dot(d, d);
    } else {
      s += dot(a, b);
    }
  }
  partial[lid] = s;
  workgroupBarrier();
  for (var stride = 32u; stride > 0u; stride = stride >> 1u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    out[p] = select(select(-partial[0], partial[0], params.metric == 0u), 3.4e38, id == 0xffffffffu);
  }
}

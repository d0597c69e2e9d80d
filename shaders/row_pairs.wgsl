// L2 / inner-product distances for a list of (query slot, item id) pairs over rows of vec4s,
// the part the dense and f16/SQ8 pair kernels share. It is compiled after a row snippet
// (dense_pairs.wgsl, scalar_pairs.wgsl) that binds the items (binding 0, and any from 5 on)
// and defines
//   fn rowBase(id: u32) -> u32               where item `id`'s row starts in its items array
//   fn component(base: u32, i: u32) -> vec4<f32>   the row's i-th vec4, decoded
// One workgroup per pair: 64 threads stride over the row's vec4s, then a tree reduction.
// Rows are padded with zeros to whole vec4s (zeros change neither metric). Pair p (global
// index base + local) reads pairs[2p], pairs[2p+1] and writes out[p]; item ids are local to
// the bound chunk of the store; id 0xffffffff (an empty neighbour slot) reads nothing and
// scores far.
struct Params {
  count: u32,     // pairs in this dispatch
  vecs: u32,      // vec4s per row (and per query)
  metric: u32,    // 0 = squared L2, 1 = inner product (written negated: smaller is better)
  groupsX: u32,   // workgroups along x (the dispatch is 2-D when count > 65535)
  base: u32,      // index of this dispatch's first pair
  encoding: u32,  // the row snippet's own (scalar_pairs: 0 = f16, 1 = SQ8)
  _pad0: u32,
  _pad1: u32,
}

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
  let qBase = pairs[2u * p] * params.vecs;
  let iBase = rowBase(id);
  let n = select(params.vecs, 0u, id == 0xffffffffu);
  var s = 0.0;
  for (var i = lid; i < n; i += 64u) {
    let a = queries[qBase + i];
    let b = component(iBase, i);
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

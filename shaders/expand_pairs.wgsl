// Hybrid search, GPU-side gather: turns each expanded (query slot, node) into the (slot,
// neighbour) pairs of the node's level-0 links, read from the uploaded graph, so the host
// uploads one pair per expanded node instead of one per neighbour. Empty link slots become
// (slot, 0xffffffff), which the pair kernels score as far. One thread per output pair.
struct Params {
  total: u32,   // expansions x m0
  m0: u32,      // level-0 links per node (the graph's stride is m0 + 1)
  groupsX: u32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> graph0: array<u32>;
@group(0) @binding(1) var<storage, read> expansions: array<u32>; // (slot, node) pairs
@group(0) @binding(2) var<storage, read_write> pairs: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let p = (wg.y * params.groupsX + wg.x) * 64u + lid;
  if (p >= params.total) {
    return;
  }
  let e = p / params.m0;
  let i = p - e * params.m0;
  let node = expansions[2u * e + 1u];
  let base = node * (params.m0 + 1u);
  pairs[2u * p] = expansions[2u * e];
  pairs[2u * p + 1u] = select(0xffffffffu, graph0[base + 1u + i], i < graph0[base]);
}

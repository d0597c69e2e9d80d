// Store snippet of the resident kernel (beam_resident.wgsl) for plain sparse vectors (CSR).
// Each query of the dispatch is scattered into a dense row of DIM floats, so an item costs one
// gather per non-zero; the team's lanes stride over the item's non-zeros. Not chunked: a store
// whose non-zeros exceed one binding stays on the hybrid path.
override DIM: u32;
override NITEMS: u32;         // items in the store: slot norms follow theirs
override METRIC: u32;          // 0 = squared L2 (|q|^2 + |x|^2 - 2 q.x), 1 = inner product

@group(0) @binding(4) var<storage, read> queries: array<f32>;   // [slot][DIM]
@group(0) @binding(5) var<storage, read> indptr: array<u32>;
@group(0) @binding(6) var<storage, read> indices: array<u32>;
@group(0) @binding(7) var<storage, read> values: array<f32>;
@group(0) @binding(8) var<storage, read> norms: array<f32>;     // item norms, then slot norms

fn teamPartial(slot: u32, id: u32, lane: u32) -> f32 {
  let qb = slot * DIM;
  var s = 0.0;
  for (var j = indptr[id] + lane; j < indptr[id + 1u]; j += TEAM) {
    s += queries[qb + indices[j]] * values[j];
  }
  return s;
}

fn teamFinish(slot: u32, id: u32, s: f32) -> f32 {
  if (METRIC == 0u) {
    return norms[NITEMS + slot] + norms[id] - 2.0 * s;
  }
  return -s;
}

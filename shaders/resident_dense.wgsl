// Store snippet of the resident kernel (beam_resident.wgsl) for plain dense vectors: rows padded
// to whole vec4s, split into chunks of ROWS_PER_CHUNK rows (one binding each). The host
// generates `storeRow(chunk, index)` and the chunk bindings at the marker below.
override VECS: u32;            // vec4s per row
override ROWS_PER_CHUNK: u32;
override METRIC: u32;          // 0 = squared L2, 1 = inner product

@group(0) @binding(4) var<storage, read> queries: array<vec4<f32>>; // [slot][VECS]

// @chunks vec4<f32>

fn teamPartial(slot: u32, id: u32, lane: u32) -> f32 {
  let c = id / ROWS_PER_CHUNK;
  let row = (id - c * ROWS_PER_CHUNK) * VECS;
  let qb = slot * VECS;
  var s = 0.0;
  for (var i = lane; i < VECS; i += TEAM) {
    let a = queries[qb + i];
    let b = storeRow(c, row + i);
    if (METRIC == 0u) {
      let d = a - b;
      s += dot(d, d);
    } else {
      s += dot(a, b);
    }
  }
  return s;
}

fn teamFinish(slot: u32, id: u32, s: f32) -> f32 {
  return select(-s, s, METRIC == 0u);
}

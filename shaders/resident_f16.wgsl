// Store snippet of the resident kernel (beam_resident.wgsl) for f16 codes: two halves per u32,
// unpacked with unpack2x16float (no shader-f16 feature needed), rows of VECS vec4s (padded to
// 16 components on the CPU already), chunked like dense rows.
override VECS: u32;            // vec4s per row (two u32 words each)
override ROWS_PER_CHUNK: u32;
override METRIC: u32;          // 0 = squared L2, 1 = inner product

@group(0) @binding(4) var<storage, read> queries: array<vec4<f32>>; // [slot][VECS]

// @chunks u32

fn teamPartial(slot: u32, id: u32, lane: u32) -> f32 {
  let c = id / ROWS_PER_CHUNK;
  let row = (id - c * ROWS_PER_CHUNK) * VECS * 2u;
  let qb = slot * VECS;
  var s = 0.0;
  for (var i = lane; i < VECS; i += TEAM) {
    let a = queries[qb + i];
    let b = vec4<f32>(unpack2x16float(storeRow(c, row + 2u * i)), unpack2x16float(storeRow(c, row + 2u * i + 1u)));
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

// Store snippet of the resident kernel (beam_resident.wgsl) for SQ8 codes: four bytes per u32,
// x = min + step * code with code from unpack4x8unorm (code / 255; step = scale * 255), rows
// of VECS words (padded to 16 components on the CPU already), chunked like dense rows.
override VECS: u32;            // u32 words (= vec4s of components) per row
override ROWS_PER_CHUNK: u32;
override METRIC: u32;          // 0 = squared L2, 1 = inner product

@group(0) @binding(4) var<storage, read> queries: array<vec4<f32>>; // [slot][VECS]
@group(0) @binding(5) var<storage, read> mins: array<vec4<f32>>;    // [VECS]
@group(0) @binding(6) var<storage, read> steps: array<vec4<f32>>;   // [VECS]

// @chunks u32

fn teamPartial(slot: u32, id: u32, lane: u32) -> f32 {
  let c = id / ROWS_PER_CHUNK;
  let row = (id - c * ROWS_PER_CHUNK) * VECS;
  let qb = slot * VECS;
  var s = 0.0;
  for (var i = lane; i < VECS; i += TEAM) {
    let a = queries[qb + i];
    let b = mins[i] + steps[i] * unpack4x8unorm(storeRow(c, row + i));
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

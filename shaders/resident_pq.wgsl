// Store snippet of the resident kernel (beam_resident.wgsl) for PQ codes: asymmetric distances
// from per-query lookup tables (pq_lut.wgsl fills them in the same submit, before the search).
// Codes are packed 4 per u32, rows padded to whole words, chunked like dense rows.
override MSUB: u32;            // subspaces
override WORDS: u32;           // u32 words per row of codes
override ROWS_PER_CHUNK: u32;

@group(0) @binding(4) var<storage, read> luts: array<f32>; // [slot][MSUB][256]

// @chunks u32

fn teamPartial(slot: u32, id: u32, lane: u32) -> f32 {
  let c = id / ROWS_PER_CHUNK;
  let row = (id - c * ROWS_PER_CHUNK) * WORDS;
  let lb = slot * MSUB * 256u;
  var s = 0.0;
  for (var j = lane; j < MSUB; j += TEAM) {
    let word = storeRow(c, row + (j >> 2u));
    let code = (word >> ((j & 3u) * 8u)) & 255u;
    s += luts[lb + j * 256u + code];
  }
  return s;
}

fn teamFinish(slot: u32, id: u32, s: f32) -> f32 {
  return s;
}

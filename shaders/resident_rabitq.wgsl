// Store snippet of the resident kernel (beam_resident.wgsl) for RaBitQ codes (see
// src/quant/rabitq/encoding.ts). A row holds the item's code as the CPU keeps it (BITS planes per
// 128-component chunk: plane j of chunk i at words 4 (i BITS + j) .. +3), then its factors add,
// rescale and sx (f32 bits); rows are chunked like dense rows. A query slot holds step, low,
// middle * sum and the constant (f32 bits), then the query's 4 planes per chunk (plane k of
// chunk i at words 4 (4i + k) .. +3). Each lane takes words of the rotated vector and adds up
// S = sum_j 2^j sum_k 2^k popcount(code_j AND query_k) in integers; the team's lane sums are
// f32 but exact (the host keeps this kernel to stores whose S stays below 2^24), so
// teamFinish combines the CPU's integer S with the factors, in f32.
override POSITIONS: u32;       // u32 words per plane: the rotated dimension / 32
override BITS: u32;            // code planes
override WORDS: u32;           // u32 words per row: BITS * POSITIONS of code, then 3 factors
override QUERY_WORDS: u32;     // u32 words per query slot: 4 constants, then 4 * POSITIONS of planes
override ROWS_PER_CHUNK: u32;
override SIGN: f32;            // -2 (l2) or -1 (ip): how the estimated <o', q'> enters the distance

@group(0) @binding(4) var<storage, read> queries: array<u32>; // [slot][QUERY_WORDS]

// @chunks u32

fn teamPartial(slot: u32, id: u32, lane: u32) -> f32 {
  let c = id / ROWS_PER_CHUNK;
  let row = (id - c * ROWS_PER_CHUNK) * WORDS;
  let qb = slot * QUERY_WORDS + 4u;
  var s = 0u;
  for (var u = lane; u < POSITIONS; u += TEAM) {
    // Word w of chunk i, in the query's four planes and in each code plane.
    let i = u >> 2u;
    let w = u & 3u;
    let q = qb + 16u * i + w;
    let q0 = queries[q];
    let q1 = queries[q + 4u];
    let q2 = queries[q + 8u];
    let q3 = queries[q + 12u];
    let x0 = row + 4u * BITS * i + w;
    for (var j = 0u; j < BITS; j++) {
      let x = storeRow(c, x0 + 4u * j);
      let t = countOneBits(x & q0) + 2u * countOneBits(x & q1) + 4u * countOneBits(x & q2) + 8u * countOneBits(x & q3);
      s += t << j;
    }
  }
  return f32(s);
}

fn teamFinish(slot: u32, id: u32, s: f32) -> f32 {
  let c = id / ROWS_PER_CHUNK;
  let f = (id - c * ROWS_PER_CHUNK) * WORDS + BITS * POSITIONS;
  let add = bitcast<f32>(storeRow(c, f));
  let rescale = bitcast<f32>(storeRow(c, f + 1u));
  let sx = bitcast<f32>(storeRow(c, f + 2u));
  let qb = slot * QUERY_WORDS;
  let step = bitcast<f32>(queries[qb]);
  let low = bitcast<f32>(queries[qb + 1u]);
  let middleSum = bitcast<f32>(queries[qb + 2u]);
  let constant = bitcast<f32>(queries[qb + 3u]);
  return (add + constant) + (SIGN * rescale) * ((step * s + low * sx) - middleSum);
}

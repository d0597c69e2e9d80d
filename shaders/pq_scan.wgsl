// Exact (exhaustive) ADC scan: every item of one chunk of codes against a block of queries'
// lookup tables. One thread per (query, item); out[q * outStride + idBase + i].
struct Params {
  nq: u32,
  n: u32,
  m: u32,
  wordsPerRow: u32,
  outStride: u32,
  idBase: u32,
  groupsX: u32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> codes: array<u32>;
@group(0) @binding(1) var<storage, read> luts: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = (wg.y * params.groupsX + wg.x) * 64u + lid;
  if (t >= params.nq * params.n) {
    return;
  }
  let q = t / params.n;
  let i = t % params.n;
  let lBase = q * params.m * 256u;
  let cBase = i * params.wordsPerRow;
  var s = 0.0;
  for (var j = 0u; j < params.m; j++) {
    let word = codes[cBase + (j >> 2u)];
    s += luts[lBase + j * 256u + ((word >> ((j & 3u) * 8u)) & 255u)];
  }
  out[q * params.outStride + params.idBase + i] = s;
}

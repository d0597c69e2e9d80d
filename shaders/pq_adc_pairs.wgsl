// ADC scoring of (query slot, item) pairs: the sum over subspaces of the slot's lookup-table
// entry for the item's code. Codes are packed 4 per u32 (rows padded to whole words).
// One thread per pair; ids are local to the bound chunk of codes.
struct Params {
  count: u32,
  m: u32,
  wordsPerRow: u32,
  groupsX: u32,
  base: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read> codes: array<u32>;
@group(0) @binding(1) var<storage, read> luts: array<f32>;
@group(0) @binding(2) var<storage, read> pairs: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let local = (wg.y * params.groupsX + wg.x) * 64u + lid;
  if (local >= params.count) {
    return;
  }
  let p = params.base + local;
  if (pairs[2u * p + 1u] == 0xffffffffu) {
    out[p] = 3.4e38; // an empty neighbour slot
    return;
  }
  let lBase = pairs[2u * p] * params.m * 256u;
  let cBase = pairs[2u * p + 1u] * params.wordsPerRow;
  var s = 0.0;
  for (var j = 0u; j < params.m; j++) {
    let word = codes[cBase + (j >> 2u)];
    let code = (word >> ((j & 3u) * 8u)) & 255u;
    s += luts[lBase + j * 256u + code];
  }
  out[p] = s;
}

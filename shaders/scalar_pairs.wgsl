// f16 / SQ8 distances for a list of (query slot, item id) pairs, decoding the codes in the
// shader: f16 rows hold two halves per u32 (unpack2x16float: no shader-f16 feature needed),
// SQ8 rows four bytes per u32 (x = min + step * code, unpack4x8unorm giving code / 255 and
// step = scale * 255). Rows are padded to 16 components on the CPU, so a row is whole vec4s.
// Layout and reduction as in dense_pairs.wgsl: one workgroup per pair, 64 threads over the
// row's vec4s, a tree reduction; item ids are local to the bound chunk; id 0xffffffff (an
// empty neighbour slot) scores far.
struct Params {
  count: u32,     // pairs in this dispatch
  vecs: u32,      // vec4s of components per row
  metric: u32,    // 0 = squared L2, 1 = inner product (written negated: smaller is better)
  groupsX: u32,   // workgroups along x (the dispatch is 2-D when count > 65535)
  base: u32,      // index of this dispatch's first pair
  encoding: u32,  // 0 = f16 (2 words per vec4), 1 = SQ8 (1 word per vec4)
  pad0: u32,
  pad1: u32,
}

@group(0) @binding(0) var<storage, read> items: array<u32>;
@group(0) @binding(1) var<storage, read> queries: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> pairs: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;
@group(0) @binding(5) var<storage, read> mins: array<vec4<f32>>;   // SQ8 only: [vecs]
@group(0) @binding(6) var<storage, read> steps: array<vec4<f32>>;  // SQ8 only: [vecs]

var<workgroup> partial: array<f32, 64>;

fn component(iBase: u32, i: u32) -> vec4<f32> {
  if (params.encoding == 0u) {
    return vec4<f32>(unpack2x16float(items[iBase + 2u * i]), unpack2x16float(items[iBase + 2u * i + 1u]));
  }
  return mins[i] + steps[i] * unpack4x8unorm(items[iBase + i]);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let local = wg.y * params.groupsX + wg.x;
  if (local >= params.count) {
    return;
  }
  let p = params.base + local;
  let id = pairs[2u * p + 1u];
  let qBase = pairs[2u * p] * params.vecs;
  let wordsPerRow = select(2u * params.vecs, params.vecs, params.encoding == 1u);
  let iBase = id * wordsPerRow;
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

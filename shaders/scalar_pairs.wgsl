// Row snippet of row_pairs.wgsl for f16 / SQ8 codes, decoded in the shader: f16 rows hold two
// halves per u32 (unpack2x16float: no shader-f16 feature needed), SQ8 rows four bytes per u32
// (x = min + step * code, unpack4x8unorm giving code / 255 and step = scale * 255). Rows are
// padded to 16 components on the CPU, so a row is whole vec4s. params.encoding: 0 = f16 (two
// words per vec4), 1 = SQ8 (one word per vec4).
@group(0) @binding(0) var<storage, read> items: array<u32>;
@group(0) @binding(5) var<storage, read> mins: array<vec4<f32>>;   // SQ8 only: [vecs]
@group(0) @binding(6) var<storage, read> steps: array<vec4<f32>>;  // SQ8 only: [vecs]

fn rowBase(id: u32) -> u32 {
  return id * select(2u * params.vecs, params.vecs, params.encoding == 1u);
}

fn component(base: u32, i: u32) -> vec4<f32> {
  if (params.encoding == 0u) {
    return vec4<f32>(unpack2x16float(items[base + 2u * i]), unpack2x16float(items[base + 2u * i + 1u]));
  }
  return mins[i] + steps[i] * unpack4x8unorm(items[base + i]);
}

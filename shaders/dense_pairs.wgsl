// Row snippet of row_pairs.wgsl for plain dense rows: f32 vec4s, padded with zeros to whole
// vec4s on the CPU.
@group(0) @binding(0) var<storage, read> items: array<vec4<f32>>;

fn rowBase(id: u32) -> u32 {
  return id * params.vecs;
}

fn component(base: u32, i: u32) -> vec4<f32> {
  return items[base + i];
}

// Top-k selection, one pass: each workgroup sorts a segment of SEG (1024, or 2048 for k > 512)
// (distance, id) entries of one row in workgroup memory (bitonic sort, ties broken by smaller
// id) and writes its best k. The host repeats passes over the survivors until one segment per
// row remains. 2048 entries take 16 KiB of workgroup memory, WebGPU's guaranteed minimum.
struct Params {
  len: u32,         // entries per input row
  segs: u32,        // segments per row = ceil(len / SEG)
  k: u32,           // survivors per segment (<= SEG / 2)
  implicitIds: u32, // 1: the id of entry e is e (first pass over a distance matrix)
}

@group(0) @binding(0) var<storage, read> inDist: array<f32>;
@group(0) @binding(1) var<storage, read> inIds: array<u32>;
@group(0) @binding(2) var<storage, read_write> outDist: array<f32>;
@group(0) @binding(3) var<storage, read_write> outIds: array<u32>;
@group(0) @binding(4) var<uniform> params: Params;

override SEG: u32 = 1024u; // a power of two, 1024 or 2048
override PER_THREAD: u32 = SEG / 256u;
var<workgroup> kd: array<f32, SEG>;
var<workgroup> ki: array<u32, SEG>;

fn worse(a: u32, b: u32) -> bool {
  return kd[a] > kd[b] || (kd[a] == kd[b] && ki[a] > ki[b]);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let seg = wg.x;
  let row = wg.y;
  for (var e = 0u; e < PER_THREAD; e++) {
    let i = lid + e * 256u;
    let pos = seg * SEG + i;
    if (pos < params.len) {
      kd[i] = inDist[row * params.len + pos];
      ki[i] = select(inIds[row * params.len + pos], pos, params.implicitIds == 1u);
    } else {
      kd[i] = 3.4e38;
      ki[i] = 0xffffffffu;
    }
  }
  workgroupBarrier();
  for (var size = 2u; size <= SEG; size = size << 1u) {
    for (var stride = size >> 1u; stride > 0u; stride = stride >> 1u) {
      for (var e = 0u; e < PER_THREAD; e++) {
        let i = lid + e * 256u;
        let l = i ^ stride;
        if (l > i) {
          let ascending = (i & size) == 0u;
          if (worse(i, l) == ascending) {
            let td = kd[i];
            kd[i] = kd[l];
            kd[l] = td;
            let ti = ki[i];
            ki[i] = ki[l];
            ki[l] = ti;
          }
        }
      }
      workgroupBarrier();
    }
  }
  let outLen = params.segs * params.k;
  for (var e = 0u; e < PER_THREAD; e++) {
    let i = lid + e * 256u;
    if (i < params.k) {
      outDist[row * outLen + seg * params.k + i] = kd[i];
      outIds[row * outLen + seg * params.k + i] = ki[i];
    }
  }
}

// k-means assignment: the nearest centroid (squared L2) of every point, and the distance to it.
// One thread per point.
struct Params {
  n: u32,
  k: u32,
  dim: u32,
  groupsX: u32,
}

@group(0) @binding(0) var<storage, read> points: array<f32>;
@group(0) @binding(1) var<storage, read> centroids: array<f32>;
@group(0) @binding(2) var<storage, read_write> assign: array<u32>;
@group(0) @binding(3) var<storage, read_write> dist: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * params.groupsX + wg.x) * 64u + lid;
  if (i >= params.n) {
    return;
  }
  var best = 0u;
  var bestD = 3.4e38;
  for (var c = 0u; c < params.k; c++) {
    var d = 0.0;
    for (var t = 0u; t < params.dim; t++) {
      let e = points[i * params.dim + t] - centroids[c * params.dim + t];
      d += e * e;
    }
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  assign[i] = best;
  dist[i] = bestD;
}

import { checkInteger, fail } from '../../errors.js';
import { Rng } from '../../util/rng.js';

/** Options of kmeans. */
export interface KMeansOptions {
  /** Lloyd iterations at most (stops early when assignments settle). Default 15. */
  maxIterations?: number;
  /** Seed of the k-means++ start. Default 1. */
  seed?: number;
}

/**
 * k-means with k-means++ seeding over n points of dimension dim (row-major). k-means++ picks
 * each new centre with probability proportional to its squared distance from the nearest
 * centre so far: it spreads the start over the data and avoids the dead centres a random
 * start leaves. Empty clusters are re-seeded from the point farthest from its centre.
 * Returns k x dim centroids.
 */
export function kmeans(points: Float32Array, dim: number, k: number, options: KMeansOptions = {}): Float32Array {
  const state = startKmeans(points, dim, k, options);
  for (let iter = 0; iter < state.maxIterations; iter++) {
    const changed = assignPoints(points, dim, state.centroids, k, state.assign, state.dist);
    if (!updateCentroids(state, changed, iter)) break;
  }
  return state.centroids;
}

/**
 * The same k-means with the assignment step supplied by the caller (e.g. the GPU): it writes
 * assignments and distances and returns how many changed.
 */
export async function kmeansWith(
  points: Float32Array,
  dim: number,
  k: number,
  options: KMeansOptions,
  assignStep: (centroids: Float32Array, assign: Int32Array, dist: Float64Array) => Promise<number>,
): Promise<Float32Array> {
  const state = startKmeans(points, dim, k, options);
  for (let iter = 0; iter < state.maxIterations; iter++) {
    const changed = await assignStep(state.centroids, state.assign, state.dist);
    if (!updateCentroids(state, changed, iter)) break;
  }
  return state.centroids;
}

interface KmeansState {
  points: Float32Array;
  dim: number;
  k: number;
  maxIterations: number;
  centroids: Float32Array;
  assign: Int32Array;
  dist: Float64Array;
  sums: Float64Array;
  counts: Int32Array;
}

function startKmeans(points: Float32Array, dim: number, k: number, options: KMeansOptions): KmeansState {
  const n = points.length / dim;
  checkInteger('k', k, 1);
  if (n < k) fail('INVALID_ARGUMENT', `k-means needs at least k = ${k} training points, got ${n}`);
  const maxIterations = checkInteger('maxIterations', options.maxIterations ?? 15, 0);
  const rng = new Rng(options.seed ?? 1);
  return {
    points,
    dim,
    k,
    maxIterations,
    centroids: seedPlusPlus(points, dim, k, rng),
    assign: new Int32Array(n).fill(-1),
    dist: new Float64Array(n),
    sums: new Float64Array(k * dim),
    counts: new Int32Array(k),
  };
}

/** Lloyd's update; returns false when the assignment has settled (stop iterating). */
function updateCentroids(s: KmeansState, changed: number, iter: number): boolean {
  if (changed === 0 && iter > 0) return false;
  const { points, dim, k, centroids, assign, dist, sums, counts } = s;
  const n = points.length / dim;
  sums.fill(0);
  counts.fill(0);
  for (let i = 0; i < n; i++) {
    const c = assign[i]!;
    counts[c]!++;
    for (let j = 0; j < dim; j++) sums[c * dim + j]! += points[i * dim + j]!;
  }
  for (let c = 0; c < k; c++) {
    if (counts[c] === 0) {
      // Re-seed an empty cluster at the worst-served point, then forget that point's distance.
      let worst = 0;
      for (let i = 1; i < n; i++) if (dist[i]! > dist[worst]!) worst = i;
      for (let j = 0; j < dim; j++) centroids[c * dim + j] = points[worst * dim + j]!;
      dist[worst] = 0;
      continue;
    }
    for (let j = 0; j < dim; j++) centroids[c * dim + j] = sums[c * dim + j]! / counts[c]!;
  }
  return true;
}

function seedPlusPlus(points: Float32Array, dim: number, k: number, rng: Rng): Float32Array {
  const n = points.length / dim;
  const centroids = new Float32Array(k * dim);
  const nearest = new Float64Array(n).fill(Infinity);
  let pick = rng.nextInt(n);
  for (let c = 0; c < k; c++) {
    centroids.set(points.subarray(pick * dim, (pick + 1) * dim), c * dim);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d = sqDist(points, i * dim, centroids, c * dim, dim);
      if (d < nearest[i]!) nearest[i] = d;
      total += nearest[i]!;
    }
    if (total === 0) {
      pick = rng.nextInt(n); // all points coincide with centres: any pick will do
      continue;
    }
    let r = rng.nextOpenUnit() * total;
    pick = n - 1;
    for (let i = 0; i < n; i++) {
      r -= nearest[i]!;
      if (r <= 0) {
        pick = i;
        break;
      }
    }
  }
  return centroids;
}

/** Nearest centroid of every point; returns how many assignments changed. */
export function assignPoints(
  points: Float32Array,
  dim: number,
  centroids: Float32Array,
  k: number,
  assign: Int32Array,
  dist: Float64Array,
): number {
  const n = points.length / dim;
  let changed = 0;
  for (let i = 0; i < n; i++) {
    const best = nearestCentroid(points, i * dim, centroids, 0, k, dim);
    if (assign[i] !== best) changed++;
    assign[i] = best;
    dist[i] = sqDist(points, i * dim, centroids, best * dim, dim);
  }
  return changed;
}

/**
 * Index of the centroid (of k, at cOff) nearest to x[xOff..xOff+dim). Unrolled by 4 over the
 * dimension: PQ sub-vectors are short (often 4 to 16), so loop overhead dominates otherwise.
 */
export function nearestCentroid(x: Float32Array, xOff: number, centroids: Float32Array, cOff: number, k: number, dim: number): number {
  let best = 0;
  let bestD = Infinity;
  const end4 = dim & ~3;
  for (let c = 0, co = cOff; c < k; c++, co += dim) {
    let d0 = 0;
    let d1 = 0;
    let t = 0;
    for (; t < end4; t += 4) {
      const e0 = x[xOff + t]! - centroids[co + t]!;
      const e1 = x[xOff + t + 1]! - centroids[co + t + 1]!;
      const e2 = x[xOff + t + 2]! - centroids[co + t + 2]!;
      const e3 = x[xOff + t + 3]! - centroids[co + t + 3]!;
      d0 += e0 * e0 + e1 * e1;
      d1 += e2 * e2 + e3 * e3;
    }
    for (; t < dim; t++) {
      const e = x[xOff + t]! - centroids[co + t]!;
      d0 += e * e;
    }
    const d = d0 + d1;
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

export function sqDist(a: Float32Array, aOff: number, b: Float32Array, bOff: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) {
    const d = a[aOff + j]! - b[bOff + j]!;
    s += d * d;
  }
  return s;
}

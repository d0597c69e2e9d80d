/**
 * The seeded synthetic datasets of the peer benchmark (`synthetic-200k`, `synthetic-1m`):
 * 128-d, squared L2, clustered. They exist to measure the libraries at a scale no shipped real
 * set reaches (build time, RSS, QPS at 1M); their recall says how hard this generator is, not
 * how any library does on real embeddings (that stays on MNIST, bge and splade).
 *
 * Shape, and why:
 *  - n / 200 clusters (1,000 at 200k, 5,000 at 1M, 100 in a 20k smoke run): the same mean
 *    cluster size at every n. Centres are N(0.5, 0.18^2) per coordinate ("[0,1]-ish"), so two
 *    centres lie ~2.9 apart, and nearest ones closer.
 *  - point = centre + Gaussian noise whose scale differs per cluster and per coordinate: each
 *    cluster has its own overall scale (0.2 to 0.5 per coordinate, so clusters of different
 *    tightness) and its own decaying spectrum over a random order of the coordinates (the j-th
 *    gets 1 / sqrt(1 + j / 8): the top 32 of 128 hold 57 % of the variance), so clusters are
 *    elongated, each in other directions, not round. A point lies ~1 to ~2.4 from its centre,
 *    so neighbouring clusters overlap. Tight, well separated blobs make the search trivial
 *    (find the cluster, scan it); isotropic 128-d noise makes every distance nearly equal
 *    (random data, pathologically hard). Tuned with webannolo (M=16, efC=200) on 20k-100k
 *    sets: at 100k, recall@10 0.82 at ef 10, 0.96 at ef 32, 0.99 at ef 64; it gets harder as n
 *    grows (more clusters share the same space), as real sets do.
 *  - cluster sizes vary: each point picks its cluster with probability proportional to a
 *    per-cluster weight in [0.5, 1.5).
 *  - queries come from the same clusters and noise model but another seed stream, so they are
 *    never base points.
 * Rng is SplitMix32, one cycle of 2^32 states that a seed only enters at a different place;
 * the three streams (centres and cluster shapes, base, queries) start a quarter and a half
 * cycle apart (seed ^ 2^30, seed ^ 2^31), far beyond the ~1.7e8 draws 1M points take, so they
 * never overlap. Gaussians: Marsaglia's polar method on the same Rng. The same Node binary
 * regenerates bit-identical data in every worker process (the cached ground truth is checked
 * against it when loaded).
 */
import { DenseDataset } from '../src/data/dense.js';
import { Rng } from '../src/util/rng.js';

export const SYNTHETIC_DIM = 128;
/** Items per cluster on average. */
export const POINTS_PER_CLUSTER = 200;
/** Bumped whenever the generator changes, so a cached ground truth of the old data is not reused. */
export const SYNTHETIC_VERSION = 1;

const CENTRE_SPREAD = 0.18;
const SCALE_MIN = 0.2;
const SCALE_MAX = 0.5;
const SPECTRUM_DECAY = 8;

export interface SyntheticModel {
  dim: number;
  clusters: number;
  /** clusters x dim centres. */
  centres: Float32Array;
  /** clusters x dim noise scale per coordinate (overall scale x spectrum over a random order). */
  scales: Float32Array;
  /** Cumulative cluster weights (last = 1). */
  cumulative: Float64Array;
}

/** Cluster centres, shapes and weights for a base of `n` items (deterministic in seed and n). */
export function syntheticModel(n: number, seed: number, dim = SYNTHETIC_DIM): SyntheticModel {
  const clusters = Math.max(1, Math.round(n / POINTS_PER_CLUSTER));
  const rng = new Rng((seed ^ 0x40000000) >>> 0);
  const gauss = gaussian(rng);
  const centres = new Float32Array(clusters * dim);
  for (let i = 0; i < centres.length; i++) centres[i] = 0.5 + CENTRE_SPREAD * gauss();
  const spectrum = new Float64Array(dim);
  for (let j = 0; j < dim; j++) spectrum[j] = 1 / Math.sqrt(1 + j / SPECTRUM_DECAY);
  const scales = new Float32Array(clusters * dim);
  const order = new Int32Array(dim);
  const weights = new Float64Array(clusters);
  let total = 0;
  for (let c = 0; c < clusters; c++) {
    const s = SCALE_MIN + (SCALE_MAX - SCALE_MIN) * (rng.nextU32() / 4294967296);
    for (let j = 0; j < dim; j++) order[j] = j;
    for (let j = dim - 1; j > 0; j--) {
      const r = rng.nextInt(j + 1);
      const t = order[j]!;
      order[j] = order[r]!;
      order[r] = t;
    }
    for (let j = 0; j < dim; j++) scales[c * dim + order[j]!] = s * spectrum[j]!;
    weights[c] = 0.5 + rng.nextU32() / 4294967296;
    total += weights[c]!;
  }
  const cumulative = new Float64Array(clusters);
  let acc = 0;
  for (let c = 0; c < clusters; c++) cumulative[c] = acc += weights[c]! / total;
  cumulative[clusters - 1] = 1;
  return { dim, clusters, centres, scales, cumulative };
}

/** `count` points of the model from seed stream `streamSeed`. */
export function samplePoints(model: SyntheticModel, count: number, streamSeed: number): DenseDataset {
  const { dim, centres, scales, cumulative } = model;
  const rng = new Rng(streamSeed >>> 0);
  const out = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    const from = pick(cumulative, rng.nextU32() / 4294967296) * dim;
    const at = i * dim;
    // A fresh pair source per point: an odd dimension drops its last spare, as before.
    const gauss = gaussian(rng);
    for (let d = 0; d < dim; d++) out[at + d] = centres[from + d]! + scales[from + d]! * gauss();
  }
  return new DenseDataset(out, dim);
}

/** Base (n items) and queries (nq) of the synthetic set for `seed`. */
export function syntheticData(n: number, nq: number, seed: number): { base: DenseDataset; queries: DenseDataset; clusters: number } {
  const model = syntheticModel(n, seed);
  const base = samplePoints(model, n, seed);
  const queries = samplePoints(model, nq, (seed ^ 0x80000000) >>> 0);
  return { base, queries, clusters: model.clusters };
}

/** Standard normal draws (polar method, the second value of each pair kept for the next call). */
function gaussian(rng: Rng): () => number {
  let spare = 0;
  let hasSpare = false;
  return () => {
    if (hasSpare) {
      hasSpare = false;
      return spare;
    }
    let u = 0;
    let v = 0;
    let s = 0;
    do {
      u = rng.nextU32() / 2147483648 - 1;
      v = rng.nextU32() / 2147483648 - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    spare = v * f;
    hasSpare = true;
    return u * f;
  };
}

/** First index whose cumulative weight exceeds u (binary search). */
function pick(cumulative: Float64Array, u: number): number {
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cumulative[mid]! > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

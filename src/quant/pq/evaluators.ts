import type { Metric, QueryEvaluator } from '../../types.js';
import { PQ_KSUB, type PqCodebook } from './codebook.js';

/**
 * The m x 256 table of internal distances from each query sub-vector to each centroid:
 * squared L2 for 'l2', the negated partial inner product for 'ip'. Sums of m entries give
 * the distance to any code.
 */
export function buildLookupTable(pq: PqCodebook, query: Float32Array, metric: Metric): Float32Array {
  const { m, dsub } = pq;
  const cb = pq.codebooks;
  const lut = new Float32Array(m * PQ_KSUB);
  for (let j = 0; j < m; j++) {
    const qo = j * dsub;
    for (let c = 0; c < PQ_KSUB; c++) {
      const co = (j * PQ_KSUB + c) * dsub;
      let s = 0;
      if (metric === 'l2') {
        for (let t = 0; t < dsub; t++) {
          const e = query[qo + t]! - cb[co + t]!;
          s += e * e;
        }
      } else {
        for (let t = 0; t < dsub; t++) s -= query[qo + t]! * cb[co + t]!;
      }
      lut[j * PQ_KSUB + c] = s;
    }
  }
  return lut;
}

export class PqEvaluator implements QueryEvaluator {
  private readonly codes: Uint8Array;
  private readonly m: number;
  constructor(
    store: { readonly codes: Uint8Array; readonly pq: { readonly m: number } },
    /** The query's lookup table: m x 256 partial distances, subspace by subspace. */
    readonly lut: Float32Array,
  ) {
    this.codes = store.codes;
    this.m = store.pq.m;
  }
  distance(id: number): number {
    const { codes, lut, m } = this;
    const base = id * m;
    let s0 = 0;
    let s1 = 0;
    let j = 0;
    for (; j + 1 < m; j += 2) {
      s0 += lut[(j << 8) + codes[base + j]!]!;
      s1 += lut[((j + 1) << 8) + codes[base + j + 1]!]!;
    }
    if (j < m) s0 += lut[(j << 8) + codes[base + j]!]!;
    return s0 + s1;
  }
  distances(ids: Uint32Array, count: number, out: Float64Array): void {
    for (let i = 0; i < count; i++) out[i] = this.distance(ids[i]!);
  }
}

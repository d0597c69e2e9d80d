import { expect } from 'vitest';
import { type Dataset, FlatIndex, type Metric } from '../../src/index.js';

/**
 * Per-query comparisons of an accelerated search's results with the CPU's on the same queries.
 * A mean recall within 0.01 of the CPU's lets two queries in 200 come back wrong; these check
 * every query: identical ids where the arithmetic is identical, and otherwise a bound on how
 * many ids may differ and how far (by exact distance) a differing id may be from the CPU's k-th.
 */

/** Ids and the number of results per query of a batch search. */
interface Rows {
  readonly ids: Int32Array;
  readonly k?: number;
}

/** Every query's ids are the same, in the same order (the message names the first query that differs). */
export function expectSameIdsPerQuery(actual: Rows, expected: Rows, k: number, what: string): void {
  expect(actual.ids.length).toBe(expected.ids.length);
  for (let q = 0; q < expected.ids.length / k; q++) {
    const a = Array.from(actual.ids.subarray(q * k, (q + 1) * k));
    const e = Array.from(expected.ids.subarray(q * k, (q + 1) * k));
    expect(a, `${what}: query ${q}`).toEqual(e);
  }
}

/**
 * Exact internal distances (smaller is better) from a query to items by id, over the plain
 * vectors: `base` row i is item i.
 */
export function exactDistances(base: Dataset, metric: Metric): (queries: Dataset, q: number, ids: readonly number[]) => Float64Array {
  const store = FlatIndex.build(base, { metric }).store;
  return (queries, q, ids) => {
    const out = new Float64Array(ids.length);
    const ev = store.queryEvaluator(queries.get(q));
    ev.distances(Uint32Array.from(ids), ids.length, out);
    ev.release?.();
    return out;
  };
}

export interface PerQueryBound {
  /** Ids of a query's result that may be missing from the CPU's (0: the same set). */
  readonly maxDiffering: number;
  /**
   * How much worse than the CPU's k-th result (its largest exact distance) a differing id may
   * be, relative to that distance: near-ties may swap, a wrong id cannot hide.
   */
  readonly tolerance: number;
}

/**
 * Dense vectors and f16/SQ8 codes: where the GPU's arithmetic or traversal differs from the
 * CPU's, near-ties may swap: at most 2 ids of 10, each within 2 % of the CPU's k-th distance
 * (a wrong id, e.g. a random MNIST or bge item, is 50 % or more past it).
 */
export const NEAR_TIES: PerQueryBound = { maxDiffering: 2, tolerance: 0.02 };

/**
 * PQ codes without re-ranking: items with equal or nearly equal codes may swap, and their exact
 * distances spread by the codes' error.
 */
export const PQ_TIES: PerQueryBound = { maxDiffering: 2, tolerance: 0.1 };

/**
 * SPLADE's inner products: many near-equal scores, summed in another order on the GPU (on
 * SwiftShader one query in 100 swaps 4 ids, each within 2.7 % of the CPU's k-th).
 */
export const SPARSE_TIES: PerQueryBound = { maxDiffering: 5, tolerance: 0.05 };

export interface PerQueryStats {
  /** The most ids any one query had outside the CPU's result. */
  maxDiffering: number;
  /** Queries with any differing id. */
  queriesDiffering: number;
  /** The worst relative excess of a differing id's exact distance over the CPU's k-th. */
  worstExcess: number;
}

/**
 * Checks every query of `actual` against `cpu` (both k per query): no duplicate or missing
 * ids where the CPU found some, at most `bound.maxDiffering` ids outside the CPU's set, and
 * each such id within `bound.tolerance` of the CPU's k-th exact distance. Returns the figures
 * (the tests log them).
 */
export function expectPerQueryBound(
  actual: Rows,
  cpu: Rows,
  k: number,
  queries: Dataset,
  distances: (queries: Dataset, q: number, ids: readonly number[]) => Float64Array,
  bound: PerQueryBound,
  what: string,
): PerQueryStats {
  const stats: PerQueryStats = { maxDiffering: 0, queriesDiffering: 0, worstExcess: Number.NEGATIVE_INFINITY };
  expect(actual.ids.length).toBe(cpu.ids.length);
  for (let q = 0; q < cpu.ids.length / k; q++) {
    const mine = Array.from(actual.ids.subarray(q * k, (q + 1) * k)).filter((id) => id >= 0);
    const theirs = Array.from(cpu.ids.subarray(q * k, (q + 1) * k)).filter((id) => id >= 0);
    expect(new Set(mine).size, `${what}: query ${q} repeats an id`).toBe(mine.length);
    expect(mine.length, `${what}: query ${q} found fewer items than the CPU`).toBeGreaterThanOrEqual(theirs.length);
    const inCpu = new Set(theirs);
    const differing = mine.filter((id) => !inCpu.has(id));
    stats.maxDiffering = Math.max(stats.maxDiffering, differing.length);
    if (differing.length === 0) continue;
    stats.queriesDiffering++;
    expect(differing.length, `${what}: query ${q} differs from the CPU in ${differing.length} ids`).toBeLessThanOrEqual(bound.maxDiffering);
    const kth = Math.max(...distances(queries, q, theirs));
    for (const d of distances(queries, q, differing)) {
      const excess = (d - kth) / Math.max(1e-6, Math.abs(kth));
      stats.worstExcess = Math.max(stats.worstExcess, excess);
      expect(excess, `${what}: query ${q} returned an id ${excess.toFixed(4)} (relative) worse than the CPU's k-th`).toBeLessThanOrEqual(
        bound.tolerance,
      );
    }
  }
  return stats;
}

/** The figures of expectPerQueryBound as one log line. */
export function describeStats(what: string, s: PerQueryStats): string {
  const worst = s.queriesDiffering === 0 ? '' : `, worst differing id ${(100 * s.worstExcess).toFixed(2)} % past the CPU's k-th`;
  return `${what}: ${s.queriesDiffering} queries differ from the CPU, at most ${s.maxDiffering} ids each${worst}`;
}

import type { Metric, Vector, VectorStore } from '../../../types.js';
import { MaxHeap } from '../../../util/heap.js';
import { emitTopK } from '../../results.js';

/**
 * A search store whose distances are estimates with a confidence bound (RaBitQ): out[i] is
 * the half-width of ids[i]'s interval for `query`. Re-ranking then gives an exact distance
 * only to the candidates whose lower bound can still enter the top k.
 */
interface BoundedEstimates {
  distanceBounds(query: Vector, ids: Uint32Array, count: number, out: Float64Array): void;
}

function boundsOf(store: VectorStore | null): BoundedEstimates | null {
  return store !== null && typeof (store as Partial<BoundedEstimates>).distanceBounds === 'function'
    ? (store as unknown as BoundedEstimates)
    : null;
}

/** Exact distances asked for at once when re-ranking by bounds, after the first k (see rerankWithin). */
const RERANK_BATCH = 4;

/**
 * Turns a query's best candidates (a heap from the CPU beam, or a sorted list from the GPU)
 * into its k results: natural scores, best first, -1 padding; with re-ranking, the best
 * `rerank` candidates are first re-scored by the re-ranking store (plain vectors, or f16 or
 * SQ8 codes of them); each call returns how many it re-scored (a result's `reranked`).
 */
export class ResultWriter {
  private scratchIds = new Uint32Array(256);
  private scratchDists = new Float64Array(256);
  private readonly best = new MaxHeap(64);
  private lower = new Float64Array(256);
  private order = new Uint32Array(256);
  /** Re-ranking by bounds: the ids of one batch of exact distances, and those distances. */
  private batchIds = new Uint32Array(256);
  private batchDists = new Float64Array(256);
  private readonly bounds: BoundedEstimates | null;
  /** Candidates re-ranking considered, and the distances it computed for them (all queries so far, this thread): a running total for benchmarks. */
  readonly rerankCounts = { candidates: 0, exact: 0 };

  constructor(
    private readonly metric: Metric,
    private readonly rerankStore: VectorStore | null,
    /** The store the beam scored: when it bounds its estimates, re-ranking skips what the bounds rule out. */
    searchStore: VectorStore | null = null,
  ) {
    this.bounds = boundsOf(searchStore);
  }

  /**
   * Writes the best k of `top` (emptied) at `offset`; returns the distances re-ranking
   * computed with the re-ranking store (0 without re-ranking).
   */
  fromHeap(top: MaxHeap, query: Vector, k: number, rerank: number, ids: Int32Array, scores: Float32Array, offset: number): number {
    this.ensureScratch(top.size);
    if (rerank === 0 || this.rerankStore === null) {
      emitTopK(top, k, this.metric, ids, scores, offset, this.scratchIds, this.scratchDists);
      return 0;
    }
    const n = top.drainSorted(this.scratchIds, this.scratchDists);
    return this.rerankScratch(n, query, k, rerank, ids, scores, offset);
  }

  /** Writes the best k of candidates[from, from+count) (sorted best first; id -1 ends them); returns as fromHeap. */
  fromSorted(
    candIds: Int32Array,
    candDists: Float32Array,
    from: number,
    count: number,
    query: Vector,
    k: number,
    rerank: number,
    ids: Int32Array,
    scores: Float32Array,
    offset: number,
  ): number {
    this.ensureScratch(count);
    let n = 0;
    while (n < count && candIds[from + n]! >= 0) {
      this.scratchIds[n] = candIds[from + n]!;
      this.scratchDists[n] = candDists[from + n]!;
      n++;
    }
    if (rerank === 0 || this.rerankStore === null) {
      const best = this.best;
      best.clear();
      for (let i = 0; i < Math.min(n, k); i++) best.push(this.scratchIds[i]!, this.scratchDists[i]!);
      emitTopK(best, k, this.metric, ids, scores, offset, this.scratchIds, this.scratchDists);
      return 0;
    }
    return this.rerankScratch(n, query, k, rerank, ids, scores, offset);
  }

  /** Re-scores the best max(rerank, k) of the n sorted scratch candidates with the re-ranking store; returns how many it scored. */
  private rerankScratch(
    n: number,
    query: Vector,
    k: number,
    rerank: number,
    ids: Int32Array,
    scores: Float32Array,
    offset: number,
  ): number {
    const r = Math.min(Math.max(rerank, k), n);
    this.rerankCounts.candidates += r;
    if (this.bounds !== null) return this.rerankWithin(r, query, k, ids, scores, offset);
    this.rerankCounts.exact += r;
    const ev = this.rerankStore!.queryEvaluator(query);
    ev.distances(this.scratchIds, r, this.scratchDists);
    ev.release?.();
    const best = this.best;
    best.clear();
    for (let i = 0; i < r; i++) best.push(this.scratchIds[i]!, this.scratchDists[i]!);
    emitTopK(best, k, this.metric, ids, scores, offset, this.scratchIds, this.scratchDists);
    return r;
  }

  /**
   * Re-ranks the r best candidates by bounds: in order of lower bound (estimate minus
   * half-width), an exact distance for each until the next lower bound cannot beat the k-th
   * exact distance found; every later one is skipped. Returns how many needed one.
   *
   * The exact distances are asked for in batches (the first k together, since each of them is
   * needed, then RERANK_BATCH at a time) so that their rows' cache misses overlap: one at a
   * time, each plain row was a miss of its own (bge 768-d, 1-bit RaBitQ at ef 128: 12-17 %
   * more queries per second batched). The batch is consumed in order with the same stop test,
   * so the results and the count are those of one at a time; past the stop, up to
   * RERANK_BATCH - 1 distances were computed for nothing (not counted: the count is of the
   * candidates the bounds could not rule out).
   */
  private rerankWithin(r: number, query: Vector, k: number, ids: Int32Array, scores: Float32Array, offset: number): number {
    const { lower, order, scratchIds, scratchDists } = this;
    this.bounds!.distanceBounds(query, scratchIds, r, lower);
    for (let i = 0; i < r; i++) {
      lower[i] = scratchDists[i]! - lower[i]!;
      order[i] = i;
    }
    order.subarray(0, r).sort((a, b) => lower[a]! - lower[b]!);
    const ev = this.rerankStore!.queryEvaluator(query);
    const { batchIds, batchDists } = this;
    const best = this.best;
    best.clear();
    let exact = 0;
    let j = 0;
    batches: while (j < r) {
      const n = Math.min(best.size < k ? k - best.size : RERANK_BATCH, r - j);
      for (let t = 0; t < n; t++) batchIds[t] = scratchIds[order[j + t]!]!;
      ev.distances(batchIds, n, batchDists);
      for (let t = 0; t < n; t++, j++) {
        const i = order[j]!;
        if (best.size >= k && lower[i]! >= best.topDist()) break batches;
        exact++;
        best.push(scratchIds[i]!, batchDists[t]!);
        if (best.size > k) best.pop();
      }
    }
    ev.release?.();
    this.rerankCounts.exact += exact;
    emitTopK(best, k, this.metric, ids, scores, offset, scratchIds, scratchDists);
    return exact;
  }

  private ensureScratch(n: number): void {
    if (this.scratchIds.length >= n) return;
    this.scratchIds = new Uint32Array(n);
    this.scratchDists = new Float64Array(n);
    this.lower = new Float64Array(n);
    this.order = new Uint32Array(n);
    this.batchIds = new Uint32Array(n);
    this.batchDists = new Float64Array(n);
  }
}

import type { Metric, Vector, VectorStore } from '../../../types.js';
import { MaxHeap } from '../../../util/heap.js';
import { emitTopK } from '../../results.js';

/**
 * Turns a query's best candidates (a heap from the CPU beam, or a sorted list from the GPU)
 * into its k results: natural scores, best first, -1 padding; with re-ranking, the best
 * `rerank` candidates are first re-scored by their plain vectors.
 */
export class ResultWriter {
  private scratchIds = new Uint32Array(256);
  private scratchDists = new Float64Array(256);
  private readonly best = new MaxHeap(64);

  constructor(
    private readonly metric: Metric,
    private readonly rerankStore: VectorStore | null,
  ) {}

  /** Writes the best k of `top` (emptied) at `offset`. */
  fromHeap(top: MaxHeap, query: Vector, k: number, rerank: number, ids: Int32Array, scores: Float32Array, offset: number): void {
    this.ensureScratch(top.size);
    if (rerank === 0 || this.rerankStore === null) {
      emitTopK(top, k, this.metric, ids, scores, offset, this.scratchIds, this.scratchDists);
      return;
    }
    const n = top.drainSorted(this.scratchIds, this.scratchDists);
    this.rerankScratch(n, query, k, rerank, ids, scores, offset);
  }

  /** Writes the best k of candidates[from, from+count) (sorted best first; id -1 ends them). */
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
  ): void {
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
      return;
    }
    this.rerankScratch(n, query, k, rerank, ids, scores, offset);
  }

  /** Re-scores the best max(rerank, k) of the n sorted scratch candidates with plain vectors. */
  private rerankScratch(n: number, query: Vector, k: number, rerank: number, ids: Int32Array, scores: Float32Array, offset: number): void {
    const r = Math.min(Math.max(rerank, k), n);
    const ev = this.rerankStore!.queryEvaluator(query);
    ev.distances(this.scratchIds, r, this.scratchDists);
    ev.release?.();
    const best = this.best;
    best.clear();
    for (let i = 0; i < r; i++) best.push(this.scratchIds[i]!, this.scratchDists[i]!);
    emitTopK(best, k, this.metric, ids, scores, offset, this.scratchIds, this.scratchDists);
  }

  private ensureScratch(n: number): void {
    if (this.scratchIds.length >= n) return;
    this.scratchIds = new Uint32Array(n);
    this.scratchDists = new Float64Array(n);
  }
}

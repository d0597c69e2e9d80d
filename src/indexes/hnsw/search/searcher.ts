import type { Vector, VectorStore } from '../../../types.js';
import type { MaxHeap } from '../../../util/heap.js';
import type { AllowedSet } from '../../filter.js';
import type { HnswGraph } from '../graph/graph.js';
import { FilteredSearcher } from './filtered-search.js';
import { LayerSearcher, level0WidthFor } from './layer-search.js';
import { ResultWriter } from './result-writer.js';

/** What a search reads: the graph, the store it scores, and the store that re-ranks (plain vectors, or f16 / SQ8 codes). */
export interface SearchedState {
  readonly graph: HnswGraph;
  readonly store: VectorStore;
  readonly rerankStore: VectorStore | null;
}

/**
 * The single-query HNSW search over one state, and its scratch: the beam's heaps and visited
 * set, the filtered searcher and the result writer, reused across queries so the hot path
 * allocates nothing. One per state and thread: HnswIndex keeps one per installed state, a
 * worker thread one per attached index, and batches (the CPU loop, the GPU paths' result
 * writing and CPU fallbacks) use the one of the state they search.
 */
export class HnswSearcher {
  readonly graph: HnswGraph;
  readonly store: VectorStore;
  /** Turns a beam's candidates into results (and re-ranks them). */
  readonly writer: ResultWriter;
  // Made on first use: sized to the graph, and a worker attached only to build never needs them.
  private layer: LayerSearcher | null = null;
  private filtered: FilteredSearcher | null = null;

  constructor(state: SearchedState) {
    this.graph = state.graph;
    this.store = state.store;
    this.writer = new ResultWriter(state.store.metric, state.rerankStore, state.store);
  }

  /**
   * The k nearest items of `query` (checked by the caller), written at `offset` of ids and
   * scores (slots, best first, -1 padding); over `allowed` items only when given. `lambda`
   * is the early-termination slack (Infinity: off). Returns the candidates re-ranking scored
   * (0 without re-ranking).
   */
  searchInto(
    query: Vector,
    k: number,
    ef: number,
    rerank: number,
    ids: Int32Array,
    scores: Float32Array,
    offset: number,
    allowed: AllowedSet | null = null,
    lambda = Infinity,
  ): number {
    const g = this.graph;
    const layer = (this.layer ??= new LayerSearcher(g.n, Math.max(g.m0, g.m), level0WidthFor(this.store)));
    if (g.entryPoint < 0) {
      // Every item was removed.
      ids.fill(-1, offset, offset + k);
      scores.fill(Number.NaN, offset, offset + k);
      return 0;
    }
    const ev = this.store.queryEvaluator(query);
    let top: MaxHeap;
    if (allowed === null) {
      const { node, dist } = layer.descend(g, ev);
      // With re-ranking the stop rule guards the candidates re-ranked, not just the k kept.
      top = layer.beam(g, ev, node, dist, ef, 0, null, lambda === Infinity ? null : { k: Math.min(ef, Math.max(k, rerank)), lambda });
    } else {
      top = (this.filtered ??= new FilteredSearcher(layer, Math.max(g.m0, g.m))).search(g, ev, k, ef, allowed);
    }
    ev.release?.();
    return this.writer.fromHeap(top, query, k, rerank, ids, scores, offset);
  }
}

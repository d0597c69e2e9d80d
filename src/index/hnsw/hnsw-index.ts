import { checkInteger, fail } from '../../errors.js';
import { PlainQuantizer } from '../../quant/plain.js';
import type { BatchSearchResult, Dataset, Metric, SearchResult, Vector, VectorStore } from '../../types.js';
import { METRICS } from '../../types.js';
import { PlainDenseStore } from '../../quant/dense-store.js';
import type { ProductQuantizer } from '../../quant/pq.js';
import { checkK } from '../results.js';
import { searchHnswBatch, type HnswBatchParams, type HnswSearchParams } from './batch-search.js';
import { buildGraph, DEFAULT_BUILD, type HnswBuildParams } from './build.js';
import type { HnswGraph } from './graph.js';
import { ResultWriter } from './result-writer.js';
import { LayerSearcher } from './search-layer.js';

export { checkQueryAt, type HnswBatchParams, type HnswSearchParams } from './batch-search.js';

export interface HnswIndexOptions extends HnswBuildParams {
  metric: Metric;
}

export const DEFAULT_EF_FLOOR = 64;

/**
 * HNSW over any VectorStore: dense or sparse, plain or quantized, L2 or IP. The graph is built
 * on `buildStore` (plain vectors); searches run on `store`, which may be another encoding of
 * the same items (kANNolo's key result: graph from plain vectors, search on PQ codes).
 */
export class HnswIndex {
  private searcher: LayerSearcher | null = null;
  /** Turns a beam's candidates into results (and re-ranks them). */
  readonly writer: ResultWriter;

  constructor(
    readonly graph: HnswGraph,
    readonly store: VectorStore,
    readonly buildParams: { m: number; efConstruction: number; seed: number },
    /** Plain vectors of the same items, for re-ranking a quantized search. */
    readonly rerankStore: VectorStore | null = null,
  ) {
    if (graph.n !== store.size) fail('INVALID_ARGUMENT', `graph has ${graph.n} nodes but the store has ${store.size} items`);
    if (rerankStore && rerankStore.size !== store.size) fail('INVALID_ARGUMENT', 'the re-ranking store must hold the same items');
    this.writer = new ResultWriter(store.metric, rerankStore);
  }

  /** Builds an index over plain vectors (DenseDataset or SparseDataset). */
  static build(data: Dataset, options: HnswIndexOptions): HnswIndex {
    if (!METRICS.includes(options.metric)) fail('INVALID_ARGUMENT', `metric must be 'l2' or 'ip', got ${String(options.metric)}`);
    const store = new PlainQuantizer().encode(data, options.metric);
    return HnswIndex.buildOnStore(store, options);
  }

  /** Builds the graph over an existing store (its itemDistance defines the graph). */
  static buildOnStore(store: VectorStore, params: HnswBuildParams = {}): HnswIndex {
    const graph = buildGraph(store, params);
    return new HnswIndex(graph, store, {
      m: params.m ?? DEFAULT_BUILD.m,
      efConstruction: params.efConstruction ?? DEFAULT_BUILD.efConstruction,
      seed: params.seed ?? DEFAULT_BUILD.seed,
    });
  }

  get size(): number {
    return this.store.size;
  }
  get dim(): number {
    return this.store.dim;
  }
  get metric(): Metric {
    return this.store.metric;
  }

  /** Same graph, another encoding of the same items (e.g. PQ codes) to search on. */
  withStore(store: VectorStore, rerankStore: VectorStore | null = null): HnswIndex {
    if (store.size !== this.size) fail('INVALID_ARGUMENT', `store has ${store.size} items, the index has ${this.size}`);
    return new HnswIndex(this.graph, store, this.buildParams, rerankStore);
  }

  /**
   * The one-call conversion to product quantization (kANNolo's key result): the same graph,
   * built on plain vectors, now searched over PQ codes. Trains `pq` on the plain vectors if it
   * is untrained. With keepPlain (default true) the plain vectors stay for re-ranking.
   */
  quantize(pq: ProductQuantizer, options: { keepPlain?: boolean } = {}): HnswIndex {
    const plain = this.rerankStore ?? this.store;
    if (!(plain instanceof PlainDenseStore)) fail('INVALID_ARGUMENT', 'product quantization needs an index over plain dense vectors');
    const data = plain.toDataset();
    const pqStore = pq.encode(data, this.metric);
    return new HnswIndex(this.graph, pqStore, this.buildParams, options.keepPlain === false ? null : plain);
  }

  /** The k nearest items of `query`, best first. */
  search(query: Vector, k: number, params: HnswSearchParams = {}): SearchResult {
    checkK(k, this.size);
    const ef = resolveEf(params.ef, k);
    const rerank = this.resolveRerank(params.rerank);
    this.store.checkQuery(query);
    const ids = new Int32Array(k);
    const scores = new Float32Array(k);
    this.searchInto(query, k, ef, rerank, ids, scores, 0);
    return { ids, scores };
  }

  /**
   * The single-query search without validation, writing k results at `offset`: the CPU path
   * of searchBatch runs it once per query.
   */
  searchInto(query: Vector, k: number, ef: number, rerank: number, ids: Int32Array, scores: Float32Array, offset: number): void {
    const g = this.graph;
    const searcher = (this.searcher ??= new LayerSearcher(g.n, Math.max(g.m0, g.m)));
    const ev = this.store.queryEvaluator(query);
    let cur = g.entryPoint;
    let curDist = ev.distance(cur);
    for (let l = g.maxLevel; l > 0; l--) {
      const r = searcher.greedy(g, ev, cur, curDist, l);
      cur = r.node;
      curDist = r.dist;
    }
    const top = searcher.beam(g, ev, cur, curDist, ef, 0);
    ev.release?.();
    this.writer.fromHeap(top, query, k, rerank, ids, scores, offset);
  }

  /**
   * Searches many queries. On the CPU (the default) a loop of the single-query search that
   * yields to the event loop; on the GPU (`backend: 'gpu'` or `'auto'`) the resident kernel
   * (one round trip per batch) or the hybrid lockstep controller (`gpuMode: 'hybrid'`).
   * The result carries the GPU counters: gpuMode, roundTrips, bytesUp, bytesDown, hostMs.
   */
  searchBatch(queries: Dataset | readonly Vector[], k: number, params: HnswBatchParams = {}): Promise<BatchSearchResult> {
    try {
      checkK(k, this.size);
      const ef = resolveEf(params.ef, k);
      const rerank = this.resolveRerank(params.rerank);
      return searchHnswBatch(this, queries, { k, ef, rerank }, params);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Bytes held by the graph, the search store and the re-ranking vectors. */
  get memory(): { graphBytes: number; storeBytes: number; rerankBytes: number } {
    return { graphBytes: this.graph.byteLength, storeBytes: this.store.byteLength, rerankBytes: this.rerankStore?.byteLength ?? 0 };
  }

  private resolveRerank(rerank: number | undefined): number {
    if (rerank === undefined || rerank === 0) return 0;
    checkInteger('rerank', rerank, 0);
    if (this.rerankStore === null) fail('INVALID_ARGUMENT', 'rerank needs the plain vectors: this index does not keep them (quantize with keepPlain)');
    return rerank;
  }
}

export function resolveEf(ef: number | undefined, k: number): number {
  if (ef === undefined) return Math.max(k, DEFAULT_EF_FLOOR);
  checkInteger('ef', ef, 1);
  return Math.max(ef, k);
}

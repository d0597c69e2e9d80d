import { checkInteger, fail } from '../../errors.js';
import { PlainQuantizer } from '../../quant/plain.js';
import type { BatchEvaluator, BatchSearchResult, Dataset, Metric, SearchResult, Vector, VectorStore } from '../../types.js';
import { METRICS } from '../../types.js';
import { asQueryDataset, checkK, emitTopK } from '../results.js';
import { BatchController, FaultTolerantEvaluator } from './batch.js';
import { buildGraph, DEFAULT_BUILD, type HnswBuildParams } from './build.js';
import type { HnswGraph } from './graph.js';
import { LayerSearcher } from './search-layer.js';

export interface HnswIndexOptions extends HnswBuildParams {
  metric: Metric;
}

export interface HnswSearchParams {
  /** Beam width; raised to k when smaller. Default max(k, 64). */
  ef?: number;
}

export interface HnswBatchParams extends HnswSearchParams {
  /** Queries searched together in one lockstep batch. Default 256. */
  batchSize?: number;
  /** Candidates each query expands per round (w). Default 1 (exact beam-search semantics). */
  width?: number;
  /** Computes the distances; default the store's CPU batch evaluator. */
  evaluator?: BatchEvaluator;
  /** Called once if `evaluator` fails and the batch is finished on the CPU. */
  onFallback?: (error: unknown) => void;
}

export const DEFAULT_EF_FLOOR = 64;

/**
 * HNSW over any VectorStore: dense or sparse, plain or quantized, L2 or IP. The graph is built
 * on `buildStore` (plain vectors); searches run on `store`, which may be another encoding of
 * the same items (kANNolo's key result: graph from plain vectors, search on PQ codes).
 */
export class HnswIndex {
  private searcher: LayerSearcher | null = null;
  private scratchIds = new Uint32Array(256);
  private scratchDists = new Float64Array(256);

  constructor(
    readonly graph: HnswGraph,
    readonly store: VectorStore,
    readonly buildParams: { m: number; efConstruction: number; seed: number },
  ) {
    if (graph.n !== store.size) fail('INVALID_ARGUMENT', `graph has ${graph.n} nodes but the store has ${store.size} items`);
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
  withStore(store: VectorStore): HnswIndex {
    if (store.size !== this.size) fail('INVALID_ARGUMENT', `store has ${store.size} items, the index has ${this.size}`);
    return new HnswIndex(this.graph, store, this.buildParams);
  }

  /** The k nearest items of `query`, best first. */
  search(query: Vector, k: number, params: HnswSearchParams = {}): SearchResult {
    checkK(k, this.size);
    const ef = resolveEf(params.ef, k);
    this.store.checkQuery(query);
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
    const ids = new Int32Array(k);
    const scores = new Float32Array(k);
    this.ensureScratch(top.size);
    emitTopK(top, k, this.metric, ids, scores, 0, this.scratchIds, this.scratchDists);
    return { ids, scores };
  }

  /**
   * Searches many queries with the lockstep batch controller; the distances of each round go
   * to one BatchEvaluator call (CPU by default, the GPU when given its evaluator).
   */
  async searchBatch(queries: Dataset | readonly Vector[], k: number, params: HnswBatchParams = {}): Promise<BatchSearchResult> {
    checkK(k, this.size);
    const ef = resolveEf(params.ef, k);
    const batchSize = checkInteger('batchSize', params.batchSize ?? 256, 1);
    const width = checkInteger('width', params.width ?? 1, 1, 64);
    const qs = asQueryDataset(queries, this.dim);
    for (let q = 0; q < qs.size; q++) checkQueryAt(this.store, qs, q);
    const nq = qs.size;
    const ids = new Int32Array(nq * k);
    const scores = new Float32Array(nq * k);
    const primary = params.evaluator ?? this.store.batchEvaluator();
    const evaluator = new FaultTolerantEvaluator(primary, () => this.store.batchEvaluator(), (e) => params.onFallback?.(e));
    const controller = new BatchController(this.graph, this.store);
    this.ensureScratch(ef);
    const scratchIds = this.scratchIds;
    const scratchDists = this.scratchDists;
    try {
      for (let start = 0; start < nq; start += batchSize) {
        const count = Math.min(batchSize, nq - start);
        await controller.run(evaluator, qs, start, count, { ef, width }, (slot, top) => {
          emitTopK(top, k, this.metric, ids, scores, (start + slot) * k, scratchIds, scratchDists);
        });
      }
    } finally {
      if (params.evaluator === undefined || evaluator.didFailOver) evaluator.dispose();
    }
    const backend = evaluator.didFailOver && primary.backend !== 'cpu' ? `${primary.backend}+cpu` : primary.backend;
    return { count: nq, k, ids, scores, backend };
  }

  /** Bytes held by the graph and by the search store. */
  get memory(): { graphBytes: number; storeBytes: number } {
    return { graphBytes: this.graph.byteLength, storeBytes: this.store.byteLength };
  }

  private ensureScratch(n: number): void {
    if (this.scratchIds.length >= n) return;
    this.scratchIds = new Uint32Array(n);
    this.scratchDists = new Float64Array(n);
  }
}

export function resolveEf(ef: number | undefined, k: number): number {
  if (ef === undefined) return Math.max(k, DEFAULT_EF_FLOOR);
  checkInteger('ef', ef, 1);
  return Math.max(ef, k);
}

/** Validates query q of a query set, naming it in the error. */
export function checkQueryAt(store: VectorStore, queries: Dataset, q: number): void {
  try {
    store.checkQuery(queries.get(q));
  } catch (e) {
    if (e instanceof Error) e.message = `query ${q}: ${e.message}`;
    throw e;
  }
}

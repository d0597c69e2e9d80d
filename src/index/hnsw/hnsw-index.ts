import { checkInteger, fail } from '../../errors.js';
import { PlainQuantizer } from '../../quant/plain.js';
import type { BatchEvaluator, BatchSearchResult, Dataset, Metric, SearchResult, Vector, VectorStore } from '../../types.js';
import { METRICS } from '../../types.js';
import type { GpuContext } from '../../gpu/device.js';
import { chooseGpu, gpuEvaluatorFor, gpuFaultHandler, type BackendOptions } from '../../gpu/select.js';
import { PlainDenseStore } from '../../quant/dense-store.js';
import type { ProductQuantizer } from '../../quant/pq.js';
import { MaxHeap } from '../../util/heap.js';
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
  /**
   * Re-rank the best `rerank` candidates of the beam (at most ef) by their plain vectors,
   * when the index keeps them (see quantize). Default 0: no re-ranking.
   */
  rerank?: number;
}

export interface HnswBatchParams extends HnswSearchParams, BackendOptions {
  /** Queries searched together in one lockstep batch. Default 256. */
  batchSize?: number;
  /** Candidates each query expands per round (w). Default 1 (exact beam-search semantics). */
  width?: number;
  /** Computes the distances; overrides `backend` (default: chosen by `backend`). */
  evaluator?: BatchEvaluator;
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

  private readonly rerankTop = new MaxHeap(64);

  constructor(
    readonly graph: HnswGraph,
    readonly store: VectorStore,
    readonly buildParams: { m: number; efConstruction: number; seed: number },
    /** Plain vectors of the same items, for re-ranking a quantized search. */
    readonly rerankStore: VectorStore | null = null,
  ) {
    if (graph.n !== store.size) fail('INVALID_ARGUMENT', `graph has ${graph.n} nodes but the store has ${store.size} items`);
    if (rerankStore && rerankStore.size !== store.size) fail('INVALID_ARGUMENT', 'the re-ranking store must hold the same items');
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
    this.finish(top, query, k, rerank, ids, scores, 0);
    return { ids, scores };
  }

  /**
   * Searches many queries with the lockstep batch controller; the distances of each round go
   * to one BatchEvaluator call (CPU by default, the GPU when given its evaluator).
   */
  async searchBatch(queries: Dataset | readonly Vector[], k: number, params: HnswBatchParams = {}): Promise<BatchSearchResult> {
    checkK(k, this.size);
    const ef = resolveEf(params.ef, k);
    const rerank = this.resolveRerank(params.rerank);
    const batchSize = checkInteger('batchSize', params.batchSize ?? 256, 1);
    const width = checkInteger('width', params.width ?? 1, 1, 64);
    const qs = asQueryDataset(queries, this.dim);
    for (let q = 0; q < qs.size; q++) checkQueryAt(this.store, qs, q);
    const nq = qs.size;
    const ids = new Int32Array(nq * k);
    const scores = new Float32Array(nq * k);
    // 'auto' judges the batch the GPU will see: min(batchSize, query count).
    const { primary, gpu } = await this.primaryEvaluator(params, Math.min(nq, batchSize));
    const onFault = gpu ? gpuFaultHandler(gpu, params) : (e: unknown) => params.onFallback?.(e);
    const evaluator = new FaultTolerantEvaluator(primary, () => this.store.batchEvaluator(), onFault);
    const controller = new BatchController(this.graph);
    try {
      for (let start = 0; start < nq; start += batchSize) {
        const count = Math.min(batchSize, nq - start);
        await controller.run(evaluator, qs, start, count, { ef, width }, (slot, top) => {
          this.finish(top, qs.get(start + slot), k, rerank, ids, scores, (start + slot) * k);
        });
      }
    } finally {
      if (params.evaluator === undefined || evaluator.didFailOver) evaluator.dispose();
    }
    const backend = evaluator.didFailOver && primary.backend !== 'cpu' ? `${primary.backend}+cpu` : primary.backend;
    return { count: nq, k, ids, scores, backend, ...(gpu ? { device: gpu.description } : {}) };
  }

  /** The evaluator `params` ask for: given, the GPU's (per `backend`), or the CPU's. */
  private async primaryEvaluator(params: HnswBatchParams, nq: number): Promise<{ primary: BatchEvaluator; gpu: GpuContext | null }> {
    if (params.evaluator) return { primary: params.evaluator, gpu: null };
    const gpu = await chooseGpu(params, nq);
    if (gpu) {
      try {
        const ev = gpuEvaluatorFor(gpu, this.store);
        if (ev) return { primary: ev, gpu };
      } catch (error) {
        gpuFaultHandler(gpu, params)(error);
      }
      if (params.backend === 'gpu') fail('NO_GPU', `the GPU cannot search a '${this.store.kind}' store: use backend 'auto' or 'cpu'`);
    }
    return { primary: this.store.batchEvaluator(), gpu: null };
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

  /**
   * Writes the best k of `top` at `offset`; with re-ranking, first re-scores the best
   * `rerank` candidates by their plain vectors and keeps the best k of those.
   */
  private finish(top: MaxHeap, query: Vector, k: number, rerank: number, ids: Int32Array, scores: Float32Array, offset: number): void {
    this.ensureScratch(top.size);
    if (rerank === 0 || this.rerankStore === null) {
      emitTopK(top, k, this.metric, ids, scores, offset, this.scratchIds, this.scratchDists);
      return;
    }
    const n = top.drainSorted(this.scratchIds, this.scratchDists);
    const r = Math.min(Math.max(rerank, k), n);
    const ev = this.rerankStore.queryEvaluator(query);
    ev.distances(this.scratchIds, r, this.scratchDists);
    ev.release?.();
    const best = this.rerankTop;
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

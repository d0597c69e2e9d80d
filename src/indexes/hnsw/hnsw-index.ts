import { checkInteger, fail } from '../../errors.js';
import { WorkerPool } from '../../parallel/pool.js';
import { PlainQuantizer } from '../../quant/plain.js';
import type { DenseQuantizer } from '../../quant/quantizer.js';
import type { BatchSearchResult, Dataset, Metric, SearchResult, Vector, VectorStore } from '../../types.js';
import { type FilterContext, resolveFilter } from '../filter.js';
import type { ItemKeys } from '../items/item-keys.js';
import type { ItemLabels } from '../items/item-labels.js';
import type { ItemOrder } from '../items/item-order.js';
import { Tombstones } from '../items/tombstones.js';
import {
  ASYNC_BUILD_PARAM_NAMES,
  BATCH_PARAM_NAMES,
  BUILD_PARAM_NAMES,
  checkOptionNames,
  NO_PARAMS,
  SEARCH_PARAM_NAMES,
} from '../option-names.js';
import { checkK } from '../results.js';
import { searchHnswBatch } from './batch/search-batch.js';
import type { HnswBatchParams, HnswSearchParams } from './batch/search-params.js';
import { buildGraph, DEFAULT_BUILD, type HnswBuildParams, resolveBuildParams } from './build/build-graph.js';
import { buildGraphParallel } from './build/parallel-build.js';
import type { HnswGraph } from './graph/graph.js';
import { checkLayout, inLayout, type Layout, movable, movedKeys, movedLabels, movedStore } from './graph/locality-layout.js';
import {
  buildParamsOf,
  checkIndexOptions,
  type HnswAsyncBuildOptions,
  type HnswIndexOptions,
  type ItemInfo,
  resolveEf,
  resolveLambda,
} from './index-options.js';
import { LivingIndex } from './living/living-index.js';
import { checkState, type IndexState, itemInfo } from './living/mutations.js';
import { type QuantizeOptions, quantizedStores } from './rerank-codes.js';
import { Snapshot } from './snapshot.js';

export { checkQueryAt } from '../results.js';
export type { HnswBatchParams, HnswSearchParams } from './batch/search-params.js';
export {
  DEFAULT_EF_FLOOR,
  type HnswAsyncBuildOptions,
  type HnswIndexOptions,
  type ItemInfo,
  resolveEf,
  resolveLambda,
} from './index-options.js';
export { type QuantizeOptions, RERANK_CODES, type RerankCodes } from './rerank-codes.js';

/**
 * HNSW over any VectorStore: dense or sparse, plain or quantized, L2 or IP. The graph is built
 * on `buildStore` (plain vectors); searches run on `store`, which may be another encoding of
 * the same items (kANNolo's key result: graph from plain vectors, search on PQ codes).
 */
export class HnswIndex extends LivingIndex {
  /** The installed state as searches see it (its searcher, filter context, workers): one per state. */
  private snap: Snapshot;

  constructor(
    graph: HnswGraph,
    store: VectorStore,
    /** The graph parameters it was built with: `m`, `efConstruction`, `seed`. */
    readonly buildParams: { m: number; efConstruction: number; seed: number },
    /** The same items for re-ranking a quantized search: plain vectors, or f16 / SQ8 codes of them. */
    rerankStore: VectorStore | null = null,
    items: ItemInfo = {},
  ) {
    const state: IndexState = {
      graph,
      store,
      rerankStore,
      keys: items.keys ?? null,
      labels: items.labels ?? null,
      removed: items.removed ?? Tombstones.none(graph.n),
      order: items.order ?? null,
    };
    checkState(state);
    super(state);
    this.snap = new Snapshot(state, buildParams);
  }

  /** The graph: a new object after every add / remove / update / compact (over the same memory when the change was made in place). */
  get graph(): HnswGraph {
    return this.state.graph;
  }
  /** The store searches score (one row per slot, removed slots included). */
  get store(): VectorStore {
    return this.state.store;
  }
  /**
   * The store re-ranking scores candidates with (plain vectors, or f16 / SQ8 codes of them;
   * see quantize's rerankCodes), or null when the index keeps none.
   */
  get rerankStore(): VectorStore | null {
    return this.state.rerankStore;
  }
  /** User keys by slot, or null (results carry ids only). keyOf(id) gives a result's key. */
  get keys(): ItemKeys | null {
    return this.state.keys;
  }
  /** Labels of the items by slot, or null. */
  get labels(): ItemLabels | null {
    return this.state.labels;
  }
  /** Removed slots, waiting for reuse. */
  get removed(): Tombstones {
    return this.state.removed;
  }
  /** The ids of the items in each slot when they differ from the slots (the locality layout), else null. */
  get order(): ItemOrder | null {
    return this.state.order ?? null;
  }

  /** What a filter is resolved against (see SearchFilter). */
  filterContext(): FilterContext {
    return this.snap.filterContext();
  }

  /**
   * A new state was installed: searches from now on take a new snapshot (new searcher caches;
   * workers attach on the next batch). The old one lets its workers go once its batches end.
   */
  protected override stateChanged(): void {
    this.snap.retire();
    this.snap = new Snapshot(this.state, this.buildParams);
  }

  /** Builds an index over plain vectors (DenseDataset or SparseDataset). */
  static build(data: Dataset, options: HnswIndexOptions): HnswIndex {
    checkIndexOptions(options, false);
    const items = itemInfo(options, data.size);
    const store = new PlainQuantizer().encode(data, options.metric);
    return HnswIndex.buildOnStore(store, buildParamsOf(options, false)).withItems(items).laidOut(options.layout);
  }

  /**
   * Builds an index on worker threads (see HnswAsyncBuildOptions.threads) without blocking
   * the calling thread. Where SharedArrayBuffer is unavailable it builds on one thread and
   * says so once.
   */
  static async buildAsync(data: Dataset, options: HnswAsyncBuildOptions): Promise<HnswIndex> {
    checkIndexOptions(options, true);
    const items = itemInfo(options, data.size);
    const store = new PlainQuantizer().encode(data, options.metric);
    return (await HnswIndex.buildOnStoreAsync(store, buildParamsOf(options, true))).withItems(items).laidOut(options.layout);
  }

  /**
   * This freshly built index in `layout` (see HnswIndexOptions.layout), rearranged in its own
   * memory: only for the build's own index, whose store nobody else holds.
   */
  private laidOut(layout: HnswIndexOptions['layout'] = 'locality'): HnswIndex {
    if (layout === 'insertion') return this;
    return HnswIndex.fromState(inLayout(this.state, layout, true), this.buildParams);
  }

  /**
   * The same index in another memory layout (see HnswIndexOptions.layout), on a copy: for an
   * index loaded from a file written before the locality layout, or built with buildOnStore,
   * or to get slots equal to ids again ('insertion'). Ids, keys and results do not change.
   * Returns this index when it is in that layout already, or its re-ranking vectors are read
   * from disk (they cannot move).
   */
  withLayout(layout: Layout): HnswIndex {
    checkLayout(layout);
    const s = inLayout(this.state, layout, false);
    return s === this.state ? this : HnswIndex.fromState(s, this.buildParams);
  }

  private static fromState(s: IndexState, buildParams: HnswIndex['buildParams']): HnswIndex {
    return new HnswIndex(s.graph, s.store, buildParams, s.rerankStore, s);
  }

  /** buildOnStore on worker threads (see buildAsync). */
  static async buildOnStoreAsync(
    store: VectorStore,
    params: HnswBuildParams & { threads?: number; signal?: AbortSignal } = {},
  ): Promise<HnswIndex> {
    checkOptionNames('buildOnStoreAsync', params, ASYNC_BUILD_PARAM_NAMES);
    resolveBuildParams(params);
    if (params.threads !== undefined) checkInteger('threads', params.threads, 1, 1024);
    const threads = await WorkerPool.threadsFor(params.threads);
    const graph = await buildGraphParallel(store, { ...params, threads });
    return new HnswIndex(graph, store, {
      m: params.m ?? DEFAULT_BUILD.m,
      efConstruction: params.efConstruction ?? DEFAULT_BUILD.efConstruction,
      seed: params.seed ?? DEFAULT_BUILD.seed,
    });
  }

  /** Builds the graph over an existing store (its itemDistance defines the graph). */
  static buildOnStore(store: VectorStore, params: HnswBuildParams = {}): HnswIndex {
    checkOptionNames('buildOnStore', params, BUILD_PARAM_NAMES);
    const graph = buildGraph(store, params);
    return new HnswIndex(graph, store, {
      m: params.m ?? DEFAULT_BUILD.m,
      efConstruction: params.efConstruction ?? DEFAULT_BUILD.efConstruction,
      seed: params.seed ?? DEFAULT_BUILD.seed,
    });
  }

  /** Live items (removed ones excluded). */
  get size(): number {
    return this.state.graph.n - this.state.removed.count;
  }
  /** Slots: live items plus removed ones waiting for reuse. */
  get capacity(): number {
    return this.state.graph.n;
  }
  /** Dimension of the vectors. */
  get dim(): number {
    return this.store.dim;
  }
  /** 'l2' or 'ip'. */
  get metric(): Metric {
    return this.store.metric;
  }

  /**
   * Same graph, another encoding of the same items (e.g. PQ codes) to search on. The stores
   * hold the items in id order (row i = item i), as the data they were encoded from; on an
   * index laid out otherwise (see `order`) they are copied into its slot order, except this
   * index's own stores, which are in that order already.
   */
  withStore(store: VectorStore, rerankStore: VectorStore | null = null): HnswIndex {
    if (store.size !== this.capacity) fail('INVALID_ARGUMENT', `store has ${store.size} items, the index has ${this.capacity} slots`);
    if (rerankStore !== null && rerankStore.size !== this.capacity)
      fail('INVALID_ARGUMENT', `the re-ranking store has ${rerankStore.size} items, the index has ${this.capacity} slots`);
    const order = this.order;
    const inSlots = (s: VectorStore): VectorStore => {
      if (order === null || s === this.store || s === this.rerankStore) return s;
      if (!movable(s))
        fail(
          'INVALID_ARGUMENT',
          `this index keeps its items in the locality layout and a ${s.kind} store cannot be rearranged into it: give it to index.withLayout('insertion') instead`,
        );
      return movedStore(s, order.itemIds, false);
    };
    this.shareState();
    return new HnswIndex(this.graph, inSlots(store), this.buildParams, rerankStore === null ? null : inSlots(rerankStore), this);
  }

  /** The same index with these keys and labels (one per item, in id order; checked against its size). */
  withItems(items: { keys?: ItemKeys | null; labels?: ItemLabels | null }): HnswIndex {
    const order = this.order;
    let { keys = null, labels = null } = items;
    if (keys !== null && keys.size !== this.capacity) fail('INVALID_ARGUMENT', `${keys.size} keys for ${this.capacity} items`);
    if (labels !== null && labels.size !== this.capacity) fail('INVALID_ARGUMENT', `${labels.size} label rows for ${this.capacity} items`);
    if (order !== null && keys !== null) keys = movedKeys(keys, order.itemIds);
    if (order !== null && labels !== null) labels = movedLabels(labels, order.itemIds);
    this.shareState();
    return new HnswIndex(this.graph, this.store, this.buildParams, this.rerankStore, { keys, labels, removed: this.removed, order });
  }

  /**
   * The one-call conversion to a compressed store (kANNolo's key result for PQ): the same
   * graph, built on plain vectors, now searched over codes: a ProductQuantizer, or a
   * ScalarQuantizer ('f16', 'sq8'), or a RabitqQuantizer. Trains the quantizer on the plain
   * vectors if it is untrained. With keepPlain (default true) a re-ranking store stays: the
   * plain vectors, or with `rerankCodes` 'f16' / 'sq8' codes of them (see QuantizeOptions).
   */
  quantize(quantizer: DenseQuantizer, options: QuantizeOptions = {}): HnswIndex {
    const { store, rerankStore } = quantizedStores(this.rerankStore ?? this.store, quantizer, this.metric, options);
    this.shareState();
    return new HnswIndex(this.graph, store, this.buildParams, rerankStore, this);
  }

  /**
   * The k nearest items of `query`, best first; with `filter`, the k nearest allowed items
   * (fewer, padded with id -1, only when fewer are allowed). With keys, `keys` holds theirs.
   * It reads the index as the last change left it (a change never shows half done), and may
   * run at any time: while an addAsync or compact works, it reads the state before them.
   * With `rerank`, `reranked` says how many candidates re-ranking scored.
   */
  search(query: Vector, k: number, params: HnswSearchParams = NO_PARAMS): SearchResult {
    if (params !== NO_PARAMS) checkOptionNames('search', params, SEARCH_PARAM_NAMES);
    checkK(k, this.capacity);
    const rerank = this.resolveRerank(params.rerank);
    const ef = resolveEf(params.ef, k, rerank);
    const lambda = resolveLambda(params.lambda);
    this.store.checkQuery(query);
    const snap = this.snap;
    const allowed = params.filter === undefined ? null : resolveFilter(params.filter, snap.filterContext());
    const ids = new Int32Array(k);
    const scores = new Float32Array(k);
    const reranked = snap.searcher.searchInto(query, k, ef, rerank, ids, scores, 0, allowed, lambda);
    return snap.results(ids, scores, rerank > 0 ? reranked : -1);
  }

  /**
   * Searches many queries. On the CPU (the default) a loop of the single-query search that
   * yields to the event loop; on the GPU (`backend: 'gpu'` or `'auto'`) the resident kernel
   * (one round trip per batch) or the hybrid lockstep controller (`gpuMode: 'hybrid'`).
   * The result carries the GPU counters: gpuMode, roundTrips, bytesUp, bytesDown, hostMs;
   * with `rerank`, `reranked` says per query how many candidates re-ranking scored.
   *
   * The whole batch reads one snapshot of the index, taken when it starts (graph, stores,
   * keys, labels, removed items, item order), on every route: changes made while it runs
   * (add, remove, update, or an addAsync or compact that lands) are never seen by it, never
   * wait for it, and never write into memory it reads; they show in the batches started after
   * them.
   */
  searchBatch(queries: Dataset | readonly Vector[], k: number, params: HnswBatchParams = NO_PARAMS): Promise<BatchSearchResult> {
    try {
      if (params !== NO_PARAMS) checkOptionNames('searchBatch', params, BATCH_PARAM_NAMES);
      checkK(k, this.capacity);
      const rerank = this.resolveRerank(params.rerank);
      const ef = resolveEf(params.ef, k, rerank);
      const lambda = resolveLambda(params.lambda);
      // The whole batch reads this snapshot: a compact may install a new state meanwhile.
      const snap = this.snap;
      return this.reading(snap.state, () => snap.during(() => searchHnswBatch(snap, queries, { k, ef, rerank, lambda }, params)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Releases this index's worker threads: they drop its shared memory, and when no other
   * index uses them they end. Idle workers never keep a Node process alive, so this is only
   * needed to free them early; the index stays usable (workers restart on demand).
   */
  async close(): Promise<void> {
    await this.snap.releaseWorkers(true);
  }

  /** Bytes held by the graph, the search store and the re-ranking store. */
  get memory(): { graphBytes: number; storeBytes: number; rerankBytes: number } {
    return { graphBytes: this.graph.byteLength, storeBytes: this.store.byteLength, rerankBytes: this.rerankStore?.byteLength ?? 0 };
  }

  private resolveRerank(rerank: number | undefined): number {
    if (rerank === undefined || rerank === 0) return 0;
    checkInteger('rerank', rerank, 0);
    if (this.rerankStore === null)
      fail('INVALID_ARGUMENT', 'rerank needs the plain vectors: this index does not keep them (quantize with keepPlain)');
    return rerank;
  }
}

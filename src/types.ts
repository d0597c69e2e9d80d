/**
 * The small interfaces that make webannolo modular (the TypeScript counterparts of kANNolo's
 * traits). An index decides which items to compare; an evaluator computes how far they are.
 * Internally every distance is "smaller is better": squared L2, or the negated inner product.
 */

export type Metric = 'l2' | 'ip';

export const METRICS: readonly Metric[] = ['l2', 'ip'];

/** A sparse vector: strictly increasing component ids and their values. */
export interface SparseVector {
  /** Component ids, ascending and unique. */
  readonly indices: Uint32Array;
  /** The value of each component in `indices`. */
  readonly values: Float32Array;
}

/** A query or item vector as the stores accept it. */
export type Vector = Float32Array | SparseVector;

/** n items of one vector kind. */
export interface Dataset {
  /** 'dense' (DenseDataset) or 'sparse' (SparseDataset). */
  readonly kind: 'dense' | 'sparse';
  /** Number of vectors. */
  readonly size: number;
  /** Dimension (for sparse data: the vocabulary size). */
  readonly dim: number;
  /** Row i (a view, not a copy). */
  get(i: number): Vector;
  /** Bytes held by the vectors. */
  readonly byteLength: number;
}

/** One query bound to one encoded store. */
export interface QueryEvaluator {
  /** Internal distance (smaller is better) from the query to item `id`. */
  distance(id: number): number;
  /** out[i] = distance(ids[i]) for i < count. */
  distances(ids: Uint32Array, count: number, out: Float64Array): void;
  /** Returns pooled scratch memory, if the evaluator holds any. Optional to call. */
  release?(): void;
}

/**
 * The layout of an HNSW graph as kernels see it (HnswGraph has it): level 0 as n x (m0 + 1)
 * u32 slots, a count then ids; upper levels per node, level l at (l - 1) x (m + 1).
 */
export interface GraphLayout {
  readonly n: number;
  readonly m: number;
  readonly m0: number;
  readonly level0: Uint32Array;
  readonly upper: readonly (Uint32Array | undefined)[];
  readonly entryPoint: number;
  readonly maxLevel: number;
}

/**
 * Many queries bound to one store: the seam where the WebGPU evaluator plugs in. Both methods
 * may be synchronous (CPU) or return a promise (GPU); the batch controller awaits only
 * promises so the CPU path pays nothing for the GPU's asynchrony.
 */
export interface BatchEvaluator {
  /** Binds query slots 0..count-1 to queries[start .. start+count). */
  setQueries(queries: Dataset, start: number, count: number): void | Promise<void>;
  /** out[i] = distance from the query in slot slots[i] to item ids[i], for i < count. */
  distances(slots: Uint32Array, ids: Uint32Array, count: number, out: Float32Array): void | Promise<void>;
  /**
   * Optional: the distances from query slot slots[e] to every level-0 neighbour of nodes[e],
   * gathered by the evaluator itself (the GPU reads the uploaded graph, so only the expanded
   * nodes go up): out[e * m0 + i] for the i-th neighbour; entries past a node's count are
   * unspecified.
   */
  neighbourDistances?(graph: GraphLayout, slots: Uint32Array, nodes: Uint32Array, count: number, out: Float32Array): void | Promise<void>;
  /** What actually computed the distances, e.g. 'cpu' or 'gpu'. */
  readonly backend: string;
  /** Frees what the evaluator holds (GPU buffers); CPU evaluators need none. */
  dispose?(): void;
}

/**
 * An encoded dataset (the output of a quantizer) that can make evaluators. A store knows its
 * metric: distances are meaningless without one.
 */
export interface VectorStore {
  /** 'dense', 'sparse', 'pq', ...: names the encoding, used by the file format. */
  readonly kind: string;
  /** Items (rows) in the store. */
  readonly size: number;
  /** Dimension of the vectors it encodes. */
  readonly dim: number;
  /** 'l2' or 'ip': what its distances compute. */
  readonly metric: Metric;
  /** Bytes held by the encoded items. */
  readonly byteLength: number;
  /** Checks a query (dimension, finite values, sparse ordering); throws a WebannoloError. */
  checkQuery(query: Vector): void;
  /** Evaluator for an external query (validated by the caller with checkQuery). */
  queryEvaluator(query: Vector): QueryEvaluator;
  /** Evaluator whose query is the store's own item `id` (used while building graphs). */
  itemEvaluator(id: number): QueryEvaluator;
  /**
   * Internal distance between two of the store's own items. Graph construction needs many
   * one-off pairs (the neighbour-selection heuristic); this avoids an evaluator per pair.
   */
  itemDistance(a: number, b: number): number;
  /** A CPU batch evaluator over this store. */
  batchEvaluator(): BatchEvaluator;
  /**
   * A new store of `size` items, encoded like this one: row i of `rows` at item `slots[i]`,
   * every other item (below `size`) as in this store. Rows are checked by the caller
   * (checkQuery). With `inPlace` (nothing else uses this store any more) it may write into
   * this store's memory and share it, when it has room. What `add` and `update` of a living
   * index are built on; a store without it cannot change.
   */
  withRows?(rows: Dataset, slots: Uint32Array, size: number, inPlace?: boolean): VectorStore;
  /** A new store of the items `ids`, in that order (compaction). */
  subset?(ids: Uint32Array): VectorStore;
  /**
   * The same items in another order (row s = item `from[s]`, a permutation): subset's result,
   * but with `inPlace` (nothing else uses this store) a store may rearrange its own memory
   * instead of holding a second copy.
   */
  permuted?(from: Uint32Array, inPlace: boolean): VectorStore;
}

/** k nearest items of one query, best first. Missing entries (fewer than k found) are -1. */
export interface SearchResult {
  /** Item ids, best first; -1 pads where a filter or removed items leave fewer than k. */
  readonly ids: Int32Array;
  /** Natural scores: squared L2 distance (smaller is better) or inner product (larger is better). */
  readonly scores: Float32Array;
  /** The items' user keys (null where an id is -1), when the index has keys. */
  readonly keys?: readonly (number | string | null)[];
  /**
   * Candidates re-ranking scored with the re-ranking store (one distance each), when the
   * search re-ranked (`rerank` > 0). At most max(rerank, k), capped by the candidates the
   * beam found; fewer where the search store bounds its estimates (RaBitQ) and the bounds
   * ruled candidates out.
   */
  readonly reranked?: number;
}

/** How the GPU took part in a batch: the resident kernel, the hybrid controller, exact scan, or not at all. */
export type GpuMode = 'resident' | 'hybrid';

/** Results of many queries: row q occupies [q*k, (q+1)*k). */
export interface BatchSearchResult {
  /** Queries answered. */
  readonly count: number;
  /** Results per query. */
  readonly k: number;
  /** count x k item ids: query q at [q*k, (q+1)*k), best first; -1 pads. */
  readonly ids: Int32Array;
  /** The scores of `ids`, laid out the same way. */
  readonly scores: Float32Array;
  /** What computed the distances ('cpu', 'gpu', or 'gpu+cpu' after a fallback). */
  readonly backend: string;
  /** The GPU adapter's description, when a GPU was used. */
  readonly device?: string;
  /** 'resident' or 'hybrid' (HNSW on the GPU), 'exact' (FlatIndex on the GPU), 'none' (CPU only). */
  readonly gpuMode: GpuMode | 'exact' | 'none';
  /**
   * Submits whose completion the call awaited (each a host-device round trip). This and the
   * byte counts are the call's own, also while other calls use the same device.
   */
  readonly roundTrips: number;
  /** Bytes the call wrote to the device (queries, per-round lists; store and graph on first use). */
  readonly bytesUp: number;
  /** Bytes the call read back from the device. */
  readonly bytesDown: number;
  /** Milliseconds the call spent running JavaScript, excluding time awaiting the GPU. */
  readonly hostMs: number;
  /**
   * CPU threads that searched: worker threads sharing the queries, or 1 (this thread). When
   * a worker died mid-batch: the workers that finished their share, plus 1 for this thread,
   * which searched the queries the dead worker had not finished.
   */
  readonly threads: number;
  /** The items' user keys, row-major like ids (null where an id is -1), when the index has keys. */
  readonly keys?: readonly (number | string | null)[];
  /** True when a filter restricted the results. */
  readonly filtered?: boolean;
  /**
   * Per query, the candidates re-ranking scored with the re-ranking store (see
   * SearchResult.reranked), when the batch re-ranked (`rerank` > 0), on every route: on the
   * CPU (any threads) the count a single search of that query reports; on the GPU that of
   * the candidates its beam returned. Their sum is the batch's re-ranking work.
   */
  readonly reranked?: Uint32Array;
}

/** Converts an internal distance to the score users see. */
export function toScore(metric: Metric, internal: number): number {
  return metric === 'ip' ? -internal : internal;
}

export function isSparseVector(v: Vector): v is SparseVector {
  return !(v instanceof Float32Array);
}

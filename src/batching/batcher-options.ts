import { checkInteger, fail } from '../errors.js';
import type { HnswBatchParams } from '../indexes/hnsw/hnsw-index.js';
import { BATCH_PARAM_NAMES, checkOptionNames } from '../indexes/option-names.js';
import type { BatchSearchResult, Vector } from '../types.js';

/**
 * What a QueryBatcher searches: anything with a dimension and a batch search. HnswIndex and
 * FlatIndex qualify (FlatIndex ignores the HNSW parameters: it searches exactly).
 */
export interface BatchTarget {
  /** Dimension of the queries it takes. */
  readonly dim: number;
  /** Runs one batch; row q of the result (ids, scores, keys) answers queries[q]. */
  searchBatch(queries: readonly Vector[], k: number, params: HnswBatchParams): Promise<BatchSearchResult>;
  /**
   * The store whose `checkQuery` validates a query before it joins a batch (the index's own
   * check: dimension, finite values, sparse ordering). Without one, a bad query is found when
   * its batch fails with an input error, and that batch's queries are rerun one by one.
   */
  readonly store?: {
    /** Throws the index's error for a query it would refuse. */
    checkQuery(query: Vector): void;
  };
}

/**
 * How every batch runs, chosen once for the batcher (the service's choice, not each caller's):
 * backend ('cpu', 'gpu', 'auto'), gpuMode, threads, a GPU context, width, hybrid settings. The
 * per-call parameters (ef, rerank, lambda, filter) are given to `search` instead.
 */
export type BatchBackendParams = Omit<HnswBatchParams, 'ef' | 'rerank' | 'lambda' | 'filter'>;

/** What one batch did, for a service's metrics (see QueryBatcherOptions.onBatch). */
export interface BatchInfo {
  /** Queries in the batch. */
  readonly size: number;
  /** Results per query in the batch. */
  readonly k: number;
  /** Milliseconds its oldest query waited in the queue before the batch started. */
  readonly waitMs: number;
  /** Milliseconds the batch ran (its searchBatch call, and any one-by-one reruns). */
  readonly runMs: number;
  /** The batch's result (backend, gpuMode, roundTrips, threads, ...) when searchBatch succeeded. */
  readonly result?: BatchSearchResult;
  /** What searchBatch threw, when it failed. */
  readonly error?: unknown;
  /**
   * True when the batch failed on an input error (say a filter the index cannot serve) and its
   * queries were rerun one by one, so that each caller got its own result or error.
   */
  readonly isolated: boolean;
}

/** How a QueryBatcher forms and runs its batches; every option has a default (BATCHER_DEFAULTS). */
export interface QueryBatcherOptions {
  /** A batch closes when it holds this many queries. Default 256. */
  maxBatch?: number;
  /**
   * Milliseconds a batch waits for more queries after its first one. Default 0: the calls made
   * before the event loop turns batch together (in a Node server, those of every request that
   * arrived in the same poll of the sockets), and under load the calls arriving while a batch
   * runs form the next one. Raise it (say 1-5 ms) when each batch costs
   * a fixed price worth sharing, like a GPU round trip, and the load is moderate.
   */
  maxWaitMs?: number;
  /**
   * Queries that may wait at once (not counting the running batches); a call beyond it is
   * rejected with an OVERLOADED error instead of queueing. Default 4096.
   */
  maxQueue?: number;
  /**
   * Batches running at once. Default 1: the backend (worker threads, the GPU) is the
   * parallelism, and the next batch forms while one runs.
   */
  maxInFlight?: number;
  /** How every batch runs: backend, gpuMode, threads, ... (see BatchBackendParams). */
  batchParams?: BatchBackendParams;
  /**
   * Called after every batch with its size, wait and run times and its result or error (for
   * histograms and counters). It must not throw: an exception it throws is ignored.
   */
  onBatch?: (info: BatchInfo) => void;
}

/** The defaults of QueryBatcherOptions. */
export const BATCHER_DEFAULTS = {
  /** A batch closes at 256 queries. */
  maxBatch: 256,
  /** No wait: the calls made together (or arriving while a batch runs) batch together. */
  maxWaitMs: 0,
  /** 4096 calls may wait; one more is OVERLOADED. */
  maxQueue: 4096,
  /** One batch runs at a time. */
  maxInFlight: 1,
} as const;

const BATCHER_OPTION_NAMES: ReadonlySet<string> = new Set(['maxBatch', 'maxWaitMs', 'maxQueue', 'maxInFlight', 'batchParams', 'onBatch']);
/** The per-call parameters: given to search(), not to batchParams. */
const PER_CALL = ['ef', 'rerank', 'lambda', 'filter'];
const BATCH_BACKEND_PARAM_NAMES: ReadonlySet<string> = new Set([...BATCH_PARAM_NAMES].filter((n) => !PER_CALL.includes(n)));

/** QueryBatcherOptions checked and defaulted. */
export interface ResolvedBatcherOptions {
  readonly maxBatch: number;
  readonly maxWaitMs: number;
  readonly maxQueue: number;
  readonly maxInFlight: number;
  readonly batchParams: BatchBackendParams;
  readonly onBatch: ((info: BatchInfo) => void) | null;
}

/** Checks the options (INVALID_ARGUMENT naming the bad one) and fills in the defaults. */
export function resolveBatcherOptions(options: QueryBatcherOptions): ResolvedBatcherOptions {
  if (options === null || typeof options !== 'object') fail('INVALID_ARGUMENT', 'QueryBatcher options must be an object');
  checkOptionNames('QueryBatcher', options, BATCHER_OPTION_NAMES);
  const d = BATCHER_DEFAULTS;
  const onBatch = options.onBatch ?? null;
  if (onBatch !== null && typeof onBatch !== 'function') fail('INVALID_ARGUMENT', 'onBatch must be a function');
  const batchParams = options.batchParams ?? {};
  if (batchParams === null || typeof batchParams !== 'object') fail('INVALID_ARGUMENT', 'batchParams must be an object');
  for (const perCall of PER_CALL)
    if (perCall in batchParams) fail('INVALID_ARGUMENT', `batchParams.${perCall} is a per-call parameter: give it to search()`);
  checkOptionNames('QueryBatcher batchParams', batchParams, BATCH_BACKEND_PARAM_NAMES);
  return {
    maxBatch: checkInteger('maxBatch', options.maxBatch ?? d.maxBatch, 1),
    maxWaitMs: checkInteger('maxWaitMs', options.maxWaitMs ?? d.maxWaitMs, 0, 60_000),
    maxQueue: checkInteger('maxQueue', options.maxQueue ?? d.maxQueue, 1),
    maxInFlight: checkInteger('maxInFlight', options.maxInFlight ?? d.maxInFlight, 1, 1024),
    batchParams,
    onBatch,
  };
}

/** Counters of a QueryBatcher, for a service's metrics (see QueryBatcher.stats). */
export interface QueryBatcherStats {
  /** Calls waiting for a batch now. */
  readonly queued: number;
  /** Batches running now. */
  readonly running: number;
  /** Queries in the running batches. */
  readonly runningQueries: number;
  /** Batches finished (succeeded or failed). */
  readonly batches: number;
  /** Calls answered with a result. */
  readonly searched: number;
  /** Calls rejected by their batch (an error of searchBatch, or of their own rerun). */
  readonly failed: number;
  /** Calls refused before queueing: invalid, OVERLOADED, or after close. */
  readonly refused: number;
  /** Calls refused because the queue was full (OVERLOADED); counted in `refused` too. */
  readonly overloaded: number;
  /** Calls dropped by their AbortSignal before their batch started (CANCELLED). */
  readonly aborted: number;
}

import { fail, WebannoloError } from '../errors.js';
import { FlatIndex } from '../indexes/flat.js';
import type { HnswSearchParams } from '../indexes/hnsw/hnsw-index.js';
import type { SearchResult, Vector } from '../types.js';
import { yieldToEventLoop } from '../util/yield.js';
import {
  type BatchTarget,
  type QueryBatcherOptions,
  type QueryBatcherStats,
  type ResolvedBatcherOptions,
  resolveBatcherOptions,
} from './batcher-options.js';
import { CallQueue, type TakenBatch } from './call-queue.js';
import { checkCall, type PendingCall } from './pending-call.js';
import { runBatch } from './run-batch.js';

/** Per-call options of QueryBatcher.search. */
export interface BatchedSearchOptions {
  /** Aborting drops the call if its batch has not started (it rejects with CANCELLED); a started call finishes. */
  signal?: AbortSignal;
}

/**
 * Turns concurrent single-query searches into batch searches: the front of a service that
 * receives one query per request from many clients. Each `search` call waits in a queue with
 * the calls it can share a batch with (same k, ef, rerank and lambda; filtered or not; see
 * BatchShape); a batch runs `target.searchBatch` once it holds `maxBatch` queries or its first
 * query has waited `maxWaitMs`, on the backend the batcher was given (worker threads, the
 * GPU's resident kernel, or this thread). Each caller gets its own row of the result, or its
 * own error: a query that fails the index's checks is refused before it queues, and a batch
 * failing on an input error reruns its queries one by one.
 *
 * Works in browsers and in Node (no Node APIs). A query is read when its batch runs: do not
 * change its array before the call settles.
 *
 * @example
 * const batcher = new QueryBatcher(index, { maxBatch: 64, maxWaitMs: 1 });
 * const { ids, scores, keys } = await batcher.search(query, 10, { ef: 64 });
 * await batcher.close();
 */
export class QueryBatcher {
  private readonly options: ResolvedBatcherOptions;
  private readonly queue: CallQueue;
  /** Calls accepted and not yet settled (drain waits for them). */
  private readonly live = new Set<PendingCall>();
  private closed = false;
  private dispatchScheduled = false;
  private inFlight = 0;
  private inFlightQueries = 0;
  private counts = { batches: 0, searched: 0, failed: 0, refused: 0, overloaded: 0, aborted: 0 };

  /**
   * @param target the index to search (HnswIndex, FlatIndex, or anything with `dim` and `searchBatch`)
   * @param options batch size and delay, queue bound, batches in flight, backend (see QueryBatcherOptions)
   * @throws WebannoloError INVALID_ARGUMENT for a bad option (naming it)
   */
  constructor(
    readonly target: BatchTarget,
    options: QueryBatcherOptions = {},
  ) {
    if (target === null || typeof target !== 'object' || typeof target.searchBatch !== 'function')
      fail('INVALID_ARGUMENT', 'a QueryBatcher needs a target with searchBatch (an HnswIndex or a FlatIndex)');
    this.options = resolveBatcherOptions(options);
    this.queue = new CallQueue(this.options.maxBatch, this.options.maxWaitMs, () => this.scheduleDispatch());
  }

  /**
   * The k nearest items of `query`, as `target.search(query, k, params)` gives them (ids,
   * scores, keys when the index has keys, and with `rerank` the count `reranked`), found in a
   * batch with other calls.
   *
   * Rejects with a WebannoloError: the index's own error for a bad query or parameter
   * (INVALID_ARGUMENT, DIMENSION_MISMATCH, NON_FINITE); OVERLOADED when `maxQueue` calls are
   * waiting already; CANCELLED when `signal` aborts before the batch starts; CLOSED after
   * `close()`; or the error of its batch's searchBatch (say GPU_FAILURE), which every call of
   * that batch gets.
   *
   * @param params ef, rerank, lambda and filter, as HnswIndex.search takes them (a FlatIndex takes no filter)
   */
  search(query: Vector, k: number, params: HnswSearchParams = {}, options: BatchedSearchOptions = {}): Promise<SearchResult> {
    let checked: ReturnType<typeof checkCall>;
    try {
      if (this.closed) fail('CLOSED', 'this QueryBatcher is closed: it takes no more searches');
      checked = checkCall(this.target, query, k, params);
      if (checked.shape.filtered && this.target instanceof FlatIndex)
        fail('INVALID_ARGUMENT', 'a FlatIndex takes no filter: search an HnswIndex to filter');
      if (options.signal?.aborted) fail('CANCELLED', 'the search was cancelled before it started');
      if (this.queue.size >= this.options.maxQueue) {
        this.counts.overloaded++;
        fail('OVERLOADED', `${this.queue.size} searches are waiting already (maxQueue): try again later`);
      }
    } catch (error) {
      this.counts.refused++;
      return Promise.reject(error);
    }
    const { call, cancel } = this.enqueue(query, params.filter, checked.key);
    this.queue.add(call, checked.shape);
    const signal = options.signal;
    if (signal) {
      const onAbort = (): void => {
        if (this.queue.remove(call)) cancel();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      call.detach = () => signal.removeEventListener('abort', onAbort);
    }
    return call.promise;
  }

  /**
   * Resolves once every call accepted so far has settled. The waiting calls run now, without
   * waiting out maxWaitMs; new calls are still accepted (and are not waited for).
   */
  async drain(): Promise<void> {
    const promises = [...this.live].map((c) => c.promise);
    this.queue.flushAll();
    await Promise.allSettled(promises);
  }

  /**
   * Stops accepting calls (later ones reject with CLOSED) and resolves once every accepted
   * call has settled: the waiting ones run now, the running batches finish. Idempotent.
   */
  close(): Promise<void> {
    this.closed = true;
    return this.drain();
  }

  /** True after close(). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Counters for a service's metrics: queue depth, batches running and run, calls answered, failed, refused. */
  get stats(): QueryBatcherStats {
    return { queued: this.queue.size, running: this.inFlight, runningQueries: this.inFlightQueries, ...this.counts };
  }

  /**
   * A call with its promise; settling it updates the counters and lets drain() know. `cancel`
   * rejects it with CANCELLED (its signal aborted while it waited).
   */
  private enqueue(query: Vector, filter: HnswSearchParams['filter'], key: string): { call: PendingCall; cancel: () => void } {
    let settle!: { resolve: (r: SearchResult) => void; reject: (e: unknown) => void };
    const promise = new Promise<SearchResult>((resolve, reject) => {
      settle = { resolve, reject };
    });
    const call: PendingCall = {
      query,
      filter,
      key,
      enqueuedAt: performance.now(),
      promise,
      detach: null,
      resolve: (result) => {
        this.live.delete(call);
        this.counts.searched++;
        settle.resolve(result);
      },
      reject: (error) => {
        this.live.delete(call);
        this.counts.failed++;
        settle.reject(error);
      },
    };
    this.live.add(call);
    const cancel = (): void => {
      this.live.delete(call);
      this.counts.aborted++;
      settle.reject(new WebannoloError('CANCELLED', 'the search was cancelled before its batch started'));
    };
    return { call, cancel };
  }

  /**
   * Starts batches once the event loop turns (setImmediate in Node, a message in browsers),
   * not on the next microtask: a server's requests that arrived together are handled one
   * callback after another, with the microtasks run between them, so a microtask would start
   * a batch of one for each; after the turn, every call those callbacks made is queued.
   */
  private scheduleDispatch(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    void yieldToEventLoop().then(() => {
      this.dispatchScheduled = false;
      while (this.inFlight < this.options.maxInFlight) {
        const batch = this.queue.take();
        if (batch === null) return;
        void this.run(batch);
      }
    });
  }

  private async run({ shape, calls }: TakenBatch): Promise<void> {
    this.inFlight++;
    this.inFlightQueries += calls.length;
    for (const c of calls) c.detach?.();
    const { info, outcomes } = await runBatch(this.target, shape, calls, this.options.batchParams);
    // The counters and the metrics callback first, so that a caller's result finds them updated.
    this.inFlight--;
    this.inFlightQueries -= calls.length;
    this.counts.batches++;
    try {
      this.options.onBatch?.(info);
    } catch {
      // A metrics callback must not break the batcher (documented on onBatch).
    }
    for (let q = 0; q < calls.length; q++) {
      const outcome = outcomes[q]!;
      if ('result' in outcome) calls[q]!.resolve(outcome.result);
      else calls[q]!.reject(outcome.error);
    }
    this.scheduleDispatch();
  }
}

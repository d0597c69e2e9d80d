import { checkInteger, fail } from '../errors.js';
import type { SearchFilter } from '../indexes/filter.js';
import type { HnswSearchParams } from '../indexes/hnsw/hnsw-index.js';
import { checkOptionNames, SEARCH_PARAM_NAMES } from '../indexes/option-names.js';
import type { SearchResult, Vector } from '../types.js';
import type { BatchTarget } from './batcher-options.js';

/**
 * What calls must share to run in one batch: everything searchBatch takes once for all its
 * queries (k, ef, rerank, lambda; the backend is the batcher's). Filters need not be equal:
 * searchBatch takes one per query. But filtered and unfiltered calls do not mix: a batch with
 * filters is planned as a filtered batch (on the GPU only when every filter lets most items
 * through, else wholly on the CPU), which would drag unfiltered queries off the GPU. Dense and
 * sparse queries do not mix either (a batch is one query set).
 */
export interface BatchShape {
  readonly k: number;
  readonly ef: number | undefined;
  /** undefined for no re-ranking (0 means the same). */
  readonly rerank: number | undefined;
  readonly lambda: number | undefined;
  readonly filtered: boolean;
  readonly sparse: boolean;
}

/** One search call waiting for, or running in, a batch. */
export interface PendingCall {
  readonly query: Vector;
  readonly filter: SearchFilter | undefined;
  /** The key of its shape: calls with equal keys may share a batch. */
  readonly key: string;
  /** performance.now() when it was queued. */
  readonly enqueuedAt: number;
  /** What its caller awaits. */
  readonly promise: Promise<SearchResult>;
  resolve(result: SearchResult): void;
  reject(error: unknown): void;
  /** Removes its abort listener (set when it has a signal); called when its batch starts. */
  detach: (() => void) | null;
}

function isQueryVector(query: unknown): query is Vector {
  if (query instanceof Float32Array) return true;
  const q = query as { indices?: unknown; values?: unknown } | null;
  return typeof q === 'object' && q !== null && q.indices instanceof Uint32Array && q.values instanceof Float32Array;
}

/**
 * Checks one call before it queues, so that a bad call is refused alone and never fails the
 * batch it would have joined: k, ef, rerank and lambda as the index checks them, the filter's
 * form, and the query by the target's own check (dimension, finite values). What only the
 * index can tell (a label filter on an index without labels, k above its size) is found when
 * the batch runs (see runBatch). Returns the call's shape and its key.
 */
export function checkCall(
  target: BatchTarget,
  query: Vector,
  k: number,
  params: HnswSearchParams,
): { readonly shape: BatchShape; readonly key: string } {
  checkInteger('k', k, 1);
  if (params === null || typeof params !== 'object') fail('INVALID_ARGUMENT', 'search params must be an object');
  checkOptionNames('QueryBatcher.search', params, SEARCH_PARAM_NAMES);
  const { ef, lambda, filter } = params;
  if (ef !== undefined) checkInteger('ef', ef, 1);
  const rerank = params.rerank === 0 ? undefined : params.rerank;
  if (rerank !== undefined) checkInteger('rerank', rerank, 0);
  if (lambda !== undefined && (typeof lambda !== 'number' || !Number.isFinite(lambda) || lambda < 0))
    fail('INVALID_ARGUMENT', `lambda must be a finite number >= 0 (or left out: no early termination), got ${String(lambda)}`);
  if (filter !== undefined && (filter === null || typeof filter !== 'object'))
    fail('INVALID_ARGUMENT', 'a filter is { label }, { labels }, { where } or { bitset }');
  if (!isQueryVector(query))
    fail('INVALID_ARGUMENT', 'a query is a Float32Array or a sparse vector { indices: Uint32Array, values: Float32Array }');
  target.store?.checkQuery(query);
  const sparse = !(query instanceof Float32Array);
  const filtered = filter !== undefined;
  const key = `${k}/${ef ?? ''}/${rerank ?? ''}/${lambda ?? ''}/${filtered ? 'f' : 'u'}${sparse ? 's' : 'd'}`;
  return { shape: { k, ef, rerank, lambda, filtered, sparse }, key };
}

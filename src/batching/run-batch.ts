import { type ErrorCode, WebannoloError } from '../errors.js';
import type { HnswBatchParams } from '../indexes/hnsw/hnsw-index.js';
import type { BatchSearchResult, SearchResult } from '../types.js';
import type { BatchBackendParams, BatchInfo, BatchTarget } from './batcher-options.js';
import type { BatchShape, PendingCall } from './pending-call.js';

/**
 * Errors that blame the input rather than the backend: a batch failing with one of them may
 * owe it to a single call (a filter the index cannot serve), so its calls are rerun alone.
 */
const INPUT_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'INVALID_ARGUMENT',
  'DIMENSION_MISMATCH',
  'NON_FINITE',
  'EMPTY_DATA',
  'BAD_SPARSE_ROW',
]);

function isInputError(error: unknown): boolean {
  return error instanceof WebannoloError && INPUT_ERRORS.has(error.code);
}

/** The searchBatch parameters of `calls` (one shape): the backend's, the shape's, and a filter per query. */
function paramsFor(shape: BatchShape, calls: readonly PendingCall[], backend: BatchBackendParams): HnswBatchParams {
  const params: HnswBatchParams = { ...backend };
  if (shape.ef !== undefined) params.ef = shape.ef;
  if (shape.rerank !== undefined) params.rerank = shape.rerank;
  if (shape.lambda !== undefined) params.lambda = shape.lambda;
  // One call passes its filter as is, so that its error (if any) reads as a single search's.
  if (shape.filtered) params.filter = calls.length === 1 ? calls[0]!.filter! : calls.map((c) => c.filter!);
  return params;
}

/** Row q of a batch result, in arrays of its own (the caller may keep it; the batch's arrays go). */
function rowOf(result: BatchSearchResult, q: number): SearchResult {
  const { k } = result;
  const from = q * k;
  const ids = result.ids.slice(from, from + k);
  const scores = result.scores.slice(from, from + k);
  const row = result.keys ? { ids, scores, keys: result.keys.slice(from, from + k) } : { ids, scores };
  return result.reranked ? { ...row, reranked: result.reranked[q]! } : row;
}

/** What one call of a batch gets: its row of the result, or an error. */
export type Outcome = { readonly result: SearchResult } | { readonly error: unknown };

/** A batch's answer that cannot be its calls' answers (wrong size, filters ignored): rerunning would not help. */
class UnusableAnswer {
  constructor(readonly error: Error) {}
}

async function searchBatch(
  target: BatchTarget,
  shape: BatchShape,
  calls: readonly PendingCall[],
  backend: BatchBackendParams,
): Promise<BatchSearchResult> {
  const result = await target.searchBatch(
    calls.map((c) => c.query),
    shape.k,
    paramsFor(shape, calls, backend),
  );
  if (result.count !== calls.length || result.k !== shape.k || result.ids.length < calls.length * shape.k)
    throw new UnusableAnswer(new Error(`searchBatch answered ${result.count} x ${result.k} for ${calls.length} queries x ${shape.k}`));
  // A target without filters (FlatIndex) ignores them: its results would not be the filtered ones.
  if (shape.filtered && result.filtered !== true)
    throw new UnusableAnswer(
      new WebannoloError('INVALID_ARGUMENT', 'this index ignores filters (a FlatIndex takes none): filter on an HnswIndex'),
    );
  return result;
}

/**
 * Runs one batch on `target` and says what each call of it gets: its row of the result, or
 * the batch's error. When the batch fails on an input error (see INPUT_ERRORS) and holds
 * several calls, each is rerun alone, so a call the index refuses fails by itself and its
 * batch-mates still get their results. Other errors (a GPU fault, a broken target) go to every
 * call. Never throws; `info` tells what happened, for the metrics.
 */
export async function runBatch(
  target: BatchTarget,
  shape: BatchShape,
  calls: readonly PendingCall[],
  backend: BatchBackendParams,
): Promise<{ readonly info: BatchInfo; readonly outcomes: readonly Outcome[] }> {
  const startedAt = performance.now();
  const waitMs = startedAt - calls[0]!.enqueuedAt;
  const info = (extra: Pick<BatchInfo, 'result' | 'error' | 'isolated'>): BatchInfo => ({
    size: calls.length,
    k: shape.k,
    waitMs,
    runMs: performance.now() - startedAt,
    ...extra,
  });
  try {
    const result = await searchBatch(target, shape, calls, backend);
    return { info: info({ result, isolated: false }), outcomes: calls.map((_, q) => ({ result: rowOf(result, q) })) };
  } catch (thrown) {
    const error = thrown instanceof UnusableAnswer ? thrown.error : thrown;
    if (calls.length === 1 || thrown instanceof UnusableAnswer || !isInputError(error))
      return { info: info({ error, isolated: false }), outcomes: calls.map(() => ({ error })) };
    const outcomes: Outcome[] = [];
    for (const call of calls) {
      try {
        outcomes.push({ result: rowOf(await searchBatch(target, shape, [call], backend), 0) });
      } catch (own) {
        outcomes.push({ error: own instanceof UnusableAnswer ? own.error : own });
      }
    }
    return { info: info({ error, isolated: true }), outcomes };
  }
}

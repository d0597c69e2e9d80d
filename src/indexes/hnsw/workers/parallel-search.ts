import { DenseDataset } from '../../../data/dense.js';
import { SparseDataset } from '../../../data/sparse.js';
import { isWorkerLoss, type PoolWorker } from '../../../parallel/pool.js';
import type { Dataset } from '../../../types.js';
import { toShared } from '../../../util/shared-memory.js';
import type { QueryFilters } from '../../filter.js';
import type { HnswGraph } from '../graph/graph.js';
import type { WorkerAttachment } from './worker-attachment.js';
import type { SearchTask, SharedQueries } from './worker-messages.js';

/** How a batch's share of queries ended on the workers. */
export interface WorkerSearchOutcome {
  /** Worker threads whose share of the queries finished. */
  readonly threads: number;
  /** Rows of the batch whose results no worker finished (their worker died): the caller searches them. */
  readonly undone: readonly number[];
}

/**
 * Runs the single-query search for queries [from, to) on `threads` workers, which take
 * chunks of queries from a shared counter (so a slow query does not hold up a fixed share),
 * and writes results at row q of ids/scores (and, when given, each query's re-ranked count at
 * `reranked[q]`). The calling thread only waits.
 *
 * A worker that dies (or a pool closed meanwhile) does not fail the batch: the survivors
 * take the rest of the queries, and the queries whose results no worker finished come back
 * in `undone`, all of them when no worker could be started. Any other error (a handler's)
 * is thrown once every worker has answered.
 */
export async function searchOnWorkers(
  attachment: WorkerAttachment,
  graph: HnswGraph,
  queries: Dataset,
  from: number,
  to: number,
  search: { k: number; ef: number; rerank: number; lambda: number },
  threads: number,
  ids: Int32Array,
  scores: Float32Array,
  reranked: Uint32Array | null,
  filters: QueryFilters | null = null,
): Promise<WorkerSearchOutcome> {
  let workers: PoolWorker[];
  try {
    workers = await attachment.ready(threads);
  } catch (e) {
    if (!isWorkerLoss(e)) throw e;
    return { threads: 0, undone: Array.from({ length: to - from }, (_, i) => from + i) };
  }
  const nq = to - from;
  const { k } = search;
  const outIds = new Int32Array(new SharedArrayBuffer(nq * k * 4));
  const outScores = new Float32Array(new SharedArrayBuffer(nq * k * 4));
  const done = new Uint8Array(new SharedArrayBuffer(nq));
  const outReranked = reranked === null ? null : new Uint32Array(new SharedArrayBuffer(nq * 4));
  const task: SearchTask = {
    op: 'hnswSearch',
    handle: attachment.handle,
    entryPoint: graph.entryPoint,
    maxLevel: graph.maxLevel,
    queries: shareQueries(queries, from, to),
    ...search,
    next: new Int32Array(new SharedArrayBuffer(4)),
    // Small chunks balance the load; 8 per worker at least keeps the counter cheap.
    chunk: Math.max(1, Math.min(32, Math.floor(nq / (threads * 8)))),
    ids: outIds,
    scores: outScores,
    reranked: outReranked,
    done,
    from,
    filters:
      filters === null ? null : { sets: filters.sets.map((a) => ({ bits: toShared(a.bits), count: a.count })), which: filters.which },
  };
  const settled = await attachment.pool.settleOn(workers, () => task);
  let finished = 0;
  let lost = false;
  for (const s of settled) {
    if (s.status === 'fulfilled') finished++;
    else if (isWorkerLoss(s.reason)) lost = true;
    else throw s.reason;
  }
  ids.set(outIds, from * k);
  scores.set(outScores, from * k);
  if (outReranked !== null) reranked!.set(outReranked, from);
  const undone: number[] = [];
  if (lost) for (let q = 0; q < nq; q++) if (done[q] === 0) undone.push(from + q);
  return { threads: finished, undone };
}

/** Queries [from, to) on shared memory (one copy, read by every worker). */
function shareQueries(queries: Dataset, from: number, to: number): SharedQueries {
  if (queries instanceof DenseDataset) {
    return { kind: 'dense', dim: queries.dim, data: toShared(queries.data.subarray(from * queries.dim, to * queries.dim)) };
  }
  if (queries instanceof SparseDataset) {
    const start = queries.indptr[from]!;
    const end = queries.indptr[to]!;
    const indptr = new Uint32Array(new SharedArrayBuffer((to - from + 1) * 4));
    for (let i = 0; i <= to - from; i++) indptr[i] = queries.indptr[from + i]! - start;
    return {
      kind: 'sparse',
      dim: queries.dim,
      indptr,
      indices: toShared(queries.indices.subarray(start, end)),
      values: toShared(queries.values.subarray(start, end)),
    };
  }
  // Any other Dataset: copy its rows into a dense or sparse set first.
  const rows = Array.from({ length: to - from }, (_, i) => queries.get(from + i));
  return shareQueries(
    queries.kind === 'dense' ? DenseDataset.fromRows(rows as Float32Array[]) : SparseDataset.fromRows(rows as never, queries.dim),
    0,
    to - from,
  );
}

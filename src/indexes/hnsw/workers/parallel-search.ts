import { DenseDataset } from '../../../data/dense.js';
import { SparseDataset } from '../../../data/sparse.js';
import type { Dataset } from '../../../types.js';
import { toShared } from '../../../util/shared-memory.js';
import type { QueryFilters } from '../../filter.js';
import type { HnswGraph } from '../graph/graph.js';
import type { WorkerAttachment } from './worker-attachment.js';
import type { SearchTask, SharedQueries } from './worker-messages.js';

/**
 * Runs the single-query search for queries [from, to) on `threads` workers, which take
 * chunks of queries from a shared counter (so a slow query does not hold up a fixed share),
 * and writes results at row q of ids/scores. The calling thread only waits.
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
  filters: QueryFilters | null = null,
): Promise<void> {
  await attachment.ready(threads);
  const shared = shareQueries(queries, from, to);
  const nq = to - from;
  const { k } = search;
  const outIds = new Int32Array(new SharedArrayBuffer(nq * k * 4));
  const outScores = new Float32Array(new SharedArrayBuffer(nq * k * 4));
  const next = new Int32Array(new SharedArrayBuffer(4));
  // Small chunks balance the load; 8 per worker at least keeps the counter cheap.
  const chunk = Math.max(1, Math.min(32, Math.floor(nq / (threads * 8))));
  await attachment.pool.runEach(
    threads,
    (): SearchTask => ({
      op: 'hnswSearch',
      handle: attachment.handle,
      entryPoint: graph.entryPoint,
      maxLevel: graph.maxLevel,
      queries: shared,
      ...search,
      next,
      chunk,
      ids: outIds,
      scores: outScores,
      from,
      filters:
        filters === null ? null : { sets: filters.sets.map((a) => ({ bits: toShared(a.bits), count: a.count })), which: filters.which },
    }),
  );
  ids.set(outIds, from * k);
  scores.set(outScores, from * k);
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

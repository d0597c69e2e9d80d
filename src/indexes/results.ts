import { DenseDataset } from '../data/dense.js';
import { SparseDataset } from '../data/sparse.js';
import { checkInteger, fail } from '../errors.js';
import type { Dataset, Metric, Vector, VectorStore } from '../types.js';
import { toScore } from '../types.js';
import type { MaxHeap } from '../util/heap.js';

/**
 * Writes the best k of `top` (a max-heap of internal distances) into ids/scores at `offset`,
 * best first, as natural scores; pads with id -1 (score NaN) when fewer than k were found.
 * Empties the heap.
 */
export function emitTopK(
  top: MaxHeap,
  k: number,
  metric: Metric,
  ids: Int32Array,
  scores: Float32Array,
  offset: number,
  scratchIds: Uint32Array,
  scratchDists: Float64Array,
): void {
  while (top.size > k) top.pop();
  const n = top.drainSorted(scratchIds, scratchDists);
  for (let i = 0; i < k; i++) {
    if (i < n) {
      ids[offset + i] = scratchIds[i]!;
      scores[offset + i] = toScore(metric, scratchDists[i]!);
    } else {
      ids[offset + i] = -1;
      scores[offset + i] = Number.NaN;
    }
  }
}

/** Throws unless 1 <= k <= size. */
export function checkK(k: number, size: number): void {
  checkInteger('k', k, 1);
  if (k > size) fail('INVALID_ARGUMENT', `k = ${k} is larger than the index (${size} items)`);
}

/** Accepts a Dataset or an array of vectors (all dense or all sparse) as a query set. */
export function asQueryDataset(queries: Dataset | readonly Vector[], dim: number): Dataset {
  if (!Array.isArray(queries)) {
    if (queries instanceof Float32Array)
      fail(
        'INVALID_ARGUMENT',
        `a flat Float32Array (${(queries as Float32Array).length} numbers) is not a list of vectors: wrap one vector as [vector], or pass new DenseDataset(data, ${dim}) for many`,
      );
    if (queries === null || typeof queries !== 'object' || typeof (queries as Dataset).get !== 'function')
      fail('INVALID_ARGUMENT', 'vectors are a Dataset (DenseDataset, SparseDataset) or an array of vectors');
    return queries as Dataset;
  }
  const rows = queries as readonly Vector[];
  if (rows.length === 0) fail('EMPTY_DATA', 'no queries given');
  if (rows[0] instanceof Float32Array) return DenseDataset.fromRows(rows as Float32Array[]);
  let maxDim = dim;
  for (const r of rows as readonly { indices: Uint32Array }[]) {
    const last = r.indices[r.indices.length - 1];
    if (last !== undefined && last + 1 > maxDim) maxDim = last + 1;
  }
  return SparseDataset.fromRows(rows as never, maxDim);
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

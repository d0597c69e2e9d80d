import { DenseDataset } from '../../../data/dense.js';
import { SparseDataset } from '../../../data/sparse.js';
import type { Task } from '../../../parallel/pool.js';
import { attachStore } from '../../../quant/registry.js';
import type { Dataset, VectorStore } from '../../../types.js';
import { QueryFilters } from '../../filter.js';
import { BatchInserter } from '../build/insertion-batch.js';
import { HnswGraph } from '../graph/graph.js';
import { HnswSearcher } from '../search/searcher.js';
import type { AttachTask, DetachTask, InsertTask, SearchTask, SharedQueries } from './worker-messages.js';

/** An index (or a graph being built) as this worker holds it: views of the shared memory. */
interface Attached {
  readonly graph: HnswGraph;
  readonly store: VectorStore;
  readonly rerankStore: VectorStore | null;
  readonly efConstruction: number;
  readonly keepPruned: boolean;
  /** Made on the first task that needs it: an attachment serves searches or a build, not both. */
  searcher: HnswSearcher | null;
  inserter: BatchInserter | null;
}

const attached = new Map<number, Attached>();

function get(handle: number): Attached {
  const a = attached.get(handle);
  if (!a) throw new Error(`index ${handle} is not attached to this worker`);
  return a;
}

function queriesOf(q: SharedQueries): Dataset {
  return q.kind === 'dense' ? new DenseDataset(q.data, q.dim) : SparseDataset.trusted(q.indptr, q.indices, q.values, q.dim);
}

/** Worker-side handlers of HNSW tasks (routed by src/parallel/worker.ts). */
export const HNSW_TASKS = {
  hnswAttach(task: Task): void {
    const t = task as AttachTask;
    attached.set(t.handle, {
      graph: HnswGraph.attach(t.graph),
      store: attachStore(t.store),
      rerankStore: t.rerank ? attachStore(t.rerank) : null,
      efConstruction: t.efConstruction,
      keepPruned: t.keepPruned,
      searcher: null,
      inserter: null,
    });
  },

  hnswDetach(task: Task): void {
    attached.delete((task as DetachTask).handle);
  },

  /** Takes queries `chunk` at a time until none are left; returns how many it searched. */
  hnswSearch(task: Task): number {
    const t = task as SearchTask;
    const a = get(t.handle);
    a.graph.entryPoint = t.entryPoint;
    a.graph.maxLevel = t.maxLevel;
    const searcher = (a.searcher ??= new HnswSearcher(a));
    const queries = queriesOf(t.queries);
    const filters = t.filters === null ? null : new QueryFilters(t.filters.sets, t.filters.which);
    const nq = queries.size;
    let done = 0;
    for (let start = Atomics.add(t.next, 0, t.chunk); start < nq; start = Atomics.add(t.next, 0, t.chunk)) {
      const end = Math.min(nq, start + t.chunk);
      for (let q = start; q < end; q++) {
        const reranked = searcher.searchInto(
          queries.get(q),
          t.k,
          t.ef,
          t.rerank,
          t.ids,
          t.scores,
          q * t.k,
          filters?.for(t.from + q) ?? null,
          t.lambda,
        );
        if (t.reranked !== null) t.reranked[q] = reranked;
        Atomics.store(t.done, q, 1);
      }
      done += end - start;
    }
    return done;
  },

  /** Phase 1 of a build batch: takes batch nodes one at a time until none are left. */
  hnswSelect(task: Task): void {
    const t = task as InsertTask;
    const inserter = inserterOf(t.handle);
    const { from, to } = t.span;
    for (let x = from + Atomics.add(t.next, 0, 1); x < to; x = from + Atomics.add(t.next, 0, 1)) inserter.select(t.span, x);
  },

  /** Phase 2 of a build batch: this worker's lists and reverse links. */
  hnswLink(task: Task): void {
    const t = task as InsertTask;
    inserterOf(t.handle).link(t.span, t.worker, t.workers);
  },
};

function inserterOf(handle: number): BatchInserter {
  const a = get(handle);
  a.inserter ??= new BatchInserter(a.store, a.graph, a.efConstruction, a.keepPruned);
  return a.inserter;
}

import type { BackendOptions } from '../../../gpu/select.js';
import type { BatchEvaluator, GpuMode } from '../../../types.js';
import type { SearchFilter } from '../../filter.js';

/** Parameters of HnswIndex.search (and, per call, of QueryBatcher.search). */
export interface HnswSearchParams {
  /** Beam width; raised to k when smaller. Default max(k, 64). */
  ef?: number;
  /**
   * Re-rank the best `rerank` candidates of the beam (at most ef) by their plain vectors,
   * when the index keeps them (see quantize). Default 0: no re-ranking.
   */
  rerank?: number;
  /** Only items this filter allows (labels, a predicate on keys, a bitset); see SearchFilter. */
  filter?: SearchFilter;
  /**
   * Distance-adaptive early termination (CPU, unfiltered searches): the beam also stops when
   * its best unexpanded candidate is worse than the k-th result by more than lambda x |k-th
   * distance|; ef stays the cap, so pair it with a generous ef. Off by default (undefined);
   * 0.2 with ef 200 is the documented setting for L2 data (docs/early-termination.md; on
   * SPLADE's inner products it does not pay). Filtered searches and the GPU kernels ignore it.
   */
  lambda?: number;
}

/** Parameters of HnswIndex.searchBatch: those of search, one filter per query, and where the batch runs. */
export interface HnswBatchParams extends Omit<HnswSearchParams, 'filter'>, BackendOptions {
  /**
   * One filter for every query, or one per query (null: unfiltered). With backend 'gpu', a
   * batch whose filters all let most items through runs on the resident kernel (see
   * search-plan.ts); other filtered batches run on the CPU (every thread). `backend` says which.
   */
  filter?: SearchFilter | readonly (SearchFilter | null)[];
  /**
   * On the GPU: 'resident' (default) runs the whole search in one kernel, one round trip per
   * batch; 'hybrid' keeps the beam on the CPU and sends each round's distances to the GPU.
   * Without an explicit mode, a search the resident kernel cannot run (e.g. ef above its
   * workgroup-memory capacity) takes the hybrid path, and the result's gpuMode says so.
   */
  gpuMode?: GpuMode;
  /** Queries a hybrid lockstep batch holds. Default 1024 (each round costs a submit: fewer, fuller rounds). */
  batchSize?: number;
  /**
   * Hybrid batches in flight at once (when there are that many), so CPU rounds overlap GPU
   * rounds. Default 2 on a hardware adapter; 1 on a software one (SwiftShader), whose "GPU"
   * runs on the same cores as the controller, so overlapping them can only slow both.
   */
  hybridLanes?: number;
  /**
   * Candidates each query expands per round (w). Default: 1 on the hybrid path (exact
   * beam-search semantics); on the resident path enough to fill 64 threads (64 / (2m)).
   */
  width?: number;
  /** Computes the distances on the hybrid path (a custom BatchEvaluator); implies 'hybrid'. */
  evaluator?: BatchEvaluator;
  /**
   * Threads of a CPU search: the queries are shared out to worker threads, each running the
   * single-query search. Default: every core. 1 searches on the calling thread (yielding to
   * the event loop every 20 ms); so does a batch of one query. A worker that dies mid-batch
   * costs no results: the queries it had not finished are searched on the calling thread
   * (same results as one thread), and the result's `threads` counts what ran.
   */
  threads?: number;
}

/** A search's parameters once checked and defaulted (see resolveEf, resolveLambda). */
export interface ResolvedSearch {
  readonly k: number;
  readonly ef: number;
  readonly rerank: number;
  /** Early-termination slack (see HnswSearchParams.lambda); Infinity when off. */
  readonly lambda: number;
}

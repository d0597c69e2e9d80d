import type { Task } from '../../../parallel/pool.js';
import type { SharedStore } from '../../../quant/registry.js';
import type { AllowedSet } from '../../filter.js';
import type { BatchSpan } from '../build/insertion-batch.js';
import type { SharedGraph } from '../graph/graph.js';

// The messages the main thread sends worker threads for HNSW work (handled in worker-tasks.ts).
// Types only: the sending side (attachment, parallel search and build) and the handlers both
// import them, and neither has to import the other.

/** An index (or a graph being built) as a worker thread attaches it: shared memory only. */
export interface AttachTask extends Task {
  readonly op: 'hnswAttach';
  readonly handle: number;
  readonly graph: SharedGraph;
  readonly store: SharedStore;
  readonly rerank: SharedStore | null;
  readonly efConstruction: number;
  readonly keepPruned: boolean;
}

/** Drops an attachment: the worker lets go of its shared memory. */
export interface DetachTask extends Task {
  readonly op: 'hnswDetach';
  readonly handle: number;
}

/** Queries as workers receive them: dense rows or CSR arrays on shared memory. */
export type SharedQueries =
  | { readonly kind: 'dense'; readonly dim: number; readonly data: Float32Array }
  | {
      readonly kind: 'sparse';
      readonly dim: number;
      readonly indptr: Uint32Array;
      readonly indices: Uint32Array;
      readonly values: Float32Array;
    };

export interface SearchTask extends Task {
  readonly op: 'hnswSearch';
  readonly handle: number;
  readonly entryPoint: number;
  readonly maxLevel: number;
  readonly queries: SharedQueries;
  readonly k: number;
  readonly ef: number;
  readonly rerank: number;
  readonly lambda: number;
  /** The next query no worker has taken yet (workers take `chunk` at a time). */
  readonly next: Int32Array;
  readonly chunk: number;
  readonly ids: Int32Array;
  readonly scores: Float32Array;
  /** The candidates re-ranking scored, per query (null when the batch does not re-rank). */
  readonly reranked: Uint32Array | null;
  /** 1 at q once query q's results are written (if a worker dies, the rest are searched elsewhere). */
  readonly done: Uint8Array;
  /** Row of the batch where these queries start (per-query filters are indexed by it). */
  readonly from: number;
  readonly filters: { sets: AllowedSet[]; which: Int32Array | null } | null;
}

export interface InsertTask extends Task {
  readonly op: 'hnswSelect' | 'hnswLink';
  readonly handle: number;
  readonly span: BatchSpan;
  /** hnswSelect: the next batch node no worker has taken yet. */
  readonly next: Int32Array;
  /** hnswLink: this worker's share. */
  readonly worker: number;
  readonly workers: number;
}

import type { VectorStore } from '../types.js';
import { PlainDenseStore, type SharedDenseStore } from './dense/store.js';
import { PlainSparseStore, type SharedSparseStore } from './plain.js';
import { PqStore, type SharedPqStore } from './pq/pq.js';
import { ScalarStore, type SharedScalarStore } from './scalar/store.js';

/** A store as worker threads receive it: its data on shared memory, no copy per thread. */
export type SharedStore = SharedDenseStore | SharedSparseStore | SharedPqStore | SharedScalarStore;

/**
 * The store's shared form, or null for a store worker threads cannot use (a custom store, a
 * file-backed one): callers then stay on one thread.
 */
export function shareStore(store: VectorStore): SharedStore | null {
  if (store instanceof PlainDenseStore || store instanceof PlainSparseStore || store instanceof PqStore || store instanceof ScalarStore)
    return store.share();
  return null;
}

/** The store a worker thread searches: the shared memory, bound to this thread's kernels. */
export function attachStore(s: SharedStore): VectorStore {
  switch (s.kind) {
    case 'dense':
      return PlainDenseStore.attach(s);
    case 'sparse':
      return PlainSparseStore.attach(s);
    case 'pq':
      return PqStore.attach(s);
    case 'f16':
    case 'sq8':
      return ScalarStore.attach(s);
  }
}

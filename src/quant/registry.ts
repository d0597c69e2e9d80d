import type { GpuContext } from '../gpu/device.js';
import type { ResidentStoreKernel } from '../gpu/resident/store-kernels.js';
import type { BatchEvaluator, VectorStore } from '../types.js';
import { GpuDenseEvaluator } from './dense/gpu-pairs.js';
import { denseKernel } from './dense/resident.js';
import { PlainDenseStore, type SharedDenseStore } from './dense/store.js';
import { PlainSparseStore, type SharedSparseStore } from './plain.js';
import { GpuPqEvaluator } from './pq/gpu-pairs.js';
import { PqStore, type SharedPqStore } from './pq/pq.js';
import { pqKernel } from './pq/resident.js';
import { GpuScalarEvaluator } from './scalar/gpu-pairs.js';
import { scalarKernel } from './scalar/resident.js';
import { ScalarStore, type SharedScalarStore } from './scalar/store.js';
import { GpuSparseEvaluator } from './sparse/gpu-pairs.js';
import { sparseKernel } from './sparse/resident.js';

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

/** The GPU BatchEvaluator for a store (the hybrid path), or null for kinds the GPU does not handle. */
export function gpuEvaluatorFor(ctx: GpuContext, store: VectorStore): BatchEvaluator | null {
  if (store instanceof PlainDenseStore) return new GpuDenseEvaluator(ctx, store);
  if (store instanceof PqStore) return new GpuPqEvaluator(ctx, store);
  if (store instanceof PlainSparseStore) return new GpuSparseEvaluator(ctx, store);
  if (store instanceof ScalarStore) return new GpuScalarEvaluator(ctx, store);
  return null;
}

/** The store's snippet for the resident kernel, or null for kinds that have none. */
export function residentKernelFor(ctx: GpuContext, store: VectorStore): ResidentStoreKernel | null {
  if (store instanceof PlainDenseStore) return denseKernel(ctx, store);
  if (store instanceof PqStore) return pqKernel(ctx, store);
  if (store instanceof PlainSparseStore) return sparseKernel(ctx, store);
  if (store instanceof ScalarStore) return scalarKernel(ctx, store);
  return null;
}

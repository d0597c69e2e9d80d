import { exampleSparse } from '../examples.js';
import type { StoreKind } from '../store-kind.js';
import { sparseCodec } from './codec.js';
import { GpuSparseEvaluator } from './gpu-pairs.js';
import { sparseKernel } from './resident.js';
import { PlainSparseStore, type SharedSparseStore } from './store.js';

/** Plain sparse vectors (CSR): files, workers, GPU pairs and the resident kernel; no exact GPU scan. */
export const sparseKind: StoreKind<PlainSparseStore, SharedSparseStore> = {
  kind: 'sparse',
  codec: sparseCodec,
  owns: (store) => store instanceof PlainSparseStore,
  workers: { share: (store) => store.share(), attach: (shared) => PlainSparseStore.attach(shared) },
  plainVectors: (store) => store.data,
  gpuPairs: (ctx, store) => new GpuSparseEvaluator(ctx, store),
  residentKernel: sparseKernel,
  example: (metric) => new PlainSparseStore(exampleSparse(), metric),
};

import { exampleDense } from '../examples.js';
import type { StoreKind } from '../store-kind.js';
import { denseCodec } from './codec.js';
import { denseExactScan } from './exact-scan.js';
import { GpuDenseEvaluator } from './gpu-pairs.js';
import { denseKernel } from './resident.js';
import { PlainDenseStore, type SharedDenseStore } from './store.js';

/** Plain f32 vectors: every path (files, workers, GPU pairs, resident kernel, exact scan). */
export const denseKind: StoreKind<PlainDenseStore, SharedDenseStore> = {
  kind: 'dense',
  codec: denseCodec,
  owns: (store) => store instanceof PlainDenseStore,
  workers: { share: (store) => store.share(), attach: (shared) => PlainDenseStore.attach(shared) },
  plainVectors: (store) => store.toDataset(),
  gpuPairs: (ctx, store) => new GpuDenseEvaluator(ctx, store),
  residentKernel: denseKernel,
  exactScan: denseExactScan,
  example: (metric) => new PlainDenseStore(exampleDense(), metric),
};

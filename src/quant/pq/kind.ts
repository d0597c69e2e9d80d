import { exampleDense } from '../examples.js';
import type { StoreKind } from '../store-kind.js';
import { pqCodec } from './codec.js';
import { pqExactScan } from './exact-scan.js';
import { GpuPqEvaluator } from './gpu-pairs.js';
import { ProductQuantizer } from './quantizer.js';
import { pqKernel } from './resident.js';
import { PqStore, type SharedPqStore } from './store.js';

/** Product-quantization codes: every path (files, workers, GPU pairs, resident kernel, exact scan). */
export const pqKind: StoreKind<PqStore, SharedPqStore> = {
  kind: 'pq',
  codec: pqCodec,
  owns: (store) => store instanceof PqStore,
  workers: {
    share: (store) => store.share(),
    attach: (shared) => PqStore.attach(shared, ProductQuantizer.fromCodebooks(shared.dim, shared.m, shared.codebooks)),
  },
  gpuPairs: (ctx, store) => new GpuPqEvaluator(ctx, store),
  residentKernel: pqKernel,
  exactScan: pqExactScan,
  example: (metric) => new ProductQuantizer({ m: 4, maxIterations: 4 }).encode(exampleDense(), metric),
};

import { exampleDense } from '../examples.js';
import type { StoreKind } from '../store-kind.js';
import { rabitqCodec } from './codec.js';
import { GpuRabitqEvaluator } from './gpu-pairs.js';
import { RabitqQuantizer } from './quantizer.js';
import { rabitqKernel } from './resident.js';
import { RabitqStore, type SharedRabitqStore } from './store.js';

/**
 * RaBitQ codes: files, worker threads, GPU pairs (rabitq_pairs.wgsl) and the resident kernel
 * (resident_rabitq.wgsl), both computing the CPU's integer S and combining it with the
 * factors in f32; no exact GPU scan. Re-ranking by the estimates' bounds stays on the CPU
 * after either GPU path (ResultWriter).
 */
export const rabitqKind: StoreKind<RabitqStore, SharedRabitqStore> = {
  kind: 'rabitq',
  codec: rabitqCodec,
  owns: (store) => store instanceof RabitqStore,
  workers: { share: (store) => store.share(), attach: (shared) => RabitqStore.attach(shared) },
  gpuPairs: (ctx, store) => new GpuRabitqEvaluator(ctx, store),
  residentKernel: rabitqKernel,
  example: (metric) => new RabitqQuantizer({ bits: 2 }).encode(exampleDense(), metric),
};

import { exampleDense } from '../examples.js';
import type { StoreKind } from '../store-kind.js';
import { rabitqCodec } from './codec.js';
import { RabitqQuantizer } from './quantizer.js';
import { RabitqStore, type SharedRabitqStore } from './store.js';

/** RaBitQ codes: files and worker threads; no GPU kernels yet (a store without them stays on the CPU). */
export const rabitqKind: StoreKind<RabitqStore, SharedRabitqStore> = {
  kind: 'rabitq',
  codec: rabitqCodec,
  owns: (store) => store instanceof RabitqStore,
  workers: { share: (store) => store.share(), attach: (shared) => RabitqStore.attach(shared) },
  example: (metric) => new RabitqQuantizer({ bits: 2 }).encode(exampleDense(), metric),
};

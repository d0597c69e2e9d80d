import { exampleDense } from '../examples.js';
import type { StoreKind } from '../store-kind.js';
import { scalarCodec } from './codec.js';
import { GpuScalarEvaluator } from './gpu-pairs.js';
import { ScalarQuantizer } from './quantizer.js';
import { scalarKernel } from './resident.js';
import { SCALAR_ENCODINGS, type ScalarEncoding } from './scalar-encoding.js';
import { ScalarStore, type SharedScalarStore } from './store.js';

/** f16 or SQ8 codes (one kind each, one store class): files, workers, GPU pairs and the resident kernel; no exact GPU scan. */
function scalarKind(encoding: ScalarEncoding): StoreKind<ScalarStore, SharedScalarStore> {
  return {
    kind: encoding,
    codec: scalarCodec(encoding),
    owns: (store) => store instanceof ScalarStore,
    workers: { share: (store) => store.share(), attach: (shared) => ScalarStore.attach(shared) },
    gpuPairs: (ctx, store) => new GpuScalarEvaluator(ctx, store),
    residentKernel: scalarKernel,
    example: (metric) => new ScalarQuantizer(encoding).encode(exampleDense(), metric),
  };
}

export const scalarKinds = SCALAR_ENCODINGS.map(scalarKind);

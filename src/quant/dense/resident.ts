import type { GpuContext } from '../../gpu/device.js';
import { uploadQueries } from '../../gpu/pair-evaluator.js';
import { queryLimit, type ResidentStoreKernel } from '../../gpu/resident/store-kernels.js';
import { denseData } from './gpu-pairs.js';
import type { PlainDenseStore } from './store.js';

export function denseKernel(ctx: GpuContext, store: PlainDenseStore): ResidentStoreKernel {
  const data = denseData(ctx, store);
  const stride = data.vecsPerRow * 4;
  return {
    shader: 'resident_dense',
    chunkElement: 'vec4<f32>',
    chunks: data.chunks,
    constants: { VECS: data.vecsPerRow, ROWS_PER_CHUNK: data.rowsPerChunk, METRIC: store.metric === 'l2' ? 0 : 1 },
    itemsPerDistance: data.vecsPerRow,
    maxQueriesPerDispatch: queryLimit(ctx, stride * 4),
    prepare(_encoder, queries, start, count) {
      const buf = uploadQueries(ctx, queries, start, count, stride);
      return { bindings: [buf], release: () => ctx.resources.release(buf) };
    },
  };
}

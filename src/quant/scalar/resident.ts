import type { GpuContext } from '../../gpu/device.js';
import { uploadQueries } from '../../gpu/pair-evaluator.js';
import { queryLimit, type ResidentStoreKernel } from '../../gpu/resident/store-kernels.js';
import { scalarData } from './gpu-pairs.js';
import type { ScalarStore } from './store.js';

/** f16 and SQ8 codes, decoded in the shader (resident_f16.wgsl, resident_sq8.wgsl); queries go up as f32. */
export function scalarKernel(ctx: GpuContext, store: ScalarStore): ResidentStoreKernel {
  const data = scalarData(ctx, store);
  const { paddedDim, encoding } = store.codec;
  const vecs = paddedDim / 4;
  return {
    shader: `resident_${encoding}`,
    chunkElement: 'u32',
    bindingsBeforeChunks: data.mins ? 3 : 1,
    chunks: data.chunks,
    constants: { VECS: vecs, ROWS_PER_CHUNK: data.rowsPerChunk, METRIC: store.metric === 'l2' ? 0 : 1 },
    itemsPerDistance: vecs,
    maxQueriesPerDispatch: queryLimit(ctx, paddedDim * 4),
    prepare(_encoder, queries, start, count) {
      const buf = uploadQueries(ctx, queries, start, count, paddedDim);
      const ranges = data.mins && data.steps ? [data.mins, data.steps] : [];
      return { bindings: [buf, ...ranges], release: () => ctx.resources.release(buf) };
    },
  };
}

import type { GpuContext } from '../../gpu/device.js';
import { queryLimit, type ResidentStoreKernel } from '../../gpu/resident/store-kernels.js';
import { buildLuts, pqData } from './gpu-pairs.js';
import type { PqStore } from './store.js';

export function pqKernel(ctx: GpuContext, store: PqStore): ResidentStoreKernel {
  const data = pqData(ctx, store);
  const { m } = store.pq;
  return {
    shader: 'resident_pq',
    chunkElement: 'u32',
    chunks: data.chunks,
    constants: { MSUB: m, WORDS: data.wordsPerRow, ROWS_PER_CHUNK: data.rowsPerChunk },
    itemsPerDistance: m,
    maxQueriesPerDispatch: queryLimit(ctx, m * 256 * 4),
    async prepare(encoder, queries, start, count) {
      const built = await buildLuts(ctx, data, queries, start, count, encoder);
      return {
        bindings: [built.luts],
        release: () => {
          built.release();
          ctx.resources.release(built.luts);
        },
      };
    },
  };
}

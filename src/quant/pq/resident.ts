import type { GpuContext } from '../../gpu/device.js';
import { queryLimit, type ResidentStoreKernel } from '../../gpu/resident/store-kernels.js';
import { encodeLuts, lutPipeline, pqData } from './gpu-pairs.js';
import type { PqStore } from './store.js';

export function pqKernel(ctx: GpuContext, store: PqStore): ResidentStoreKernel {
  const data = pqData(ctx, store);
  const { m } = store.pq;
  let lut: GPUComputePipeline | null = null;
  return {
    shader: 'resident_pq',
    chunkElement: 'u32',
    chunks: data.chunks,
    constants: { MSUB: m, WORDS: data.wordsPerRow, ROWS_PER_CHUNK: data.rowsPerChunk },
    itemsPerDistance: m,
    maxQueriesPerDispatch: queryLimit(ctx, m * 256 * 4),
    async ready() {
      lut = await lutPipeline(ctx);
    },
    prepare(encoder, queries, start, count) {
      if (lut === null) throw new Error('internal error: resident_pq prepared before ready()');
      const built = encodeLuts(ctx, lut, data, queries, start, count, encoder);
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

import type { GpuContext } from '../../gpu/device.js';
import { queryLimit, type ResidentStoreKernel } from '../../gpu/resident/store-kernels.js';
import { cachedUpload } from '../gpu-cache.js';
import { GpuSparseData, scatterQueries } from './gpu-pairs.js';
import type { PlainSparseStore } from './store.js';

export function sparseKernel(ctx: GpuContext, store: PlainSparseStore): ResidentStoreKernel | null {
  const d = store.data;
  if (d.indices.byteLength > ctx.limits.maxStorageBufferBindingSize) return null;
  const data = cachedUpload(ctx, store, Number.MAX_SAFE_INTEGER, () => new GpuSparseData(ctx, store));
  const dim = store.dim;
  return {
    shader: 'resident_sparse',
    chunkElement: null,
    chunks: [],
    constants: { DIM: dim, NITEMS: store.size, METRIC: store.metric === 'l2' ? 0 : 1 },
    itemsPerDistance: Math.max(1, Math.round(d.nnz / Math.max(1, d.size))),
    maxQueriesPerDispatch: queryLimit(ctx, dim * 4),
    prepare(_encoder, queries, start, count) {
      const { rows, norms } = scatterQueries(data, queries, start, count);
      const qBuf = ctx.resources.storage(rows.byteLength, 'sparse query rows');
      ctx.resources.write(qBuf, rows);
      const nBuf = ctx.resources.storage(norms.byteLength, 'sparse norms');
      ctx.resources.write(nBuf, norms);
      return {
        bindings: [qBuf, data.indptr, data.indices, data.values, nBuf],
        release: () => {
          ctx.resources.release(qBuf);
          ctx.resources.release(nBuf);
        },
      };
    },
  };
}

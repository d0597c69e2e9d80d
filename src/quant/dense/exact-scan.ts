import type { GpuContext } from '../../gpu/device.js';
import { encodeDispatch, grid } from '../../gpu/dispatch.js';
import type { ExactScan } from '../../gpu/exact.js';
import { GPU_KERNELS } from '../../gpu/kernels.js';
import { denseData, padRows } from './gpu-pairs.js';
import type { PlainDenseStore } from './store.js';

/** The exact search's distance matrix over plain dense rows (dense_scan.wgsl, chunk by chunk). */
export function denseExactScan(ctx: GpuContext, store: PlainDenseStore): ExactScan {
  const { device, resources } = ctx;
  const n = store.size;
  let pipeline: GPUComputePipeline | null = null;
  return {
    size: n,
    async ready() {
      pipeline = await resources.pipeline('dense_scan');
    },
    encode(encoder, queries, start, rows, matrix) {
      const compiled = pipeline;
      if (compiled === null) throw new Error('internal error: dense_scan encoded before ready()');
      const data = denseData(ctx, store);
      const stride = data.vecsPerRow * 4;
      const q = new Float32Array(rows * stride);
      for (let s = 0; s < rows; s++) q.set(padRows(queries.get(start + s) as Float32Array, store.dim, 0, 1, stride), s * stride);
      const qBuf = resources.storage(q.byteLength, 'dense_scan.queries');
      resources.write(qBuf, q);
      const buffers = [qBuf];
      data.chunks.forEach((chunk, c) => {
        const idBase = c * data.rowsPerChunk;
        const items = Math.min(data.rowsPerChunk, n - idBase);
        const g = grid(Math.ceil((rows * items) / 64));
        const p = resources.params(GPU_KERNELS.dense_scan, {
          nq: rows,
          n: items,
          vecsPerRow: data.vecsPerRow,
          metric: store.metric === 'l2' ? 0 : 1,
          outStride: n,
          idBase,
          groupsX: g.x,
        });
        buffers.push(p);
        encodeDispatch(device, encoder, compiled, [chunk, qBuf, matrix, p], g);
      });
      return () => {
        for (const b of buffers) resources.release(b);
      };
    },
  };
}

import type { GpuContext } from '../../gpu/device.js';
import { encodeDispatch, grid } from '../../gpu/dispatch.js';
import type { ExactScan } from '../../gpu/exact.js';
import { GPU_KERNELS } from '../../gpu/kernels.js';
import { encodeLuts, lutPipeline, pqData } from './gpu-pairs.js';
import type { PqStore } from './store.js';

/** The exact search's distance matrix over PQ codes: lookup tables per query block, then pq_scan.wgsl chunk by chunk. */
export function pqExactScan(ctx: GpuContext, store: PqStore): ExactScan {
  const { device, resources } = ctx;
  const n = store.size;
  let pipelines: { lut: GPUComputePipeline; scan: GPUComputePipeline } | null = null;
  return {
    size: n,
    async ready() {
      pipelines = { lut: await lutPipeline(ctx), scan: await resources.pipeline('pq_scan') };
    },
    encode(encoder, queries, start, rows, matrix) {
      if (pipelines === null) throw new Error('internal error: pq_scan encoded before ready()');
      const { lut, scan } = pipelines;
      const data = pqData(ctx, store);
      const built = encodeLuts(ctx, lut, data, queries, start, rows, encoder);
      const params: GPUBuffer[] = [];
      data.chunks.forEach((chunk, c) => {
        const idBase = c * data.rowsPerChunk;
        const items = Math.min(data.rowsPerChunk, n - idBase);
        const g = grid(Math.ceil((rows * items) / 64));
        const p = resources.params(GPU_KERNELS.pq_scan, {
          nq: rows,
          n: items,
          m: store.pq.m,
          wordsPerRow: data.wordsPerRow,
          outStride: n,
          idBase,
          groupsX: g.x,
        });
        params.push(p);
        encodeDispatch(device, encoder, scan, [chunk, built.luts, matrix, p], g);
      });
      return () => {
        built.release();
        resources.release(built.luts);
        for (const p of params) resources.release(p);
      };
    },
  };
}

import type { DenseDataset } from '../../data/dense.js';
import { gpuCall } from '../../gpu/call.js';
import type { GpuContext } from '../../gpu/device.js';
import { encodeDispatch, fenced, grid } from '../../gpu/dispatch.js';
import { GPU_KERNELS } from '../../gpu/kernels.js';
import type { ProductQuantizer } from './quantizer.js';

/**
 * k-means assignment on the GPU (kmeans_assign.wgsl): nearest centroid and its squared
 * distance for every point; returns how many assignments changed. The points stay uploaded
 * between iterations (cached by array identity). The assigner is one call on the device (see
 * gpuCall): its faults are its own, whatever else runs there.
 */
export function gpuAssigner(gpu: GpuContext) {
  const ctx = gpuCall(gpu, null);
  let cachedPoints: Float32Array | null = null;
  let pointsBuf: GPUBuffer | null = null;
  return async (points: Float32Array, dim: number, centroids: Float32Array, assign: Int32Array, dist: Float64Array): Promise<number> => {
    const { resources } = ctx;
    const n = points.length / dim;
    const k = centroids.length / dim;
    const pipeline = await resources.pipeline('kmeans_assign');
    const held: GPUBuffer[] = [];
    let a: ArrayBuffer;
    let d: ArrayBuffer;
    try {
      [a, d] = (await fenced(ctx, () => {
        if (cachedPoints !== points || pointsBuf === null) {
          if (pointsBuf) resources.release(pointsBuf);
          pointsBuf = null;
          pointsBuf = resources.storage(points.byteLength, 'kmeans_assign.points');
          resources.write(pointsBuf, points);
          cachedPoints = points;
        }
        const cBuf = resources.storage(centroids.byteLength, 'kmeans_assign.centroids');
        resources.write(cBuf, centroids);
        const aBuf = resources.storage(n * 4, 'kmeans_assign.assign');
        const dBuf = resources.storage(n * 4, 'kmeans_assign.dist');
        const g = grid(Math.ceil(n / 64));
        const params = resources.params(GPU_KERNELS.kmeans_assign, { n, k, dim, groupsX: g.x });
        held.push(cBuf, aBuf, dBuf, params);
        const encoder = ctx.device.createCommandEncoder();
        encodeDispatch(ctx.device, encoder, pipeline, [pointsBuf, cBuf, aBuf, dBuf, params], g);
        const readA = resources.readback(n * 4, 'kmeans_assign.assign readback');
        const readD = resources.readback(n * 4, 'kmeans_assign.dist readback');
        encoder.copyBufferToBuffer(aBuf, 0, readA, 0, n * 4);
        encoder.copyBufferToBuffer(dBuf, 0, readD, 0, n * 4);
        ctx.device.queue.submit([encoder.finish()]);
        return resources.readAll([
          { buffer: readA, bytes: n * 4 },
          { buffer: readD, bytes: n * 4 },
        ]);
      })) as [ArrayBuffer, ArrayBuffer];
    } finally {
      for (const b of held) resources.release(b);
    }
    const newAssign = new Uint32Array(a, 0, n);
    const newDist = new Float32Array(d, 0, n);
    let changed = 0;
    for (let i = 0; i < n; i++) {
      if (assign[i] !== newAssign[i]) changed++;
      assign[i] = newAssign[i]!;
      dist[i] = newDist[i]!;
    }
    return changed;
  };
}

/** Trains a product quantizer with GPU k-means assignment. */
export async function trainPqOnGpu(pq: ProductQuantizer, data: DenseDataset, ctx: GpuContext): Promise<void> {
  await pq.trainWith(data, gpuAssigner(ctx));
}

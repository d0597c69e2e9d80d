import type { DenseDataset } from '../../data/dense.js';
import { WorkerPool } from '../../parallel/pool.js';
import type { ProductQuantizer } from './quantizer.js';
import type { KmeansAssignTask } from './worker-tasks.js';

/**
 * A k-means assignment step that splits the points across `threads` workers. Each slice runs
 * the same code as the one-thread step, so the centroids come out identical.
 */
export function parallelAssigner(threads: number, pool = WorkerPool.shared()) {
  return async (points: Float32Array, dim: number, centroids: Float32Array, assign: Int32Array, dist: Float64Array): Promise<number> => {
    const n = points.length / dim;
    const shared = new Float32Array(new SharedArrayBuffer(points.byteLength));
    shared.set(points);
    const sharedAssign = new Int32Array(new SharedArrayBuffer(n * 4));
    sharedAssign.set(assign);
    const sharedDist = new Float64Array(new SharedArrayBuffer(n * 8));
    const per = Math.ceil(n / threads);
    const changed = (await pool.runEach(
      threads,
      (w): KmeansAssignTask => ({
        op: 'kmeansAssign',
        points: shared,
        dim,
        centroids,
        from: Math.min(n, w * per),
        to: Math.min(n, (w + 1) * per),
        assign: sharedAssign,
        dist: sharedDist,
      }),
    )) as number[];
    assign.set(sharedAssign);
    dist.set(sharedDist);
    return changed.reduce((a, b) => a + b, 0);
  };
}

/**
 * Trains `pq` with the k-means assignments on `threads` worker threads (the centroid updates
 * stay here). Gives the same codebooks as pq.train(data).
 */
export async function trainPqParallel(
  pq: ProductQuantizer,
  data: DenseDataset,
  threads: number,
  options: { onProgress?: (done: number, total: number) => void } = {},
): Promise<void> {
  if (threads <= 1) {
    pq.train(data, options);
    return;
  }
  await pq.trainWith(data, parallelAssigner(threads), options);
}

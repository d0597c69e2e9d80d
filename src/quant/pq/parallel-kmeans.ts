import type { DenseDataset } from '../../data/dense.js';
import { isWorkerLoss, WorkerPool } from '../../parallel/pool.js';
import { assignPoints } from './kmeans.js';
import type { ProductQuantizer } from './quantizer.js';
import type { KmeansAssignTask } from './worker-tasks.js';

/**
 * A k-means assignment step that splits the points across `threads` workers. Each slice runs
 * the same code as the one-thread step, so the centroids come out identical. The slice of a
 * worker that dies (or of a pool closed meanwhile) is assigned on this thread instead, with
 * the same code: the training goes on with the same result.
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
    const slice = (w: number) => ({ from: Math.min(n, w * per), to: Math.min(n, (w + 1) * per) });
    let settled: PromiseSettledResult<unknown>[];
    try {
      settled = await pool.settleOn(
        await pool.ensure(threads),
        (w): KmeansAssignTask => ({
          op: 'kmeansAssign',
          points: shared,
          dim,
          centroids,
          ...slice(w),
          assign: sharedAssign,
          dist: sharedDist,
        }),
      );
    } catch (e) {
      if (!isWorkerLoss(e)) throw e;
      settled = Array.from({ length: threads }, () => ({ status: 'rejected', reason: e }));
    }
    let changed = 0;
    for (let w = 0; w < threads; w++) {
      const s = settled[w]!;
      if (s.status === 'fulfilled') changed += s.value as number;
      else if (isWorkerLoss(s.reason)) changed += assignHere(slice(w), assign, shared, dim, centroids, sharedAssign, sharedDist);
      else throw s.reason;
    }
    assign.set(sharedAssign);
    dist.set(sharedDist);
    return changed;
  };
}

/** A dead worker's slice, assigned on this thread from the step's starting assignment (the worker may have written part of it). */
function assignHere(
  { from, to }: { from: number; to: number },
  before: Int32Array,
  points: Float32Array,
  dim: number,
  centroids: Float32Array,
  assign: Int32Array,
  dist: Float64Array,
): number {
  assign.set(before.subarray(from, to), from);
  return assignPoints(
    points.subarray(from * dim, to * dim),
    dim,
    centroids,
    centroids.length / dim,
    assign.subarray(from, to),
    dist.subarray(from, to),
  );
}

/**
 * Trains `pq` with the k-means assignments on `threads` worker threads (the centroid updates
 * stay here). Gives the same codebooks as pq.train(data), also when a worker dies (its slice
 * of the points is then assigned on this thread).
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

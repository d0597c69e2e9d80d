import type { Task } from '../../parallel/pool.js';
import { assignPoints } from './kmeans.js';

/** What a worker receives for one k-means assignment slice. */
export interface KmeansAssignTask extends Task {
  readonly op: 'kmeansAssign';
  readonly points: Float32Array;
  readonly dim: number;
  readonly centroids: Float32Array;
  readonly from: number;
  readonly to: number;
  readonly assign: Int32Array;
  readonly dist: Float64Array;
}

/** Worker-side handlers of quantizer tasks (routed by src/parallel/worker.ts). */
export const QUANT_TASKS = {
  /** Nearest centroid of points [from, to): the same code as the one-thread assignment. */
  kmeansAssign(task: Task): number {
    const t = task as KmeansAssignTask;
    const { dim, from, to } = t;
    return assignPoints(
      t.points.subarray(from * dim, to * dim),
      dim,
      t.centroids,
      t.centroids.length / dim,
      t.assign.subarray(from, to),
      t.dist.subarray(from, to),
    );
  },
};

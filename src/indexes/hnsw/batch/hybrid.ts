import type { Dataset } from '../../../types.js';
import type { MaxHeap } from '../../../util/heap.js';
import type { HnswGraph } from '../graph/graph.js';
import type { FaultTolerantEvaluator } from './fault-tolerant.js';
import { BatchController } from './lockstep.js';

export interface HybridOptions {
  ef: number;
  width: number;
  /** Queries per lockstep batch. */
  batchSize: number;
}

/**
 * The hybrid path: queries [from, end) in lockstep batches of `batchSize`, the beam on the
 * CPU and each round's distances through an evaluator. With several evaluators (lanes) and
 * more than one batch, that many batches are in flight at once: while the GPU scores one
 * lane's round, the CPU applies another's, so host work and device work overlap. Each lane owns its evaluator (its queries
 * live on the device) and its controller; `emit` receives each query's best candidates.
 */
export async function runHybrid(
  graph: HnswGraph,
  lanes: readonly FaultTolerantEvaluator[],
  queries: Dataset,
  from: number,
  opts: HybridOptions,
  emit: (query: number, top: MaxHeap) => void,
): Promise<void> {
  const nq = queries.size;
  const batchSize = opts.batchSize;
  let next = from;
  const lane = async (evaluator: FaultTolerantEvaluator) => {
    const controller = new BatchController(graph);
    while (next < nq) {
      const start = next;
      const count = Math.min(batchSize, nq - start);
      next += count;
      await controller.run(evaluator, queries, start, count, opts, (slot, top) => emit(start + slot, top));
    }
  };
  await Promise.all(lanes.map(lane));
}

import type { BatchEvaluator, Dataset, GraphLayout } from '../types.js';
import type { GpuContext } from './device.js';
import { guarded, scoreChunkedPairs, scoreNeighbours, type PairKernel } from './dispatch.js';

/**
 * A WebGPU BatchEvaluator built on one pair kernel: scoring (slot, item) pairs and, for the
 * hybrid controller, every level-0 neighbour of expanded nodes. Subclasses bind the queries
 * (setQueries) and describe their kernel; faults surface as exceptions (guarded).
 */
export abstract class PairKernelEvaluator implements BatchEvaluator {
  readonly backend = 'gpu';

  constructor(protected readonly ctx: GpuContext) {}

  abstract setQueries(queries: Dataset, start: number, count: number): Promise<void>;
  abstract dispose(): void;

  /** The pair kernel over the store and the queries bound now. */
  protected abstract get kernel(): PairKernel;

  distances(slots: Uint32Array, ids: Uint32Array, count: number, out: Float32Array): Promise<void> {
    return guarded(this.ctx, () => scoreChunkedPairs(this.ctx, this.kernel, slots, ids, count, out));
  }

  neighbourDistances(graph: GraphLayout, slots: Uint32Array, nodes: Uint32Array, count: number, out: Float32Array): Promise<void> {
    return guarded(this.ctx, () => scoreNeighbours(this.ctx, this.kernel, graph, slots, nodes, count, out));
  }
}

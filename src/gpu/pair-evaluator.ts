import type { BatchEvaluator, Dataset, GraphLayout } from '../types.js';
import type { GpuContext } from './device.js';
import { fenced, type PairKernel, scoreChunkedPairs, scoreNeighbours } from './dispatch.js';

/**
 * A WebGPU BatchEvaluator built on one pair kernel: scoring (slot, item) pairs and, for the
 * hybrid controller, every level-0 neighbour of expanded nodes. Subclasses bind the queries
 * (setQueries) and describe their kernel; faults surface as exceptions (see fenced). Made for
 * a call (its context a gpuCall), it counts its traffic into that call.
 */
export abstract class PairKernelEvaluator implements BatchEvaluator {
  readonly backend = 'gpu';

  constructor(protected readonly ctx: GpuContext) {}

  /** Uploads queries[start .. start+count) into the query slots 0..count-1. */
  abstract setQueries(queries: Dataset, start: number, count: number): Promise<void>;
  /** Frees the GPU buffers this evaluator created (not the shared store or graph). */
  abstract dispose(): void;

  /** The pair kernel over the store and the queries bound now. */
  protected abstract get kernel(): PairKernel;

  distances(slots: Uint32Array, ids: Uint32Array, count: number, out: Float32Array): Promise<void> {
    return scoreChunkedPairs(this.ctx, this.kernel, slots, ids, count, out);
  }

  neighbourDistances(graph: GraphLayout, slots: Uint32Array, nodes: Uint32Array, count: number, out: Float32Array): Promise<void> {
    return scoreNeighbours(this.ctx, this.kernel, graph, slots, nodes, count, out);
  }
}

/**
 * A pair-kernel evaluator whose queries go up as f32 rows of `queryStride` floats (dense,
 * f16/SQ8): it holds the query buffer of the batch bound now.
 */
export abstract class QueryRowsEvaluator extends PairKernelEvaluator {
  protected queries: GPUBuffer | null = null;

  /** Floats per uploaded query row (the dimension padded as the kernel reads rows). */
  protected abstract get queryStride(): number;

  /** Uploads queries[start .. start+count) into the query slots 0..count-1. */
  async setQueries(queries: Dataset, start: number, count: number): Promise<void> {
    const { ctx } = this;
    await fenced(ctx, () => {
      if (this.queries) ctx.resources.release(this.queries);
      this.queries = null;
      this.queries = uploadQueries(ctx, queries, start, count, this.queryStride);
    });
  }

  /** Frees the GPU buffers this evaluator created (not the shared store or graph). */
  dispose(): void {
    if (this.queries) this.ctx.resources.release(this.queries);
    this.queries = null;
  }
}

/** Dense queries [start, start + count) in a new storage buffer, each row zero-padded to `stride` floats. */
export function uploadQueries(ctx: GpuContext, queries: Dataset, start: number, count: number, stride: number): GPUBuffer {
  const block = new Float32Array(count * stride);
  for (let s = 0; s < count; s++) block.set(queries.get(start + s) as Float32Array, s * stride);
  const buffer = ctx.resources.storage(block.byteLength, 'query rows');
  ctx.resources.write(buffer, block);
  return buffer;
}

import type { GpuContext } from '../../gpu/device.js';
import type { PairKernel } from '../../gpu/dispatch.js';
import { QueryRowsEvaluator } from '../../gpu/pair-evaluator.js';
import { cachedUpload } from '../gpu-cache.js';
import type { PlainDenseStore } from './store.js';

/**
 * A plain dense store uploaded once: rows padded to whole vec4s, split into chunks that each
 * fit maxStorageBufferBindingSize.
 */
export class GpuDenseData {
  readonly vecsPerRow: number;
  readonly rowsPerChunk: number;
  readonly chunks: GPUBuffer[] = [];
  constructor(
    readonly ctx: GpuContext,
    readonly store: PlainDenseStore,
  ) {
    const dim = store.dim;
    this.vecsPerRow = Math.ceil(dim / 4);
    const rowBytes = this.vecsPerRow * 16;
    this.rowsPerChunk = Math.max(1, Math.floor(ctx.limits.maxStorageBufferBindingSize / rowBytes));
    const vectors = store.vectors;
    for (let start = 0; start < store.size; start += this.rowsPerChunk) {
      const rows = Math.min(this.rowsPerChunk, store.size - start);
      this.chunks.push(ctx.resources.upload(padRows(vectors, dim, start, rows, this.vecsPerRow * 4), `dense rows ${start}+`));
    }
  }
  get bindingLimit(): number {
    return this.rowsPerChunk;
  }
}

/** Rows [start, start+rows) copied with each row zero-padded to `stride` floats. */
export function padRows(src: Float32Array, dim: number, start: number, rows: number, stride: number): Float32Array {
  if (stride === dim) return src.subarray(start * dim, (start + rows) * dim);
  const out = new Float32Array(rows * stride);
  for (let r = 0; r < rows; r++) out.set(src.subarray((start + r) * dim, (start + r + 1) * dim), r * stride);
  return out;
}

export function denseData(ctx: GpuContext, store: PlainDenseStore): GpuDenseData {
  const rowBytes = Math.ceil(store.dim / 4) * 16;
  const rows = Math.max(1, Math.floor(ctx.limits.maxStorageBufferBindingSize / rowBytes));
  return cachedUpload(ctx, store, rows, () => new GpuDenseData(ctx, store));
}

/** The WebGPU BatchEvaluator for plain dense stores (row_pairs.wgsl over dense_pairs.wgsl). */
export class GpuDenseEvaluator extends QueryRowsEvaluator {
  private readonly data: GpuDenseData;
  constructor(ctx: GpuContext, store: PlainDenseStore) {
    super(ctx);
    this.data = denseData(ctx, store);
  }

  protected get queryStride(): number {
    return this.data.vecsPerRow * 4;
  }

  /** row_pairs.wgsl with the dense row snippet, over this store and the bound queries. */
  protected get kernel(): PairKernel {
    return {
      store: this.data,
      shader: 'dense_pairs',
      main: 'row_pairs',
      threadsPerPair: 64,
      bind: (chunk, pairs, out, params) => [chunk, this.queries!, pairs, out, params],
      paramsOf: (n, groupsX, base) => ({
        count: n,
        vecs: this.data.vecsPerRow,
        metric: this.data.store.metric === 'l2' ? 0 : 1,
        groupsX,
        base,
        encoding: 0,
      }),
    };
  }
}

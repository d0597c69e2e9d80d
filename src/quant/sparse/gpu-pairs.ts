import { WebannoloError } from '../../errors.js';
import type { GpuContext } from '../../gpu/device.js';
import { fenced, type PairKernel } from '../../gpu/dispatch.js';
import { PairKernelEvaluator } from '../../gpu/pair-evaluator.js';
import type { Dataset, SparseVector } from '../../types.js';
import { cachedUpload } from '../gpu-cache.js';
import type { PlainSparseStore } from './store.js';

/**
 * A plain sparse store on the GPU: CSR arrays and item norms. Not chunked: a store whose
 * non-zeros exceed one binding (hundreds of millions on real GPUs) is refused, and searches
 * run on the CPU.
 */
export class GpuSparseData {
  readonly rowsPerChunk = Number.MAX_SAFE_INTEGER;
  readonly indptr: GPUBuffer;
  readonly indices: GPUBuffer;
  readonly values: GPUBuffer;
  readonly itemNorms: Float32Array;
  constructor(
    readonly ctx: GpuContext,
    readonly store: PlainSparseStore,
  ) {
    const d = store.data;
    if (d.indices.byteLength > ctx.limits.maxStorageBufferBindingSize) {
      throw new WebannoloError('GPU_FAILURE', `sparse store has ${d.nnz} non-zeros, more than one GPU binding holds`);
    }
    this.indptr = ctx.resources.upload(d.indptr, 'sparse indptr');
    this.indices = ctx.resources.upload(d.indices, 'sparse indices');
    this.values = ctx.resources.upload(d.values, 'sparse values');
    this.itemNorms = store.itemNorms ?? new Float32Array(d.size);
  }
}

/**
 * Queries [start, start+count) scattered into dense rows of `dim` floats (one gather per item
 * non-zero in the kernels), and the norms buffer the kernels read: item norms, then the
 * queries' squared norms.
 */
export function scatterQueries(
  data: GpuSparseData,
  queries: Dataset,
  start: number,
  count: number,
): { rows: Float32Array; norms: Float32Array } {
  const { size, dim } = data.store;
  const rows = new Float32Array(count * dim);
  const norms = new Float32Array(size + count);
  norms.set(data.itemNorms);
  for (let s = 0; s < count; s++) {
    const q = queries.get(start + s) as SparseVector;
    let qn = 0;
    for (let j = 0; j < q.indices.length; j++) {
      rows[s * dim + q.indices[j]!] = q.values[j]!;
      qn += q.values[j]! * q.values[j]!;
    }
    norms[size + s] = qn;
  }
  return { rows, norms };
}

/** The WebGPU BatchEvaluator for plain sparse stores (sparse_pairs.wgsl). */
export class GpuSparseEvaluator extends PairKernelEvaluator {
  private queries: GPUBuffer | null = null;
  private norms: GPUBuffer | null = null;
  private readonly data: GpuSparseData;
  constructor(
    ctx: GpuContext,
    private readonly store: PlainSparseStore,
  ) {
    super(ctx);
    this.data = cachedUpload(ctx, store, Number.MAX_SAFE_INTEGER, () => new GpuSparseData(ctx, store));
  }

  /** Uploads queries[start .. start+count), scattered into dense rows, to the query slots. */
  async setQueries(queries: Dataset, start: number, count: number): Promise<void> {
    const dim = this.store.dim;
    if (count * dim * 4 > this.ctx.limits.maxStorageBufferBindingSize) {
      throw new WebannoloError(
        'GPU_FAILURE',
        `a batch of ${count} sparse queries scattered to ${dim} dimensions exceeds one GPU binding: use a smaller batchSize`,
      );
    }
    const { rows, norms } = scatterQueries(this.data, queries, start, count);
    await fenced(this.ctx, () => {
      this.dispose();
      this.queries = this.ctx.resources.storage(rows.byteLength, 'sparse query rows');
      this.ctx.resources.write(this.queries, rows);
      this.norms = this.ctx.resources.storage(norms.byteLength, 'sparse norms');
      this.ctx.resources.write(this.norms, norms);
    });
  }

  /** sparse_pairs.wgsl over the CSR arrays (one "chunk": the store is never split). */
  protected get kernel(): PairKernel {
    return {
      store: { chunks: [this.data.indptr], rowsPerChunk: Number.MAX_SAFE_INTEGER },
      shader: 'sparse_pairs',
      threadsPerPair: 1,
      bind: (_chunk, pairs, out, params) => [
        this.data.indptr,
        this.data.indices,
        this.data.values,
        this.queries!,
        this.norms!,
        pairs,
        out,
        params,
      ],
      paramsOf: (n, groupsX) => ({ count: n, dim: this.store.dim, metric: this.store.metric === 'l2' ? 0 : 1, groupsX }),
    };
  }

  /** Frees the GPU buffers this evaluator created. */
  dispose(): void {
    if (this.queries) this.ctx.resources.release(this.queries);
    if (this.norms) this.ctx.resources.release(this.norms);
    this.queries = null;
    this.norms = null;
  }
}

import { WebannoloError } from '../errors.js';
import type { PlainSparseStore } from '../quant/plain.js';
import type { BatchEvaluator, Dataset, SparseVector } from '../types.js';
import type { GpuContext } from './device.js';
import { encodeDispatch, grid, guarded } from './dispatch.js';
import { cachedUpload } from './gpu-dense.js';

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
  constructor(readonly ctx: GpuContext, readonly store: PlainSparseStore) {
    const d = store.data;
    if (d.indices.byteLength > ctx.limits.maxStorageBufferBindingSize) {
      throw new WebannoloError('GPU_FAILURE', `sparse store has ${d.nnz} non-zeros, more than one GPU binding holds`);
    }
    this.indptr = ctx.resources.upload(d.indptr);
    this.indices = ctx.resources.upload(d.indices);
    this.values = ctx.resources.upload(d.values);
    this.itemNorms = store.itemNorms ?? new Float32Array(d.size);
  }
}

/**
 * Queries [start, start+count) scattered into dense rows of `dim` floats (one gather per item
 * non-zero in the kernels), and the norms buffer the kernels read: item norms, then the
 * queries' squared norms.
 */
export function scatterQueries(data: GpuSparseData, queries: Dataset, start: number, count: number): { rows: Float32Array; norms: Float32Array } {
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
export class GpuSparseEvaluator implements BatchEvaluator {
  readonly backend = 'gpu';
  private queries: GPUBuffer | null = null;
  private norms: GPUBuffer | null = null;
  private readonly data: GpuSparseData;
  constructor(private readonly ctx: GpuContext, private readonly store: PlainSparseStore) {
    this.data = cachedUpload(ctx, store, Number.MAX_SAFE_INTEGER, () => new GpuSparseData(ctx, store));
  }

  async setQueries(queries: Dataset, start: number, count: number): Promise<void> {
    const dim = this.store.dim;
    if (count * dim * 4 > this.ctx.limits.maxStorageBufferBindingSize) {
      throw new WebannoloError('GPU_FAILURE', `a batch of ${count} sparse queries scattered to ${dim} dimensions exceeds one GPU binding: use a smaller batchSize`);
    }
    const { rows, norms } = scatterQueries(this.data, queries, start, count);
    await guarded(this.ctx, async () => {
      this.dispose();
      this.queries = this.ctx.resources.storage(rows.byteLength);
      this.ctx.resources.write(this.queries, rows);
      this.norms = this.ctx.resources.storage(norms.byteLength);
      this.ctx.resources.write(this.norms, norms);
    });
  }

  distances(slots: Uint32Array, ids: Uint32Array, count: number, out: Float32Array): Promise<void> {
    const { ctx, data } = this;
    return guarded(ctx, async () => {
      const { device, resources } = ctx;
      const pairs = new Uint32Array(2 * count);
      for (let i = 0; i < count; i++) {
        pairs[2 * i] = slots[i]!;
        pairs[2 * i + 1] = ids[i]!;
      }
      const pairBuf = resources.storage(pairs.byteLength);
      resources.write(pairBuf, pairs);
      const outBuf = resources.storage(count * 4);
      const readBuf = resources.readback(count * 4);
      const g = grid(Math.ceil(count / 64));
      const params = resources.params([count, this.store.dim, this.store.metric === 'l2' ? 0 : 1, g.x]);
      const encoder = device.createCommandEncoder();
      encodeDispatch(device, encoder, await resources.pipeline('sparse_pairs'),
        [data.indptr, data.indices, data.values, this.queries!, this.norms!, pairBuf, outBuf, params], g);
      encoder.copyBufferToBuffer(outBuf, 0, readBuf, 0, count * 4);
      device.queue.submit([encoder.finish()]);
      out.set(new Float32Array(await resources.read(readBuf, count * 4), 0, count));
      resources.release(pairBuf);
      resources.release(outBuf);
      resources.release(params);
    });
  }

  dispose(): void {
    if (this.queries) this.ctx.resources.release(this.queries);
    if (this.norms) this.ctx.resources.release(this.norms);
    this.queries = null;
    this.norms = null;
  }
}

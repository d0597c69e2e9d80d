import type { GpuContext } from '../../gpu/device.js';
import { encodeDispatch, fenced, grid, type PairKernel } from '../../gpu/dispatch.js';
import { GPU_KERNELS } from '../../gpu/kernels.js';
import { PairKernelEvaluator, uploadQueries } from '../../gpu/pair-evaluator.js';
import type { Dataset } from '../../types.js';
import { cachedUpload } from '../gpu-cache.js';
import { PQ_KSUB } from './codebook.js';
import type { PqStore } from './store.js';

/** PQ codes (packed 4 per u32, rows padded to whole words, chunked) and codebooks on the GPU. */
export class GpuPqData {
  readonly wordsPerRow: number;
  readonly rowsPerChunk: number;
  readonly chunks: GPUBuffer[] = [];
  readonly codebooks: GPUBuffer;
  constructor(
    readonly ctx: GpuContext,
    readonly store: PqStore,
  ) {
    const { m } = store.pq;
    this.wordsPerRow = Math.ceil(m / 4);
    this.rowsPerChunk = rowsPerChunkOf(ctx, store);
    for (let start = 0; start < store.size; start += this.rowsPerChunk) {
      const rows = Math.min(this.rowsPerChunk, store.size - start);
      const packed = new Uint8Array(rows * this.wordsPerRow * 4);
      for (let r = 0; r < rows; r++) packed.set(store.codes.subarray((start + r) * m, (start + r + 1) * m), r * this.wordsPerRow * 4);
      this.chunks.push(ctx.resources.upload(packed, `pq codes ${start}+`));
    }
    this.codebooks = ctx.resources.upload(store.pq.codebooks, 'pq codebooks');
  }
}

function rowsPerChunkOf(ctx: GpuContext, store: PqStore): number {
  return Math.max(1, Math.floor(ctx.limits.maxStorageBufferBindingSize / (Math.ceil(store.pq.m / 4) * 4)));
}

export function pqData(ctx: GpuContext, store: PqStore): GpuPqData {
  return cachedUpload(ctx, store, rowsPerChunkOf(ctx, store), () => new GpuPqData(ctx, store));
}

/** The compiled lookup-table kernel (pq_lut.wgsl), awaited before the section that encodes it. */
export function lutPipeline(ctx: GpuContext): Promise<GPUComputePipeline> {
  return ctx.resources.pipeline('pq_lut');
}

/**
 * Encodes the lookup tables of `count` queries into a new storage buffer (pq_lut.wgsl), with
 * `pipeline` from lutPipeline. Synchronous: it runs inside a fenced section.
 */
export function encodeLuts(
  ctx: GpuContext,
  pipeline: GPUComputePipeline,
  data: GpuPqData,
  queries: Dataset,
  start: number,
  count: number,
  encoder: GPUCommandEncoder,
): { luts: GPUBuffer; release: () => void } {
  const { device, resources } = ctx;
  const { m, dim, dsub } = data.store.pq;
  const qBuf = uploadQueries(ctx, queries, start, count, dim);
  const luts = resources.storage(count * m * PQ_KSUB * 4, 'pq_lut.luts');
  const total = count * m * PQ_KSUB;
  const g = grid(Math.ceil(total / 64));
  const params = resources.params(GPU_KERNELS.pq_lut, { total, m, dsub, metric: data.store.metric === 'l2' ? 0 : 1, dim, groupsX: g.x });
  encodeDispatch(device, encoder, pipeline, [data.codebooks, qBuf, luts, params], g);
  return {
    luts,
    release: () => {
      resources.release(qBuf);
      resources.release(params);
    },
  };
}

/** The WebGPU BatchEvaluator for PQ stores: tables per batch, ADC per round. */
export class GpuPqEvaluator extends PairKernelEvaluator {
  private luts: GPUBuffer | null = null;
  private readonly data: GpuPqData;
  constructor(ctx: GpuContext, store: PqStore) {
    super(ctx);
    this.data = pqData(ctx, store);
  }

  /** Builds the lookup tables of queries[start .. start+count) on the GPU, one per query slot. */
  async setQueries(queries: Dataset, start: number, count: number): Promise<void> {
    const { ctx } = this;
    const pipeline = await lutPipeline(ctx);
    // The query rows and params go back to the pool once the tables are built.
    const releases: (() => void)[] = [];
    try {
      await fenced(ctx, () => {
        this.dispose();
        const encoder = ctx.device.createCommandEncoder();
        const built = encodeLuts(ctx, pipeline, this.data, queries, start, count, encoder);
        releases.push(built.release);
        ctx.device.queue.submit([encoder.finish()]);
        this.luts = built.luts;
        return ctx.resources.settle();
      });
    } finally {
      for (const release of releases) release();
    }
  }

  /** pq_adc_pairs.wgsl over this store's codes and the bound lookup tables. */
  protected get kernel(): PairKernel {
    return {
      store: this.data,
      shader: 'pq_adc_pairs',
      threadsPerPair: 1,
      bind: (chunk, pairs, out, params) => [chunk, this.luts!, pairs, out, params],
      paramsOf: (n, groupsX, base) => ({ count: n, m: this.data.store.pq.m, wordsPerRow: this.data.wordsPerRow, groupsX, base }),
    };
  }

  /** Frees the GPU buffers this evaluator created. */
  dispose(): void {
    if (this.luts) this.ctx.resources.release(this.luts);
    this.luts = null;
  }
}

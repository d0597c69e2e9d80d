import { PQ_KSUB, type PqStore } from '../quant/pq.js';
import type { BatchEvaluator, Dataset } from '../types.js';
import type { GpuContext } from './device.js';
import { encodeDispatch, grid, guarded, partitionPairs } from './dispatch.js';
import { cachedUpload } from './gpu-dense.js';

/** PQ codes (packed 4 per u32, rows padded to whole words, chunked) and codebooks on the GPU. */
export class GpuPqData {
  readonly wordsPerRow: number;
  readonly rowsPerChunk: number;
  readonly chunks: GPUBuffer[] = [];
  readonly codebooks: GPUBuffer;
  constructor(readonly ctx: GpuContext, readonly store: PqStore) {
    const { m } = store.pq;
    this.wordsPerRow = Math.ceil(m / 4);
    this.rowsPerChunk = rowsPerChunkOf(ctx, store);
    for (let start = 0; start < store.size; start += this.rowsPerChunk) {
      const rows = Math.min(this.rowsPerChunk, store.size - start);
      const packed = new Uint8Array(rows * this.wordsPerRow * 4);
      for (let r = 0; r < rows; r++) packed.set(store.codes.subarray((start + r) * m, (start + r + 1) * m), r * this.wordsPerRow * 4);
      this.chunks.push(ctx.resources.upload(packed));
    }
    this.codebooks = ctx.resources.upload(store.pq.codebooks);
  }
}

function rowsPerChunkOf(ctx: GpuContext, store: PqStore): number {
  return Math.max(1, Math.floor(ctx.limits.maxStorageBufferBindingSize / (Math.ceil(store.pq.m / 4) * 4)));
}

export function pqData(ctx: GpuContext, store: PqStore): GpuPqData {
  return cachedUpload(ctx, store, rowsPerChunkOf(ctx, store), () => new GpuPqData(ctx, store));
}

/** Builds the lookup tables of `count` queries into a new storage buffer (pq_lut.wgsl). */
export async function buildLuts(ctx: GpuContext, data: GpuPqData, queries: Dataset, start: number, count: number, encoder: GPUCommandEncoder): Promise<{ luts: GPUBuffer; release: () => void }> {
  const { device, resources } = ctx;
  const { m, dim, dsub } = data.store.pq;
  const block = new Float32Array(count * dim);
  for (let s = 0; s < count; s++) block.set(queries.get(start + s) as Float32Array, s * dim);
  const qBuf = resources.storage(block.byteLength);
  device.queue.writeBuffer(qBuf, 0, block);
  const luts = resources.storage(count * m * PQ_KSUB * 4);
  const total = count * m * PQ_KSUB;
  const g = grid(Math.ceil(total / 64));
  const params = resources.params([total, m, dsub, data.store.metric === 'l2' ? 0 : 1, dim, g.x, 0, 0]);
  encodeDispatch(device, encoder, await resources.pipeline('pq_lut'), [data.codebooks, qBuf, luts, params], g);
  return {
    luts,
    release: () => {
      resources.release(qBuf);
      resources.release(params);
    },
  };
}

/** The WebGPU BatchEvaluator for PQ stores: tables per batch, ADC per round. */
export class GpuPqEvaluator implements BatchEvaluator {
  readonly backend = 'gpu';
  private luts: GPUBuffer | null = null;
  private readonly data: GpuPqData;
  constructor(private readonly ctx: GpuContext, store: PqStore) {
    this.data = pqData(ctx, store);
  }

  async setQueries(queries: Dataset, start: number, count: number): Promise<void> {
    await guarded(this.ctx, async () => {
      this.dispose();
      const encoder = this.ctx.device.createCommandEncoder();
      const built = await buildLuts(this.ctx, this.data, queries, start, count, encoder);
      this.ctx.device.queue.submit([encoder.finish()]);
      this.luts = built.luts;
      await this.ctx.device.queue.onSubmittedWorkDone();
      built.release();
    });
  }

  distances(slots: Uint32Array, ids: Uint32Array, count: number, out: Float32Array): Promise<void> {
    const { ctx, data } = this;
    return guarded(ctx, async () => {
      const { device, resources } = ctx;
      const { pairs, order, starts } = partitionPairs(slots, ids, count, data.rowsPerChunk, data.chunks.length);
      const pairBuf = resources.storage(pairs.byteLength);
      device.queue.writeBuffer(pairBuf, 0, pairs);
      const outBuf = resources.storage(count * 4);
      const readBuf = resources.readback(count * 4);
      const pipeline = await resources.pipeline('pq_adc_pairs');
      const encoder = device.createCommandEncoder();
      const params: GPUBuffer[] = [];
      for (let c = 0; c < data.chunks.length; c++) {
        const n = starts[c + 1]! - starts[c]!;
        if (n === 0) continue;
        const g = grid(Math.ceil(n / 64));
        const p = resources.params([n, data.store.pq.m, data.wordsPerRow, g.x, starts[c]!, 0, 0, 0]);
        params.push(p);
        encodeDispatch(device, encoder, pipeline, [data.chunks[c]!, this.luts!, pairBuf, outBuf, p], g);
      }
      encoder.copyBufferToBuffer(outBuf, 0, readBuf, 0, count * 4);
      device.queue.submit([encoder.finish()]);
      const result = new Float32Array(await resources.read(readBuf, count * 4), 0, count);
      if (order === null) out.set(result);
      else for (let j = 0; j < count; j++) out[order[j]!] = result[j]!;
      resources.release(pairBuf);
      resources.release(outBuf);
      for (const p of params) resources.release(p);
    });
  }

  dispose(): void {
    if (this.luts) this.ctx.resources.release(this.luts);
    this.luts = null;
  }
}

import type { GpuContext } from '../../gpu/device.js';
import { fenced, type PairKernel } from '../../gpu/dispatch.js';
import { PairKernelEvaluator } from '../../gpu/pair-evaluator.js';
import type { Dataset } from '../../types.js';
import { cachedUpload } from '../gpu-cache.js';
import { FACTORS, type RabitqEncoding } from './encoding.js';
import type { RabitqStore } from './store.js';

/** Factors the GPU reads per item: add, rescale, sx (normO and ob only bound estimates, on the CPU). */
const GPU_FACTORS = 3;
/** Floats before a query slot's planes: step, low, middle * sum, constant. */
const QUERY_CONSTANTS = 4;

/** u32 words per plane of one vector: the rotated dimension / 32. */
export function planeWords(encoding: RabitqEncoding): number {
  return encoding.paddedDim / 32;
}

/** u32 words of one item on the GPU: its code as the CPU keeps it, then add, rescale and sx. */
export function gpuRowWords(encoding: RabitqEncoding): number {
  return encoding.rowBytes / 4 + GPU_FACTORS;
}

/** u32 words of one query slot on the GPU: its constants, then its planes as the CPU prepares them. */
export function gpuQueryWords(encoding: RabitqEncoding): number {
  return QUERY_CONSTANTS + encoding.queryBytes / 4;
}

/**
 * A RaBitQ store uploaded once per device for both GPU paths (rabitq_pairs.wgsl,
 * resident_rabitq.wgsl): each item's code bytes unchanged, followed by the three factors the
 * estimate reads, so one distance reads one contiguous row; rows are split into chunks that
 * each fit one binding.
 */
export class GpuRabitqData {
  /** u32 words per row (gpuRowWords). */
  readonly rowWords: number;
  /** Rows per chunk: as many as one binding holds. */
  readonly rowsPerChunk: number;
  /** The row chunks, one storage buffer each. */
  readonly chunks: GPUBuffer[] = [];

  constructor(
    readonly ctx: GpuContext,
    readonly store: RabitqStore,
  ) {
    const { rowBytes } = store.encoding;
    this.rowWords = gpuRowWords(store.encoding);
    this.rowsPerChunk = rowsPerChunkOf(ctx, store);
    const codeWords = rowBytes / 4;
    const factors = store.factors;
    for (let start = 0; start < store.size; start += this.rowsPerChunk) {
      const rows = Math.min(this.rowsPerChunk, store.size - start);
      // A copy, never a view: the codes may live in a (shared) WebAssembly memory.
      const codes = store.codes;
      const block = new Uint32Array(rows * this.rowWords);
      const bytes = new Uint8Array(block.buffer);
      const floats = new Float32Array(block.buffer);
      for (let r = 0; r < rows; r++) {
        const id = start + r;
        const at = r * this.rowWords;
        bytes.set(codes.subarray(id * rowBytes, (id + 1) * rowBytes), at * 4);
        floats.set(factors.subarray(id * FACTORS, id * FACTORS + GPU_FACTORS), at + codeWords);
      }
      this.chunks.push(ctx.resources.upload(block, `rabitq rows ${start}+`));
    }
  }
}

function rowsPerChunkOf(ctx: GpuContext, store: RabitqStore): number {
  return Math.max(1, Math.floor(ctx.limits.maxStorageBufferBindingSize / (gpuRowWords(store.encoding) * 4)));
}

/** The store's rows on `ctx`'s device, uploaded on first use (again only if the binding limit changed). */
export function rabitqData(ctx: GpuContext, store: RabitqStore): GpuRabitqData {
  return cachedUpload(ctx, store, rowsPerChunkOf(ctx, store), () => new GpuRabitqData(ctx, store));
}

/**
 * Queries [start, start + count) prepared as the CPU prepares them (RabitqEncoding.prepareQuery),
 * one slot each: step, low, middle * sum and the constant as f32, then the query's planes
 * (QUERY_BITS = 4 of them per chunk, which the kernels unroll).
 */
export function queryRecords(encoding: RabitqEncoding, queries: Dataset, start: number, count: number): Uint32Array {
  const stride = gpuQueryWords(encoding);
  const words = new Uint32Array(count * stride);
  const floats = new Float32Array(words.buffer);
  for (let s = 0; s < count; s++) {
    const at = s * stride;
    const p = encoding.prepareQuery(queries.get(start + s) as Float32Array, words.subarray(at + QUERY_CONSTANTS, at + stride));
    floats[at] = p.step;
    floats[at + 1] = p.low;
    floats[at + 2] = encoding.middle * p.sum;
    floats[at + 3] = p.constant;
  }
  return words;
}

/** The same query slots in a new storage buffer. */
export function uploadQueryRecords(ctx: GpuContext, encoding: RabitqEncoding, queries: Dataset, start: number, count: number): GPUBuffer {
  const words = queryRecords(encoding, queries, start, count);
  const buffer = ctx.resources.storage(words.byteLength, 'rabitq query slots');
  ctx.resources.write(buffer, words);
  return buffer;
}

/**
 * The WebGPU BatchEvaluator for RaBitQ stores (rabitq_pairs.wgsl): the hybrid path's
 * estimates, on the rows the resident kernel reads too. Queries are rotated and quantized on
 * the CPU, as for the CPU's own search, and go up as their planes and constants.
 */
export class GpuRabitqEvaluator extends PairKernelEvaluator {
  private queries: GPUBuffer | null = null;
  private readonly data: GpuRabitqData;

  constructor(ctx: GpuContext, store: RabitqStore) {
    super(ctx);
    this.data = rabitqData(ctx, store);
  }

  /** Prepares queries[start .. start+count) and uploads them into the query slots 0..count-1. */
  async setQueries(queries: Dataset, start: number, count: number): Promise<void> {
    const { ctx } = this;
    const { encoding } = this.data.store;
    await fenced(ctx, () => {
      this.dispose();
      this.queries = uploadQueryRecords(ctx, encoding, queries, start, count);
    });
  }

  /** rabitq_pairs.wgsl over this store's rows and the bound query slots. */
  protected get kernel(): PairKernel {
    const { data } = this;
    const { encoding } = data.store;
    return {
      store: data,
      shader: 'rabitq_pairs',
      threadsPerPair: 1,
      bind: (chunk, pairs, out, params) => [chunk, this.queries!, pairs, out, params],
      paramsOf: (n, groupsX, base) => ({
        count: n,
        groupsX,
        base,
        positions: planeWords(encoding),
        bits: encoding.bits,
        rowWords: data.rowWords,
        queryWords: gpuQueryWords(encoding),
        metric: encoding.metric === 'l2' ? 0 : 1,
      }),
    };
  }

  /** Frees the GPU buffers this evaluator created. */
  dispose(): void {
    if (this.queries) this.ctx.resources.release(this.queries);
    this.queries = null;
  }
}

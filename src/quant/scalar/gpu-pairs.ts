import type { GpuContext } from '../../gpu/device.js';
import type { PairKernel } from '../../gpu/dispatch.js';
import { QueryRowsEvaluator } from '../../gpu/pair-evaluator.js';
import { cachedUpload } from '../gpu-cache.js';
import type { ScalarStore } from './store.js';

/**
 * An f16 or SQ8 store uploaded once for the resident kernel: the code rows as the CPU keeps
 * them (padded to 16 components, so a row is whole u32 words and whole vec4s), split into
 * chunks that each fit one binding; SQ8 adds its per-component minimums and steps
 * (scale * 255, since the shader's unpack4x8unorm yields code / 255).
 */
export class GpuScalarData {
  readonly wordsPerRow: number;
  readonly rowsPerChunk: number;
  readonly chunks: GPUBuffer[] = [];
  readonly mins: GPUBuffer | null = null;
  readonly steps: GPUBuffer | null = null;

  constructor(
    readonly ctx: GpuContext,
    readonly store: ScalarStore,
  ) {
    const { rowBytes, paddedDim, mins, scales } = store.codec;
    this.wordsPerRow = rowBytes / 4;
    this.rowsPerChunk = rowsPerChunkOf(ctx, store);
    const codes = store.codes;
    for (let start = 0; start < store.size; start += this.rowsPerChunk) {
      const rows = Math.min(this.rowsPerChunk, store.size - start);
      // A copy: the codes may live in a (shared) WebAssembly memory.
      this.chunks.push(
        ctx.resources.upload(codes.slice(start * rowBytes, (start + rows) * rowBytes), `${store.codec.encoding} rows ${start}+`),
      );
    }
    if (mins && scales) {
      const m = new Float32Array(paddedDim);
      const s = new Float32Array(paddedDim);
      m.set(mins);
      for (let d = 0; d < scales.length; d++) s[d] = scales[d]! * 255;
      this.mins = ctx.resources.upload(m, 'sq8 mins');
      this.steps = ctx.resources.upload(s, 'sq8 steps');
    }
  }
}

function rowsPerChunkOf(ctx: GpuContext, store: ScalarStore): number {
  return Math.max(1, Math.floor(ctx.limits.maxStorageBufferBindingSize / store.codec.rowBytes));
}

export function scalarData(ctx: GpuContext, store: ScalarStore): GpuScalarData {
  return cachedUpload(ctx, store, rowsPerChunkOf(ctx, store), () => new GpuScalarData(ctx, store));
}

/**
 * The WebGPU BatchEvaluator for f16 and SQ8 stores (row_pairs.wgsl over scalar_pairs.wgsl): the hybrid path's
 * distances, on the codes the resident kernel reads too. Queries go up as f32, padded like
 * the rows.
 */
export class GpuScalarEvaluator extends QueryRowsEvaluator {
  /** Bound in place of the SQ8 ranges for f16 (never read). */
  private placeholder: GPUBuffer | null = null;
  private readonly data: GpuScalarData;

  constructor(ctx: GpuContext, store: ScalarStore) {
    super(ctx);
    this.data = scalarData(ctx, store);
  }

  protected get queryStride(): number {
    return this.data.store.codec.paddedDim;
  }

  protected get kernel(): PairKernel {
    const { data } = this;
    const { store } = data;
    const ranges = data.mins && data.steps ? [data.mins, data.steps] : [this.placeholderBuffer(), this.placeholderBuffer()];
    return {
      store: data,
      shader: 'scalar_pairs',
      main: 'row_pairs',
      threadsPerPair: 64,
      bind: (chunk, pairs, out, params) => [chunk, this.queries!, pairs, out, params, ...ranges],
      paramsOf: (n, groupsX, base) => ({
        count: n,
        vecs: store.codec.paddedDim / 4,
        metric: store.metric === 'l2' ? 0 : 1,
        groupsX,
        base,
        encoding: store.codec.encoding === 'sq8' ? 1 : 0,
      }),
    };
  }

  private placeholderBuffer(): GPUBuffer {
    return (this.placeholder ??= this.ctx.resources.storage(16, 'f16 placeholder for the sq8 ranges'));
  }

  /** Frees the GPU buffers this evaluator created. */
  override dispose(): void {
    super.dispose();
    if (this.placeholder) this.ctx.resources.release(this.placeholder);
    this.placeholder = null;
  }
}

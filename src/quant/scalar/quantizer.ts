import { DenseDataset } from '../../data/dense.js';
import { fail } from '../../errors.js';
import type { Metric } from '../../types.js';
import { SCALAR_ENCODINGS, ScalarCodec, type ScalarEncoding } from './scalar-encoding.js';
import { ScalarStore } from './store.js';

/** Options of a ScalarQuantizer. */
export interface ScalarQuantizerOptions {
  /** Use the WebAssembly SIMD kernels where available (default true); false: plain JS kernels. */
  simd?: boolean;
}

/**
 * Scalar quantization of dense vectors: 'f16' (IEEE half, 2 bytes per component; recall as
 * f32 on typical embeddings) or 'sq8' (one byte per component over its [min, max] in the
 * training data; pair it with re-ranking). Searching the codes is asymmetric: the query
 * stays f32, items are decoded inside the SIMD kernels.
 */
export class ScalarQuantizer {
  private mins: Float32Array | null = null;
  private scales: Float32Array | null = null;
  private dimValue = 0;

  constructor(
    /** 'f16' or 'sq8'. */
    readonly name: ScalarEncoding,
    private readonly options: ScalarQuantizerOptions = {},
  ) {
    if (!SCALAR_ENCODINGS.includes(name)) fail('INVALID_ARGUMENT', `scalar quantizer must be 'f16' or 'sq8', got ${String(name)}`);
  }

  /** f16 needs no training; SQ8 is trained when it has its ranges. */
  get trained(): boolean {
    return this.name === 'f16' || this.mins !== null;
  }

  /** SQ8: learns each component's [min, max] over `data` (f16: nothing to learn). */
  train(data: DenseDataset): void {
    if (this.name === 'f16') return;
    const { dim, size } = data;
    const lo = new Float32Array(dim).fill(Infinity);
    const hi = new Float32Array(dim).fill(-Infinity);
    const x = data.data;
    for (let i = 0; i < size; i++) {
      for (let d = 0; d < dim; d++) {
        const v = x[i * dim + d]!;
        if (v < lo[d]!) lo[d] = v;
        if (v > hi[d]!) hi[d] = v;
      }
    }
    const scales = new Float32Array(dim);
    for (let d = 0; d < dim; d++) scales[d] = (hi[d]! - lo[d]!) / 255;
    this.mins = lo;
    this.scales = scales;
    this.dimValue = dim;
  }

  /** Trains if needed, then encodes: the store of `data` in this encoding. */
  encode(data: DenseDataset, metric: Metric): ScalarStore {
    if (!(data instanceof DenseDataset)) fail('INVALID_ARGUMENT', 'scalar quantization needs dense vectors');
    if (!this.trained) this.train(data);
    if (this.name === 'sq8' && this.dimValue !== data.dim)
      fail('DIMENSION_MISMATCH', `the quantizer was trained on dimension ${this.dimValue}, the data has ${data.dim}`);
    const codec = new ScalarCodec(this.name, data.dim, metric, this.mins, this.scales);
    return ScalarStore.fromData(codec, data, this.options);
  }
}

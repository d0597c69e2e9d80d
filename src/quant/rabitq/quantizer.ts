import { DenseDataset } from '../../data/dense.js';
import { checkInteger, fail } from '../../errors.js';
import type { Metric } from '../../types.js';
import { RabitqEncoding } from './encoding.js';
import { HadamardRotation } from './rotation.js';
import { RabitqStore } from './store.js';
import { RABITQ_MAX_BITS } from './wasm-kernels.js';

/** The smallest dimension RaBitQ encodes: its estimate's error shrinks as 1/sqrt(dim), and below this it is no use. */
export const RABITQ_MIN_DIM = 8;
/** Default confidence half-width in standard deviations (RaBitQ's epsilon_0; about 94 % two-sided). */
export const DEFAULT_EPSILON0 = 1.9;

/** Options of a RabitqQuantizer. */
export interface RabitqOptions {
  /** Bits per rotated component, 1 (RaBitQ) to 8 (extended RaBitQ). Default 1. */
  bits?: number;
  /** Seed of the random rotation. Default 1. */
  seed?: number;
  /** Half-width of the distance bound in standard deviations (RaBitQ's epsilon_0). Default 1.9. */
  epsilon0?: number;
  /** Use the WebAssembly SIMD kernels where available (default true); false: JS kernels. */
  simd?: boolean;
}

/**
 * RaBitQ (Gao & Long, SIGMOD 2024; multi-bit codes of the extended RaBitQ, SIGMOD 2025): each
 * vector, centred on the data's mean and randomly rotated, keeps `bits` bits per component
 * plus five floats. Distances are unbiased estimates with a confidence bound; keep the plain
 * vectors (HnswIndex.quantize(q, { keepPlain: true })) and search with `rerank`, and only the
 * candidates whose lower bound can still enter the top k get an exact distance.
 */
export class RabitqQuantizer {
  /** 'rabitq'. */
  readonly name = 'rabitq';
  /** Bits per rotated component (1 to 8). */
  readonly bits: number;
  /** Half-width of the distance bound in standard deviations. */
  readonly epsilon0: number;
  private centroid: Float32Array | null = null;
  private rotation: HadamardRotation | null = null;

  constructor(private readonly options: RabitqOptions = {}) {
    this.bits = checkInteger('rabitq bits', options.bits ?? 1, 1, RABITQ_MAX_BITS);
    this.epsilon0 = options.epsilon0 ?? DEFAULT_EPSILON0;
    if (!Number.isFinite(this.epsilon0) || this.epsilon0 <= 0)
      fail('INVALID_ARGUMENT', `rabitq epsilon0 must be a positive number, got ${String(options.epsilon0)}`);
    checkInteger('rabitq seed', options.seed ?? 1, 0, 2 ** 32 - 1);
  }

  /** True once the data's mean (the centre codes are taken around) is learned. */
  get trained(): boolean {
    return this.centroid !== null;
  }

  /** Learns the centroid (the mean vector) and draws the rotation for the data's dimension. */
  train(data: DenseDataset): void {
    if (!(data instanceof DenseDataset)) fail('INVALID_ARGUMENT', 'RaBitQ needs dense vectors');
    const { dim, size } = data;
    if (dim < RABITQ_MIN_DIM) fail('INVALID_ARGUMENT', `RaBitQ needs dimension >= ${RABITQ_MIN_DIM}, the data has ${dim}`);
    if (size < 1) fail('INVALID_ARGUMENT', 'RaBitQ training needs at least one vector');
    const sum = new Float64Array(dim);
    const x = data.data;
    for (let i = 0; i < size; i++) for (let d = 0; d < dim; d++) sum[d] = sum[d]! + x[i * dim + d]!;
    this.centroid = Float32Array.from(sum, (s) => s / size);
    this.rotation = HadamardRotation.seeded(dim, this.options.seed ?? 1);
  }

  /** Trains if needed, then encodes: the store of `data`. */
  encode(data: DenseDataset, metric: Metric): RabitqStore {
    if (!(data instanceof DenseDataset)) fail('INVALID_ARGUMENT', 'RaBitQ needs dense vectors');
    if (!this.trained) this.train(data);
    if (this.rotation!.dim !== data.dim)
      fail('DIMENSION_MISMATCH', `the quantizer was trained on dimension ${this.rotation!.dim}, the data has ${data.dim}`);
    const encoding = new RabitqEncoding(data.dim, metric, this.bits, this.centroid!, this.rotation!, this.epsilon0);
    return RabitqStore.fromData(encoding, data, this.options);
  }
}

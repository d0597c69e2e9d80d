import { DenseDataset } from '../../data/dense.js';
import { checkInteger, fail } from '../../errors.js';
import type { Metric } from '../../types.js';
import { Rng } from '../../util/rng.js';
import { PQ_KSUB, type PqCodebook } from './codebook.js';
import { type KMeansOptions, kmeans, kmeansWith, nearestCentroid } from './kmeans.js';
import { PqStore } from './store.js';

/** Options of a ProductQuantizer. */
export interface PqOptions {
  /** Subspaces (bytes per encoded vector); must divide the dimension. */
  m: number;
  /** Vectors drawn (seeded, without replacement) to train on. Default min(n, 20,000). */
  trainSample?: number;
  /** Lloyd iterations per subspace at most. Default 15. */
  maxIterations?: number;
  /** Seed of the training sample and the k-means starts. Default 1. */
  seed?: number;
}

/**
 * Product quantization: the dimension is cut into m subspaces, each quantized to one of 256
 * centroids learned by k-means, so a vector becomes m bytes. A query scores a code with m
 * table look-ups (asymmetric distance computation: the query itself stays exact).
 */
export class ProductQuantizer implements PqCodebook {
  /** 'pq'. */
  readonly name = 'pq';
  readonly m: number;
  private codebooksData: Float32Array | null = null;
  private dimValue = 0;

  constructor(private readonly options: PqOptions) {
    this.m = checkInteger('pq m', options.m, 1, 65535);
  }

  /** A trained quantizer from saved codebooks (m x 256 x dim/m floats). */
  static fromCodebooks(dim: number, m: number, codebooks: Float32Array): ProductQuantizer {
    const pq = new ProductQuantizer({ m });
    pq.checkDim(dim);
    if (codebooks.length !== dim * PQ_KSUB) fail('CORRUPT_FILE', `PQ codebooks hold ${codebooks.length} floats, expected ${dim * PQ_KSUB}`);
    pq.codebooksData = codebooks;
    pq.dimValue = dim;
    return pq;
  }

  /** True once the codebooks are learned (train, or fromCodebooks). */
  get trained(): boolean {
    return this.codebooksData !== null;
  }
  /** Dimension of the vectors it encodes (known once trained). */
  get dim(): number {
    return this.dimValue;
  }
  get dsub(): number {
    return this.dimValue / this.m;
  }
  /** The codebooks: m x 256 centroids of dim / m floats, subspace by subspace. */
  get codebooks(): Float32Array {
    if (this.codebooksData === null) fail('INVALID_ARGUMENT', 'the product quantizer is not trained: call train(data) first');
    return this.codebooksData;
  }

  /** Learns the codebooks; `onProgress(done, m)` after each subspace. */
  train(data: DenseDataset, options: { onProgress?: (done: number, total: number) => void } = {}): void {
    const { rows, dsub, sub } = this.prepareTraining(data);
    const codebooks = new Float32Array(data.dim * PQ_KSUB);
    for (let j = 0; j < this.m; j++) {
      this.fillSubspace(data, rows, j, dsub, sub);
      codebooks.set(kmeans(sub, dsub, PQ_KSUB, this.kmeansOptions(j)), j * PQ_KSUB * dsub);
      options.onProgress?.(j + 1, this.m);
    }
    this.codebooksData = codebooks;
    this.dimValue = data.dim;
  }

  /**
   * train() with the k-means assignment step supplied by the caller (the GPU's, from
   * src/quant/pq/gpu-kmeans.ts: nearest centroid and its distance for every point); the centroid
   * update stays on the CPU.
   */
  async trainWith(
    data: DenseDataset,
    assign: (points: Float32Array, dim: number, centroids: Float32Array, outAssign: Int32Array, outDist: Float64Array) => Promise<number>,
    options: { onProgress?: (done: number, total: number) => void } = {},
  ): Promise<void> {
    const { rows, dsub, sub } = this.prepareTraining(data);
    const codebooks = new Float32Array(data.dim * PQ_KSUB);
    for (let j = 0; j < this.m; j++) {
      this.fillSubspace(data, rows, j, dsub, sub);
      const centroids = await kmeansWith(sub, dsub, PQ_KSUB, this.kmeansOptions(j), (c, a, d) => assign(sub, dsub, c, a, d));
      codebooks.set(centroids, j * PQ_KSUB * dsub);
      options.onProgress?.(j + 1, this.m);
    }
    this.codebooksData = codebooks;
    this.dimValue = data.dim;
  }

  private prepareTraining(data: DenseDataset): { rows: Uint32Array; dsub: number; sub: Float32Array } {
    if (!(data instanceof DenseDataset)) fail('INVALID_ARGUMENT', 'product quantization needs dense vectors');
    this.checkDim(data.dim);
    const sampleSize = Math.min(data.size, checkInteger('trainSample', this.options.trainSample ?? 20_000, 1));
    if (sampleSize < PQ_KSUB) fail('INVALID_ARGUMENT', `PQ training needs at least ${PQ_KSUB} vectors, got ${sampleSize}`);
    const rows = sampleRows(data.size, sampleSize, new Rng(this.options.seed ?? 1));
    const dsub = data.dim / this.m;
    return { rows, dsub, sub: new Float32Array(sampleSize * dsub) };
  }

  private fillSubspace(data: DenseDataset, rows: Uint32Array, j: number, dsub: number, sub: Float32Array): void {
    for (let s = 0; s < rows.length; s++) {
      const at = rows[s]! * data.dim + j * dsub;
      sub.set(data.data.subarray(at, at + dsub), s * dsub);
    }
  }

  private kmeansOptions(j: number): KMeansOptions {
    return { maxIterations: this.options.maxIterations ?? 15, seed: (this.options.seed ?? 1) + j };
  }

  /** m-byte codes of every vector (nearest centroid per subspace). */
  encodeCodes(data: DenseDataset): Uint8Array {
    const cb = this.codebooks;
    if (data.dim !== this.dim) fail('DIMENSION_MISMATCH', `data has dimension ${data.dim}, the quantizer ${this.dim}`);
    const { m, dsub } = this;
    const codes = new Uint8Array(data.size * m);
    const x = data.data;
    for (let i = 0; i < data.size; i++) {
      for (let j = 0; j < m; j++) {
        codes[i * m + j] = nearestCentroid(x, i * data.dim + j * dsub, cb, j * PQ_KSUB * dsub, PQ_KSUB, dsub);
      }
    }
    return codes;
  }

  /** Trains if needed, then encodes: the one-call conversion of a dataset into a PQ store. */
  encode(data: DenseDataset, metric: Metric): PqStore {
    if (!this.trained) this.train(data);
    return new PqStore(this, this.encodeCodes(data), metric);
  }

  /** The vector a code stands for. */
  decode(codes: Uint8Array, offset = 0, out = new Float32Array(this.dim)): Float32Array {
    const cb = this.codebooks;
    const { m, dsub } = this;
    for (let j = 0; j < m; j++)
      out.set(cb.subarray((j * PQ_KSUB + codes[offset + j]!) * dsub, (j * PQ_KSUB + codes[offset + j]! + 1) * dsub), j * dsub);
    return out;
  }

  private checkDim(dim: number): void {
    if (dim % this.m !== 0) {
      fail(
        'INVALID_ARGUMENT',
        `PQ m = ${this.m} does not divide the dimension ${dim}: choose m among the divisors of ${dim} (e.g. ${divisorsNear(dim, this.m).join(', ')})`,
      );
    }
  }
}

function divisorsNear(dim: number, m: number): number[] {
  const ds: number[] = [];
  for (let d = 1; d <= dim; d++) if (dim % d === 0) ds.push(d);
  return ds
    .sort((a, b) => Math.abs(a - m) - Math.abs(b - m))
    .slice(0, 3)
    .sort((a, b) => a - b);
}

/** `count` distinct row ids out of n (partial Fisher-Yates), in increasing order. */
function sampleRows(n: number, count: number, rng: Rng): Uint32Array {
  const ids = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + rng.nextInt(n - i);
    const t = ids[i]!;
    ids[i] = ids[j]!;
    ids[j] = t;
  }
  return ids.slice(0, count).sort();
}

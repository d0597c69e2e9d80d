import { DenseDataset } from '../../data/dense.js';
import { checkInteger, fail } from '../../errors.js';
import type { BatchEvaluator, Dataset, Metric, QueryEvaluator, Vector, VectorStore } from '../../types.js';
import { Rng } from '../../util/rng.js';
import { toShared } from '../../util/shared-memory.js';
import { CpuBatchEvaluator } from '../cpu-batch.js';
import { checkDenseQuery } from '../dense/store.js';
import type { SharedArena } from '../wasm/arena.js';
import { type KMeansOptions, kmeans, kmeansWith, nearestCentroid } from './kmeans.js';
import { PqArena, PqWasmBatchEvaluator, PqWasmEvaluator } from './wasm-evaluators.js';

export const PQ_KSUB = 256;

export interface PqOptions {
  /** Subspaces (bytes per encoded vector); must divide the dimension. */
  m: number;
  /** Vectors drawn (seeded, without replacement) to train on. Default min(n, 20,000). */
  trainSample?: number;
  /** Lloyd iterations per subspace at most. Default 15. */
  maxIterations?: number;
  seed?: number;
}

/**
 * Product quantization: the dimension is cut into m subspaces, each quantized to one of 256
 * centroids learned by k-means, so a vector becomes m bytes. A query scores a code with m
 * table look-ups (asymmetric distance computation: the query itself stays exact).
 */
export class ProductQuantizer {
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

  get trained(): boolean {
    return this.codebooksData !== null;
  }
  get dim(): number {
    return this.dimValue;
  }
  get dsub(): number {
    return this.dimValue / this.m;
  }
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

/**
 * PQ codes of n items, searchable with lookup tables: in WebAssembly (SIMD table builds, wasm
 * ADC) where available, else in JS.
 */
/** A PqStore as worker threads receive it. */
export interface SharedPqStore {
  readonly kind: 'pq';
  readonly metric: Metric;
  readonly dim: number;
  readonly m: number;
  readonly codebooks: Float32Array;
  readonly codes: Uint8Array;
  readonly arena: { shared: SharedArena; codesPtr: number; cbPtr: number } | null;
}

export class PqStore implements VectorStore {
  readonly kind = 'pq';
  readonly size: number;
  codes: Uint8Array;
  private readonly arena: PqArena | null;

  /** The store for worker threads: codes on a SharedArrayBuffer, the wasm memory shared. */
  share(): SharedPqStore {
    this.codes = toShared(this.codes);
    const a = this.arena;
    return {
      kind: 'pq',
      metric: this.metric,
      dim: this.pq.dim,
      m: this.pq.m,
      codebooks: this.pq.codebooks,
      codes: this.codes,
      arena: a === null ? null : { shared: a.arena.share(), codesPtr: a.codesPtr, cbPtr: a.cbPtr },
    };
  }

  /** A store over codes another thread shared. */
  static attach(s: SharedPqStore): PqStore {
    const store = Object.create(PqStore.prototype) as PqStore;
    const pq = ProductQuantizer.fromCodebooks(s.dim, s.m, s.codebooks);
    const arena = s.arena === null ? null : PqArena.attach(s.arena.shared, pq, s.arena.codesPtr, s.arena.cbPtr);
    Object.assign(store, { kind: 'pq', pq, codes: s.codes, metric: s.metric, size: s.codes.length / s.m, arena });
    return store;
  }

  constructor(
    readonly pq: ProductQuantizer,
    codes: Uint8Array,
    readonly metric: Metric,
    options: { simd?: boolean } = {},
  ) {
    this.codes = codes;
    if (codes.length % pq.m !== 0) fail('CORRUPT_FILE', 'PQ codes length is not a multiple of m');
    this.size = codes.length / pq.m;
    this.arena = options.simd === false ? null : PqArena.create(pq, codes);
  }
  /** 'wasm-simd' or 'js': which kernels score this store. */
  get kernels(): 'wasm-simd' | 'js' {
    return this.arena === null ? 'js' : 'wasm-simd';
  }
  get dim(): number {
    return this.pq.dim;
  }
  get byteLength(): number {
    return this.codes.byteLength + this.pq.codebooks.byteLength;
  }
  checkQuery(query: Vector): void {
    checkDenseQuery(query, this.dim);
  }
  queryEvaluator(query: Vector): QueryEvaluator & { readonly lut: Float32Array } {
    if (this.arena !== null) return new PqWasmEvaluator(this.arena, query as Float32Array, this.metric);
    return new PqEvaluator(this, buildLookupTable(this.pq, query as Float32Array, this.metric));
  }
  itemEvaluator(id: number): QueryEvaluator {
    return this.queryEvaluator(this.pq.decode(this.codes, id * this.pq.m));
  }
  itemDistance(a: number, b: number): number {
    const ev = this.itemEvaluator(a);
    const d = ev.distance(b);
    ev.release?.();
    return d;
  }
  batchEvaluator(): BatchEvaluator {
    return this.arena === null ? new CpuBatchEvaluator(this) : new PqWasmBatchEvaluator(this.arena, this.metric);
  }

  /** New rows are encoded with this store's trained codebooks. */
  withRows(rows: Dataset, slots: Uint32Array, size: number): PqStore {
    if (!(rows instanceof DenseDataset) || rows.dim !== this.dim)
      fail('DIMENSION_MISMATCH', `new vectors must be dense of dimension ${this.dim}`);
    const m = this.pq.m;
    const codes = new Uint8Array(size * m);
    codes.set(this.codes.subarray(0, Math.min(size, this.size) * m));
    const fresh = this.pq.encodeCodes(rows);
    for (let i = 0; i < slots.length; i++) codes.set(fresh.subarray(i * m, (i + 1) * m), slots[i]! * m);
    return new PqStore(this.pq, codes, this.metric, { simd: this.arena !== null });
  }

  subset(ids: Uint32Array): PqStore {
    const m = this.pq.m;
    const codes = new Uint8Array(ids.length * m);
    for (let i = 0; i < ids.length; i++) codes.set(this.codes.subarray(ids[i]! * m, (ids[i]! + 1) * m), i * m);
    return new PqStore(this.pq, codes, this.metric, { simd: this.arena !== null });
  }
}

/**
 * The m x 256 table of internal distances from each query sub-vector to each centroid:
 * squared L2 for 'l2', the negated partial inner product for 'ip'. Sums of m entries give
 * the distance to any code.
 */
export function buildLookupTable(pq: ProductQuantizer, query: Float32Array, metric: Metric): Float32Array {
  const { m, dsub } = pq;
  const cb = pq.codebooks;
  const lut = new Float32Array(m * PQ_KSUB);
  for (let j = 0; j < m; j++) {
    const qo = j * dsub;
    for (let c = 0; c < PQ_KSUB; c++) {
      const co = (j * PQ_KSUB + c) * dsub;
      let s = 0;
      if (metric === 'l2') {
        for (let t = 0; t < dsub; t++) {
          const e = query[qo + t]! - cb[co + t]!;
          s += e * e;
        }
      } else {
        for (let t = 0; t < dsub; t++) s -= query[qo + t]! * cb[co + t]!;
      }
      lut[j * PQ_KSUB + c] = s;
    }
  }
  return lut;
}

export class PqEvaluator implements QueryEvaluator {
  private readonly codes: Uint8Array;
  private readonly m: number;
  constructor(
    store: PqStore,
    readonly lut: Float32Array,
  ) {
    this.codes = store.codes;
    this.m = store.pq.m;
  }
  distance(id: number): number {
    const { codes, lut, m } = this;
    const base = id * m;
    let s0 = 0;
    let s1 = 0;
    let j = 0;
    for (; j + 1 < m; j += 2) {
      s0 += lut[(j << 8) + codes[base + j]!]!;
      s1 += lut[((j + 1) << 8) + codes[base + j + 1]!]!;
    }
    if (j < m) s0 += lut[(j << 8) + codes[base + j]!]!;
    return s0 + s1;
  }
  distances(ids: Uint32Array, count: number, out: Float64Array): void {
    for (let i = 0; i < count; i++) out[i] = this.distance(ids[i]!);
  }
}

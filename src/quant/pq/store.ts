import { DenseDataset } from '../../data/dense.js';
import { fail } from '../../errors.js';
import type { BatchEvaluator, Dataset, Metric, QueryEvaluator, Vector, VectorStore } from '../../types.js';
import { toShared } from '../../util/shared-memory.js';
import { CpuBatchEvaluator } from '../cpu-batch.js';
import { checkDenseQuery } from '../dense/store.js';
import { failMemoryLimit, type SharedArena, WasmArena } from '../wasm/arena.js';
import type { PqCodebook } from './codebook.js';
import { buildLookupTable, PqEvaluator } from './evaluators.js';
import { PqArena, PqWasmBatchEvaluator, PqWasmEvaluator } from './wasm-evaluators.js';

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

/** PqStore codes already in place: the array, and the wasm memory holding them (null: JS kernels). */
export interface PlacedPqCodes {
  readonly codes: Uint8Array;
  readonly arena: PqArena | null;
}

/**
 * PQ codes of n items, searchable with lookup tables: in WebAssembly (SIMD table builds, wasm
 * ADC) where available, else in JS.
 */
export class PqStore implements VectorStore {
  readonly kind = 'pq';
  /** The codebooks the codes index. */
  readonly pq: PqCodebook;
  readonly metric: Metric;
  readonly size: number;
  /** m bytes per item: the centroid of each subspace. */
  codes: Uint8Array;
  private readonly arena: PqArena | null;

  /** A store of `codes` (size x m bytes, nearest centroids of `pq`); with SIMD they are copied into wasm memory. */
  constructor(pq: PqCodebook, codes: Uint8Array, metric: Metric, options?: { simd?: boolean });
  /** The store over codes already placed (attach: a worker over shared memory). */
  constructor(pq: PqCodebook, placed: PlacedPqCodes, metric: Metric);
  constructor(pq: PqCodebook, codes: Uint8Array | PlacedPqCodes, metric: Metric, options: { simd?: boolean } = {}) {
    const placed = ArrayBuffer.isView(codes) ? null : codes;
    this.pq = pq;
    this.metric = metric;
    this.codes = placed?.codes ?? (codes as Uint8Array);
    if (this.codes.length % pq.m !== 0) fail('CORRUPT_FILE', 'PQ codes length is not a multiple of m');
    this.size = this.codes.length / pq.m;
    if (placed === null && options.simd !== false) checkPqFits(pq, this.size);
    this.arena = placed !== null ? placed.arena : options.simd === false ? null : PqArena.create(pq, this.codes);
  }

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

  /**
   * A store over codes another thread shared. `pq` holds the shared codebooks
   * (ProductQuantizer.fromCodebooks(s.dim, s.m, s.codebooks), made by the kind's descriptor).
   */
  static attach(s: SharedPqStore, pq: PqCodebook): PqStore {
    const arena = s.arena === null ? null : PqArena.attach(s.arena.shared, pq, s.arena.codesPtr, s.arena.cbPtr);
    return new PqStore(pq, { codes: s.codes, arena }, s.metric);
  }

  /** 'wasm-simd' or 'js': which kernels score this store. */
  get kernels(): 'wasm-simd' | 'js' {
    return this.arena === null ? 'js' : 'wasm-simd';
  }
  /** Dimension of the vectors the codes stand for. */
  get dim(): number {
    return this.pq.dim;
  }
  get byteLength(): number {
    return this.codes.byteLength + this.pq.codebooks.byteLength;
  }
  checkQuery(query: Vector): void {
    checkDenseQuery(query, this.dim);
  }
  /** The evaluator of one query, with its lookup table (`lut`: m x 256 partial distances). */
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
    // Before encoding: an add past the wasm memory fails with this store untouched (it never changes in place).
    if (this.arena !== null) checkPqFits(this.pq, size);
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
 * Fails when `size` codes would not fit the SIMD kernels' one WebAssembly memory: never a
 * silent fall-back to the slower JS kernels (past 4 GiB, or after an add crosses it).
 */
function checkPqFits(pq: PqCodebook, size: number): void {
  const reserve = PqArena.reserveBytes(pq, size * pq.m);
  if (WasmArena.fits(reserve)) return;
  const fit = Math.max(0, Math.floor((WasmArena.capacityBytes - PqArena.reserveBytes(pq, 0)) / pq.m));
  failMemoryLimit(
    `${size} PQ codes of ${pq.m} bytes take ${((size * pq.m) / 2 ** 30).toFixed(2)} GiB; the SIMD kernels' WebAssembly memory holds at most ${fit} of them (${(WasmArena.capacityBytes / 2 ** 30).toFixed(2)} GiB): use fewer subspaces (a smaller m), split the items over several indexes, or { simd: false } for the plain JS kernels`,
  );
}

import { DenseDataset, firstNonFinite } from '../../data/dense.js';
import { fail } from '../../errors.js';
import type { BatchEvaluator, Dataset, Metric, QueryEvaluator, Vector, VectorStore } from '../../types.js';
import { isSparseVector } from '../../types.js';
import { permuteRowsInPlace } from '../../util/permute.js';
import { toShared } from '../../util/shared-memory.js';
import { CpuBatchEvaluator } from '../cpu-batch.js';
import { dot, l2sq } from '../kernels.js';
import type { SharedArena } from '../wasm/arena.js';
import { DenseArena } from './arena.js';

export { denseRowsFit, reserveDenseRows } from './arena.js';

export interface DenseStoreOptions {
  /**
   * Use the WebAssembly SIMD kernels (f32 accumulation, ~10x faster) when the platform has
   * them. false forces the plain JS kernels (f64 accumulation). Default true.
   */
  simd?: boolean;
}

/** A PlainDenseStore as worker threads receive it. */
export interface SharedDenseStore {
  readonly kind: 'dense';
  readonly size: number;
  readonly dim: number;
  readonly metric: Metric;
  /** The wasm memory holding the vectors at byte 0 (SIMD kernels), or null ... */
  readonly arena: SharedArena | null;
  /** ... the vectors on a SharedArrayBuffer (JS kernels). */
  readonly vectors: Float32Array | null;
}

/** A PlainDenseStore's rows already in place (attach, a grown or rearranged arena). */
export interface PlacedDenseRows {
  readonly size: number;
  readonly dim: number;
  /** The SIMD kernels' memory holding the rows at byte 0, or null ... */
  readonly arena: DenseArena | null;
  /** ... the rows for the JS kernels. */
  readonly vectors: Float32Array | null;
  /** Whether the rows are this store's own copy (not the caller's array, nor an arena it adopted): then only the store sees them. */
  readonly ownRows: boolean;
}

/**
 * Plain dense vectors. With WebAssembly SIMD available the store copies the vectors into a
 * wasm memory and scores them there; otherwise it scores the dataset's own array in JS.
 */
export class PlainDenseStore implements VectorStore {
  readonly kind = 'dense';
  readonly size: number;
  readonly dim: number;
  readonly metric: Metric;
  private readonly arena: DenseArena | null;
  private jsVectors: Float32Array | null;
  /** See PlacedDenseRows.ownRows. */
  private readonly ownRows: boolean;

  /** A store of `data`; with SIMD (default) the rows are copied into wasm memory (or adopted, see reserveDenseRows). */
  constructor(data: DenseDataset, metric: Metric, options?: DenseStoreOptions);
  /** The store over rows already placed. */
  constructor(placed: PlacedDenseRows, metric: Metric);
  constructor(source: DenseDataset | PlacedDenseRows, metric: Metric, options: DenseStoreOptions = {}) {
    const rows = 'arena' in source ? source : placeRows(source, options);
    this.size = rows.size;
    this.dim = rows.dim;
    this.metric = metric;
    this.arena = rows.arena;
    this.jsVectors = rows.vectors;
    this.ownRows = rows.ownRows;
  }

  /** The store for worker threads: its wasm memory (shared already) or its vectors, moved to shared memory. */
  share(): SharedDenseStore {
    const { size, dim, metric } = this;
    if (this.arena !== null) return { kind: 'dense', size, dim, metric, arena: this.arena.share(), vectors: null };
    this.jsVectors = toShared(this.jsVectors!);
    return { kind: 'dense', size, dim, metric, arena: null, vectors: this.jsVectors };
  }

  /** A store over the memory another thread shared (no copy of the vectors). */
  static attach(s: SharedDenseStore): PlainDenseStore {
    const arena = s.arena === null ? null : DenseArena.attach(s.arena, s.size, s.dim);
    return new PlainDenseStore({ size: s.size, dim: s.dim, arena, vectors: s.vectors, ownRows: false }, s.metric);
  }

  /** 'wasm-simd' or 'js': which kernels score this store. */
  get kernels(): 'wasm-simd' | 'js' {
    return this.arena === null ? 'js' : 'wasm-simd';
  }

  /** The vectors, row-major (a view; re-read it after other calls on the store). */
  get vectors(): Float32Array {
    return this.arena?.vectors(this.size) ?? this.jsVectors!;
  }

  /** Bytes of the vectors, with the spare room a living index keeps to grow into. */
  get byteLength(): number {
    return (this.arena?.capacity ?? this.size) * this.dim * 4;
  }

  /** The vectors as a dataset (a view that shares the store's memory). */
  toDataset(): DenseDataset {
    return new DenseDataset(this.vectors, this.dim);
  }

  checkQuery(query: Vector): void {
    checkDenseQuery(query, this.dim);
  }

  queryEvaluator(query: Vector): QueryEvaluator {
    const q = query as Float32Array;
    if (this.arena === null) return new JsDenseEvaluator(q, 0, this.jsVectors!, this.dim, this.metric);
    const ptr = this.arena.allocQuery();
    this.arena.f32.set(q, ptr >>> 2);
    return new WasmDenseEvaluator(this.arena, ptr, true, this.metric);
  }

  itemEvaluator(id: number): QueryEvaluator {
    if (this.arena === null) return new JsDenseEvaluator(this.jsVectors!, id * this.dim, this.jsVectors!, this.dim, this.metric);
    return new WasmDenseEvaluator(this.arena, id * this.arena.nbytes, false, this.metric);
  }

  itemDistance(a: number, b: number): number {
    const arena = this.arena;
    if (arena !== null) {
      const r =
        this.metric === 'l2'
          ? arena.kernels.l2(a * arena.nbytes, b * arena.nbytes, arena.nbytes)
          : -arena.kernels.ip(a * arena.nbytes, b * arena.nbytes, arena.nbytes);
      return r;
    }
    const v = this.jsVectors!;
    const dim = this.dim;
    return this.metric === 'l2' ? l2sq(v, a * dim, v, b * dim, dim) : -dot(v, a * dim, v, b * dim, dim);
  }

  batchEvaluator(): BatchEvaluator {
    return this.arena === null ? new CpuBatchEvaluator(this) : new WasmDenseBatchEvaluator(this.arena, this.metric);
  }

  /**
   * With SIMD kernels the rows go into the wasm memory: in place when allowed and there is
   * room, else into a new memory with room for half as many again (a living index that grows
   * by one item at a time then copies only now and then).
   */
  withRows(rows: Dataset, slots: Uint32Array, size: number, inPlace = false): PlainDenseStore {
    if (!(rows instanceof DenseDataset) || rows.dim !== this.dim)
      fail('DIMENSION_MISMATCH', `new vectors must be dense of dimension ${this.dim}`);
    const dim = this.dim;
    if (this.arena === null) {
      const out = new Float32Array(size * dim);
      out.set(this.vectors.subarray(0, Math.min(size, this.size) * dim));
      for (let i = 0; i < slots.length; i++) out.set(rows.get(i), slots[i]! * dim);
      return new PlainDenseStore(new DenseDataset(out, dim), this.metric, { simd: false });
    }
    let arena = this.arena;
    if (!inPlace || size > arena.capacity) {
      const room = size > this.size ? Math.max(size, Math.min(Math.ceil(size * 1.5), DenseArena.largestFitting(dim))) : size;
      arena = DenseArena.allocate(room, dim)!;
      arena.f32.set(this.vectors.subarray(0, Math.min(size, this.size) * dim), 0);
    }
    const f32 = arena.f32;
    for (let i = 0; i < slots.length; i++) f32.set(rows.get(i), slots[i]! * dim);
    return PlainDenseStore.over(arena, size, this.metric);
  }

  /** A store of the first `size` vectors of `arena`. */
  private static over(arena: DenseArena, size: number, metric: Metric, ownRows = false): PlainDenseStore {
    return new PlainDenseStore({ size, dim: arena.dim, arena, vectors: null, ownRows }, metric);
  }

  /** The rows in the order `from` (see VectorStore.permuted): rearranged in place when allowed and the rows are the store's own. */
  permuted(from: Uint32Array, inPlace: boolean): PlainDenseStore {
    if (from.length !== this.size) fail('INVALID_ARGUMENT', `a permutation of ${from.length} rows for a store of ${this.size}`);
    if (!inPlace || !this.ownRows) return this.subset(from);
    permuteRowsInPlace(this.arena!.f32.subarray(0, this.size * this.dim), this.dim, from);
    return PlainDenseStore.over(this.arena!, this.size, this.metric, true);
  }

  subset(ids: Uint32Array): PlainDenseStore {
    const v = this.vectors;
    const d = this.dim;
    const out = new Float32Array(ids.length * d);
    for (let i = 0; i < ids.length; i++) out.set(v.subarray(ids[i]! * d, (ids[i]! + 1) * d), i * d);
    return new PlainDenseStore(new DenseDataset(out, d), this.metric, { simd: this.arena !== null });
  }
}

/** The rows of `data` where this store's kernels read them. */
function placeRows(data: DenseDataset, options: DenseStoreOptions): PlacedDenseRows {
  const arena = options.simd === false ? null : DenseArena.create(data.data, data.dim);
  return {
    size: data.size,
    dim: data.dim,
    arena,
    vectors: arena === null ? data.data : null,
    ownRows: arena !== null && arena.f32.buffer !== data.data.buffer,
  };
}

export function checkDenseQuery(query: Vector, dim: number): void {
  if (isSparseVector(query)) fail('INVALID_ARGUMENT', 'this index holds dense vectors: pass a Float32Array query');
  if (query.length !== dim) fail('DIMENSION_MISMATCH', `query has dimension ${query.length}, the index has ${dim}`);
  const bad = firstNonFinite(query);
  if (bad >= 0) fail('NON_FINITE', `query has a non-finite value (${query[bad]}) at component ${bad}`);
}

class JsDenseEvaluator implements QueryEvaluator {
  private readonly isL2: boolean;
  constructor(
    private readonly q: Float32Array,
    private readonly qOff: number,
    private readonly data: Float32Array,
    private readonly dim: number,
    metric: Metric,
  ) {
    this.isL2 = metric === 'l2';
  }
  distance(id: number): number {
    return this.isL2
      ? l2sq(this.q, this.qOff, this.data, id * this.dim, this.dim)
      : -dot(this.q, this.qOff, this.data, id * this.dim, this.dim);
  }
  distances(ids: Uint32Array, count: number, out: Float64Array): void {
    const { q, qOff, data, dim } = this;
    if (this.isL2) for (let i = 0; i < count; i++) out[i] = l2sq(q, qOff, data, ids[i]! * dim, dim);
    else for (let i = 0; i < count; i++) out[i] = -dot(q, qOff, data, ids[i]! * dim, dim);
  }
}

class WasmDenseEvaluator implements QueryEvaluator {
  private readonly isL2: boolean;
  private released = false;
  constructor(
    private readonly arena: DenseArena,
    private readonly qPtr: number,
    private readonly ownsSlot: boolean,
    metric: Metric,
  ) {
    this.isL2 = metric === 'l2';
  }
  distance(id: number): number {
    const a = this.arena;
    if (this.ownsSlot) {
      // An external query: the gather kernels' order of additions (it differs from the
      // item-to-item kernel's in the last bits), so that its distance to an item is one number
      // however it is asked (single or batched search, entry point or neighbour).
      return this.isL2 ? a.kernels.l2Row(this.qPtr, id * a.nbytes, a.nbytes) : -a.kernels.ipRow(this.qPtr, id * a.nbytes, a.nbytes);
    }
    return this.isL2 ? a.kernels.l2(this.qPtr, id * a.nbytes, a.nbytes) : -a.kernels.ip(this.qPtr, id * a.nbytes, a.nbytes);
  }
  distances(ids: Uint32Array, count: number, out: Float64Array): void {
    const a = this.arena;
    a.stageIds(ids, count);
    if (this.isL2) a.kernels.l2Gather(this.qPtr, 0, a.nbytes, a.idsPtr, count, a.outPtr);
    else a.kernels.ipGather(this.qPtr, 0, a.nbytes, a.idsPtr, count, a.outPtr);
    const f32 = a.f32;
    const outAt = a.outPtr >>> 2;
    if (this.isL2) for (let i = 0; i < count; i++) out[i] = f32[outAt + i]!;
    else for (let i = 0; i < count; i++) out[i] = -f32[outAt + i]!;
  }
  release(): void {
    if (this.ownsSlot && !this.released) {
      this.released = true;
      this.arena.freeQuery(this.qPtr);
    }
  }
}

/** Batch evaluator over the SIMD arena: all pairs of a round in one wasm call. */
class WasmDenseBatchEvaluator implements BatchEvaluator {
  readonly backend = 'cpu';
  private blockPtr = 0;
  private blockCap = 0;
  private readonly isL2: boolean;
  constructor(
    private readonly arena: DenseArena,
    metric: Metric,
  ) {
    this.isL2 = metric === 'l2';
  }
  setQueries(queries: Dataset, start: number, count: number): void {
    const a = this.arena;
    if (count > this.blockCap) {
      this.blockPtr = a.alloc(count * a.nbytes);
      this.blockCap = count;
    }
    const f32 = a.f32;
    for (let s = 0; s < count; s++) f32.set(queries.get(start + s) as Float32Array, (this.blockPtr >>> 2) + s * a.dim);
  }
  distances(slots: Uint32Array, ids: Uint32Array, count: number, out: Float32Array): void {
    const a = this.arena;
    a.stagePairs(slots, ids, count);
    if (this.isL2) a.kernels.l2Pairs(this.blockPtr, a.nbytes, 0, a.nbytes, a.slotsPtr, a.idsPtr, count, a.outPtr);
    else a.kernels.ipPairs(this.blockPtr, a.nbytes, 0, a.nbytes, a.slotsPtr, a.idsPtr, count, a.outPtr);
    const f32 = a.f32;
    const outAt = a.outPtr >>> 2;
    if (this.isL2) out.set(f32.subarray(outAt, outAt + count));
    else for (let i = 0; i < count; i++) out[i] = -f32[outAt + i]!;
  }
}

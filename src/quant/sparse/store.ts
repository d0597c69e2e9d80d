import { checkSparseVector, SparseDataset } from '../../data/sparse.js';
import { fail } from '../../errors.js';
import type { Dataset, Metric, QueryEvaluator, SparseVector, Vector, VectorStore } from '../../types.js';
import { isSparseVector } from '../../types.js';
import { toShared } from '../../util/shared-memory.js';
import { CpuBatchEvaluator } from '../cpu-batch.js';
import { sparseDotDense, sparseDotSparse } from '../kernels.js';
import type { SharedArena } from '../wasm/arena.js';
import { SparseArena, type SparseLayout, WasmSparseEvaluator } from './wasm-evaluator.js';

/** A PlainSparseStore as worker threads receive it. */
export interface SharedSparseStore {
  readonly kind: 'sparse';
  readonly metric: Metric;
  readonly dim: number;
  readonly indptr: Uint32Array;
  readonly indices: Uint32Array;
  readonly values: Float32Array;
  readonly norms: Float32Array | null;
  /** The wasm memory the rows live in (the arrays above are views of it), or null (JS kernels). */
  readonly arena: { shared: SharedArena; layout: SparseLayout } | null;
}

/**
 * A PlainSparseStore's rows already in place (attach: a worker over shared memory): the wasm
 * memory or the JS arrays, and the L2 norms.
 */
export interface PlacedSparseRows {
  readonly arena: SparseArena | null;
  /** The rows for the JS kernels (null when `arena` holds them). */
  readonly rows: SparseDataset | null;
  readonly norms: Float32Array | null;
}

/**
 * Plain sparse store. A query is scattered into a dense scratch row of length dim, so scoring
 * an item costs one gather per item non-zero: in WebAssembly when available (the rows then
 * live in its memory, held once), else in JS. For L2 the item norms are precomputed:
 * |q - x|^2 = |q|^2 + |x|^2 - 2 q.x.
 */
export class PlainSparseStore implements VectorStore {
  readonly kind = 'sparse';
  readonly metric: Metric;
  private norms: Float32Array | null;
  /** Scratch rows are recycled: allocating dim floats per query would dominate small searches. */
  private readonly scratchPool: Float32Array[] = [];
  private readonly arena: SparseArena | null;
  private jsData: SparseDataset | null;

  /** A store of `data`; with SIMD (default) the rows are copied into wasm memory (failing when they do not fit it: see SparseArena.checkFits). */
  constructor(data: SparseDataset, metric: Metric, options?: { simd?: boolean });
  /** The store over rows already placed (attach). */
  constructor(placed: PlacedSparseRows, metric: Metric);
  constructor(source: SparseDataset | PlacedSparseRows, metric: Metric, options: { simd?: boolean } = {}) {
    this.metric = metric;
    if ('arena' in source) {
      this.arena = source.arena;
      this.jsData = source.rows;
      this.norms = source.norms;
    } else {
      this.arena = options.simd === false ? null : SparseArena.create(source);
      this.jsData = this.arena === null ? source : null;
      this.norms = metric === 'l2' ? squaredNorms(source) : null;
    }
  }

  /** The rows: views of the wasm memory, or the dataset itself (JS kernels). */
  get data(): SparseDataset {
    return this.arena?.data ?? this.jsData!;
  }

  /** 'wasm' or 'js': which kernel scores this store. */
  get kernels(): 'wasm' | 'js' {
    return this.arena === null ? 'js' : 'wasm';
  }

  /** The store for worker threads: its rows (and L2 norms) on shared memory, no copy per thread. */
  share(): SharedSparseStore {
    if (this.jsData !== null) this.jsData = this.jsData.toShared();
    if (this.norms !== null) this.norms = toShared(this.norms);
    const arena = this.arena === null ? null : { shared: this.arena.share(), layout: this.arena.layout };
    const { indptr, indices, values, dim } = this.data;
    return { kind: 'sparse', metric: this.metric, dim, indptr, indices, values, norms: this.norms, arena };
  }

  /** A store over rows another thread shared. */
  static attach(s: SharedSparseStore): PlainSparseStore {
    const arena = s.arena === null ? null : SparseArena.attach(s.arena.shared, s.arena.layout);
    const rows = arena === null ? SparseDataset.trusted(s.indptr, s.indices, s.values, s.dim) : null;
    return new PlainSparseStore({ arena, rows, norms: s.norms }, s.metric);
  }

  /** Rows in the store. */
  get size(): number {
    return this.data.size;
  }
  /** Vocabulary size: component ids are below it. */
  get dim(): number {
    return this.data.dim;
  }
  get byteLength(): number {
    return this.data.byteLength + (this.norms?.byteLength ?? 0);
  }
  checkQuery(query: Vector): void {
    if (!isSparseVector(query)) fail('INVALID_ARGUMENT', 'this index holds sparse vectors: pass a {indices, values} query');
    checkSparseVector(query, this.dim, 'query');
  }
  queryEvaluator(query: Vector): QueryEvaluator {
    if (this.arena !== null) return new WasmSparseEvaluator(this.arena, query as SparseVector, this.norms);
    return new SparseEvaluator(this, query as SparseVector);
  }
  itemEvaluator(id: number): QueryEvaluator {
    return this.queryEvaluator(this.data.get(id));
  }
  itemDistance(a: number, b: number): number {
    const { indptr, indices, values } = this.data;
    const ip = sparseDotSparse(indices, values, indptr[a]!, indptr[a + 1]!, indices, values, indptr[b]!, indptr[b + 1]!);
    return this.norms === null ? -ip : this.norms[a]! + this.norms[b]! - 2 * ip;
  }
  batchEvaluator(): CpuBatchEvaluator {
    return new CpuBatchEvaluator(this);
  }

  withRows(rows: Dataset, slots: Uint32Array, size: number): PlainSparseStore {
    if (!(rows instanceof SparseDataset)) fail('INVALID_ARGUMENT', 'this index holds sparse vectors: new vectors must be sparse');
    const old = this.data;
    const rowOf = new Int32Array(size).fill(-1);
    for (let i = 0; i < slots.length; i++) rowOf[slots[i]!] = i;
    const indptr = new Uint32Array(size + 1);
    for (let id = 0; id < size; id++) {
      const r = rowOf[id]!;
      const len = r >= 0 ? rows.indptr[r + 1]! - rows.indptr[r]! : id < old.size ? old.indptr[id + 1]! - old.indptr[id]! : 0;
      indptr[id + 1] = indptr[id]! + len;
    }
    // Before the rows are copied: an add that would not fit the wasm memory fails here, with
    // this store untouched (it never changes in place), not after gigabytes of copying.
    if (this.arena !== null) SparseArena.checkFits(size, indptr[size]!, old.dim);
    const indices = new Uint32Array(indptr[size]!);
    const values = new Float32Array(indptr[size]!);
    for (let id = 0; id < size; id++) {
      const r = rowOf[id]!;
      const src = r >= 0 ? rows : old;
      const at = r >= 0 ? r : id;
      if (r < 0 && id >= old.size) continue;
      const from = src.indptr[at]!;
      const to = src.indptr[at + 1]!;
      indices.set(src.indices.subarray(from, to), indptr[id]!);
      values.set(src.values.subarray(from, to), indptr[id]!);
    }
    return new PlainSparseStore(SparseDataset.trusted(indptr, indices, values, old.dim), this.metric, { simd: this.arena !== null });
  }

  subset(ids: Uint32Array): PlainSparseStore {
    const old = this.data;
    const indptr = new Uint32Array(ids.length + 1);
    for (let i = 0; i < ids.length; i++) indptr[i + 1] = indptr[i]! + old.indptr[ids[i]! + 1]! - old.indptr[ids[i]!]!;
    const indices = new Uint32Array(indptr[ids.length]!);
    const values = new Float32Array(indptr[ids.length]!);
    for (let i = 0; i < ids.length; i++) {
      const from = old.indptr[ids[i]!]!;
      const to = old.indptr[ids[i]! + 1]!;
      indices.set(old.indices.subarray(from, to), indptr[i]!);
      values.set(old.values.subarray(from, to), indptr[i]!);
    }
    return new PlainSparseStore(SparseDataset.trusted(indptr, indices, values, old.dim), this.metric, { simd: this.arena !== null });
  }
  /** @internal */
  takeScratch(): Float32Array {
    return this.scratchPool.pop() ?? new Float32Array(this.dim);
  }
  /** @internal Returns a scratch row; the caller has zeroed the entries it set. */
  giveScratch(row: Float32Array): void {
    if (this.scratchPool.length < 8) this.scratchPool.push(row);
  }
  /** @internal */
  get itemNorms(): Float32Array | null {
    return this.norms;
  }
}

/** Each row's squared norm (the L2 distance's |x|^2 term). */
function squaredNorms(data: SparseDataset): Float32Array {
  const norms = new Float32Array(data.size);
  const { indptr, values } = data;
  for (let i = 0; i < data.size; i++) {
    let s = 0;
    for (let j = indptr[i]!; j < indptr[i + 1]!; j++) s += values[j]! * values[j]!;
    norms[i] = s;
  }
  return norms;
}

export class SparseEvaluator implements QueryEvaluator {
  private readonly dense: Float32Array;
  private readonly ids: Uint32Array;
  private readonly vals: Float32Array;
  private readonly indptr: Uint32Array;
  private readonly norms: Float32Array | null;
  private readonly queryNorm: number;
  private readonly query: SparseVector;
  private released = false;

  constructor(
    private readonly store: PlainSparseStore,
    query: SparseVector,
  ) {
    this.query = query;
    this.dense = store.takeScratch();
    let qn = 0;
    for (let j = 0; j < query.indices.length; j++) {
      this.dense[query.indices[j]!] = query.values[j]!;
      qn += query.values[j]! * query.values[j]!;
    }
    this.queryNorm = qn;
    this.ids = store.data.indices;
    this.vals = store.data.values;
    this.indptr = store.data.indptr;
    this.norms = store.itemNorms;
  }
  distance(id: number): number {
    const ip = sparseDotDense(this.dense, this.ids, this.vals, this.indptr[id]!, this.indptr[id + 1]!);
    return this.norms === null ? -ip : this.queryNorm + this.norms[id]! - 2 * ip;
  }
  distances(ids: Uint32Array, count: number, out: Float64Array): void {
    for (let i = 0; i < count; i++) out[i] = this.distance(ids[i]!);
  }
  /** Gives the scratch row back (zeroing only the query's entries). Optional: GC covers it. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (let j = 0; j < this.query.indices.length; j++) this.dense[this.query.indices[j]!] = 0;
    this.store.giveScratch(this.dense);
  }
}

import { DenseDataset } from '../../data/dense.js';
import { fail } from '../../errors.js';
import type { BatchEvaluator, Dataset, Metric, QueryEvaluator, Vector, VectorStore } from '../../types.js';
import { toShared } from '../../util/shared-memory.js';
import { CpuBatchEvaluator } from '../cpu-batch.js';
import { checkDenseQuery } from '../dense/store.js';
import { failMemoryLimit, type SharedArena, WasmArena } from '../wasm/arena.js';
import { FACTORS, type PreparedRabitqQuery, RabitqEncoding } from './encoding.js';
import { JsRabitqEvaluator, WasmRabitqEvaluator } from './evaluators.js';
import { HadamardRotation } from './rotation.js';
import { QUERY_HEADER_BYTES, type RabitqKernels, rabitqKernels } from './wasm-kernels.js';

/** A RabitqStore as worker threads receive it: codes in the shared wasm memory (or on a SharedArrayBuffer), factors shared. */
export interface SharedRabitqStore {
  readonly kind: 'rabitq';
  readonly size: number;
  readonly dim: number;
  readonly metric: Metric;
  readonly bits: number;
  readonly epsilon0: number;
  readonly centroid: Float32Array;
  readonly signs: Uint8Array;
  readonly factors: Float32Array;
  readonly arena: SharedArena | null;
  readonly codes: Uint8Array | null;
}

/**
 * Codes and factors already in place: with an arena, the codes at its byte 0 and `factors` a
 * view of the arena (the kernels read them there; its byte offset says where); without one
 * (JS kernels), plain arrays.
 */
interface PlacedRabitqCodes {
  readonly arena: WasmArena | null;
  readonly codes: Uint8Array | null;
  readonly factors: Float32Array;
}

/** Arenas a loader is filling (RabitqStore.reserveSection), by their memory's buffer: fromCodes adopts them. */
const reserved = new WeakMap<ArrayBufferLike, WasmArena>();
/** The same arenas by the loader's placement key (the store's header parameters). */
const reservedFor = new WeakMap<object, WasmArena>();

/**
 * RaBitQ codes of n dense items (see RabitqEncoding): `bits` bits per rotated component plus
 * FACTORS floats per item. Distances are unbiased estimates; distanceBounds gives their
 * confidence half-widths, which re-ranking uses to skip candidates that cannot enter the top k.
 * With WebAssembly SIMD the codes live at byte 0 of a wasm memory, the factors after them, and
 * kernels prepare the queries and write the estimates; otherwise JS gives the same numbers.
 */
export class RabitqStore implements VectorStore {
  readonly kind = 'rabitq';
  readonly size: number;
  readonly dim: number;
  readonly metric: Metric;
  private readonly arena: WasmArena | null;
  private readonly wasm: RabitqKernels | null;
  private codesJs: Uint8Array | null;
  /** The factors without an arena (JS kernels). */
  private factorsJs: Float32Array | null;
  /** With an arena: the byte offset of the factors in it. */
  private readonly factorsAt: number;
  /** The last query prepared, kept for distanceBounds (called with the same query object after its search). */
  private lastQuery: Vector | null = null;
  private lastPrepared: PreparedRabitqQuery | null = null;

  constructor(
    /** How the codes were made: bits, rotation, centre, metric. */
    readonly encoding: RabitqEncoding,
    size: number,
    placed: PlacedRabitqCodes,
  ) {
    this.size = size;
    this.dim = encoding.dim;
    this.metric = encoding.metric;
    this.arena = placed.arena;
    this.wasm = placed.arena === null ? null : rabitqKernels(placed.arena.memory, encoding.bits);
    if (placed.arena !== null && this.wasm === null)
      fail('INVALID_ARGUMENT', 'internal: RaBitQ kernels are missing where SIMD is available');
    this.codesJs = placed.codes;
    this.factorsJs = placed.arena === null ? placed.factors : null;
    this.factorsAt = placed.arena === null ? 0 : placed.factors.byteOffset;
    if (placed.factors.length !== size * FACTORS)
      fail('CORRUPT_FILE', `RaBitQ factors hold ${placed.factors.length} values, ${size} items need ${size * FACTORS}`);
  }

  /** `data` encoded with `encoding`. */
  static fromData(encoding: RabitqEncoding, data: DenseDataset, options: { simd?: boolean } = {}): RabitqStore {
    const store = RabitqStore.empty(encoding, data.size, options.simd !== false);
    encoding.encodeRows(data, store.codes, store.factors);
    return store;
  }

  /** A store over saved codes (size x rowBytes) and factors (size x FACTORS). */
  static fromCodes(encoding: RabitqEncoding, codes: Uint8Array, factors: Float32Array, options: { simd?: boolean } = {}): RabitqStore {
    if (codes.length % encoding.rowBytes !== 0)
      fail('CORRUPT_FILE', `the RaBitQ codes hold ${codes.length} bytes, not a multiple of the ${encoding.rowBytes}-byte row`);
    const size = codes.length / encoding.rowBytes;
    const adopted = reserved.get(codes.buffer);
    if (adopted && options.simd !== false && codes.byteOffset === 0 && factors.buffer === codes.buffer) {
      reserved.delete(codes.buffer);
      return new RabitqStore(encoding, size, { arena: adopted, codes: null, factors });
    }
    const store = RabitqStore.empty(encoding, size, options.simd !== false, factors);
    store.codes.set(codes);
    return store;
  }

  /**
   * Where a loader reads section `name` ('codes' or 'factors') of a store of `size` items
   * with `rowBytes`-byte codes: both into one new SIMD arena, codes at byte 0 and factors
   * after them, as empty() lays them out, so that fromCodes adopts the arena instead of
   * copying (an index over 1M vectors then holds its codes once while it opens). Null where
   * the arena cannot be made; `placement` keeps the arena between the two calls.
   */
  static reserveSection(placement: object, name: string, size: number, rowBytes: number, queryBytes: number): Uint8Array | null {
    let arena = reservedFor.get(placement);
    if (arena === undefined) {
      const reserve = size * (rowBytes + 4 * FACTORS) + 64 * (queryBytes + QUERY_HEADER_BYTES);
      arena = WasmArena.fits(reserve) ? (WasmArena.create(reserve) ?? undefined) : undefined;
      if (arena === undefined || arena.alloc(size * rowBytes) !== 0 || arena.alloc(4 * size * FACTORS) !== size * rowBytes) return null;
      reservedFor.set(placement, arena);
      reserved.set(arena.u8.buffer, arena);
    }
    if (name === 'codes') return arena.u8.subarray(0, size * rowBytes);
    if (name === 'factors') return arena.u8.subarray(size * rowBytes, size * rowBytes + 4 * size * FACTORS);
    return null;
  }

  /** Zeroed codes for `size` items: at byte 0 of a new wasm memory when `simd` and the platform allow. */
  private static empty(
    encoding: RabitqEncoding,
    size: number,
    simd: boolean,
    factors: Float32Array = new Float32Array(size * FACTORS),
  ): RabitqStore {
    const bytes = size * encoding.rowBytes;
    if (!simd) return new RabitqStore(encoding, size, { arena: null, codes: new Uint8Array(bytes), factors });
    // Codes, factors and query slots.
    const slots = 64 * (encoding.queryBytes + QUERY_HEADER_BYTES);
    const perItem = encoding.rowBytes + 4 * FACTORS;
    const reserve = size * perItem + slots;
    if (!WasmArena.fits(reserve)) {
      const fit = Math.floor((WasmArena.capacityBytes - slots) / perItem);
      failMemoryLimit(
        `${size} RaBitQ codes of ${encoding.rowBytes} bytes and their factors take ${((size * perItem) / 2 ** 30).toFixed(2)} GiB; the SIMD kernels' WebAssembly memory holds at most ${fit} of them: use fewer bits, or { simd: false } for the plain JS kernels`,
      );
    }
    const arena = WasmArena.create(reserve);
    if (arena === null) return new RabitqStore(encoding, size, { arena: null, codes: new Uint8Array(bytes), factors });
    // The kernels address item i at i * rowBytes: the codes must start at byte 0.
    if (arena.alloc(bytes) !== 0) fail('INVALID_ARGUMENT', 'internal: RaBitQ codes must start at byte 0 of their memory');
    const at = arena.alloc(4 * size * FACTORS);
    const placed = arena.f32.subarray(at >>> 2, (at >>> 2) + size * FACTORS);
    placed.set(factors);
    return new RabitqStore(encoding, size, { arena, codes: null, factors: placed });
  }

  /** The codes, size x rowBytes (a view; re-read it after other calls on the store). */
  get codes(): Uint8Array {
    return this.arena ? this.arena.u8.subarray(0, this.size * this.encoding.rowBytes) : this.codesJs!;
  }

  /** Per-item factors, size x FACTORS (with SIMD a view of the kernels' memory: re-read it after other calls on the store). */
  get factors(): Float32Array {
    if (this.arena === null) return this.factorsJs!;
    const at = this.factorsAt >>> 2;
    return this.arena.f32.subarray(at, at + this.size * FACTORS);
  }

  /** 'wasm-simd' or 'js': which kernels score this store. */
  get kernels(): 'wasm-simd' | 'js' {
    return this.arena === null ? 'js' : 'wasm-simd';
  }

  /** Bytes per item: the code and its factors. */
  get bytesPerVector(): number {
    return this.encoding.rowBytes + 4 * FACTORS;
  }

  get byteLength(): number {
    const e = this.encoding;
    return this.size * this.bytesPerVector + 4 * e.dim + e.rotation.signs.length;
  }

  /** The store for worker threads: its codes and factors on shared memory, no copy per thread. */
  share(): SharedRabitqStore {
    const { size, dim, metric } = this;
    const { bits, epsilon0, centroid } = this.encoding;
    const signs = this.encoding.rotation.signs;
    const common = { kind: 'rabitq' as const, size, dim, metric, bits, epsilon0, centroid, signs };
    // With an arena the factors are a view of its (shared) memory, which carries them.
    if (this.arena !== null) return { ...common, arena: this.arena.share(), codes: null, factors: this.factors };
    this.codesJs = toShared(this.codesJs!);
    this.factorsJs = toShared(this.factorsJs!);
    return { ...common, arena: null, codes: this.codesJs, factors: this.factorsJs };
  }

  /** A store over codes another thread shared. */
  static attach(s: SharedRabitqStore): RabitqStore {
    const encoding = new RabitqEncoding(s.dim, s.metric, s.bits, s.centroid, new HadamardRotation(s.dim, s.signs), s.epsilon0);
    const arena = s.arena === null ? null : WasmArena.attach(s.arena);
    return new RabitqStore(encoding, s.size, { arena, codes: s.codes, factors: s.factors });
  }

  checkQuery(query: Vector): void {
    checkDenseQuery(query, this.dim);
  }

  queryEvaluator(query: Vector): QueryEvaluator {
    const prepared = this.prepared(query);
    if (this.arena === null) return new JsRabitqEvaluator(this.encoding, this.codesJs!, this.factorsJs!, prepared);
    return new WasmRabitqEvaluator(this.encoding, this.arena, this.wasm!, this.factorsAt, prepared);
  }

  /**
   * out[i] = the half-width of the confidence interval of the estimated distance from `query`
   * to ids[i] (RabitqEncoding.bound): the true distance lies within estimate +- out[i] at the
   * rate erf(epsilon0 / sqrt 2). Re-ranking asks for it after the search of the same query.
   */
  distanceBounds(query: Vector, ids: Uint32Array, count: number, out: Float64Array): void {
    const p = this.prepared(query);
    const f = this.factors;
    for (let i = 0; i < count; i++) out[i] = this.encoding.bound(p, f, ids[i]! * FACTORS);
  }

  /** The query rotated and quantized; the last one is kept, since its search and re-ranking both ask. */
  private prepared(query: Vector): PreparedRabitqQuery {
    if (query === this.lastQuery && this.lastPrepared !== null) return this.lastPrepared;
    // The JS kernels' store prepares in JS too: simd false is JavaScript throughout.
    const q = query as Float32Array;
    const p = this.arena === null ? this.encoding.prepareQueryJs(q) : this.encoding.prepareQuery(q);
    this.lastQuery = query;
    this.lastPrepared = p;
    return p;
  }

  /** Decoded item `id` as the query: building and repairing graphs on the codes compares items. */
  itemEvaluator(id: number): QueryEvaluator {
    return this.queryEvaluator(this.encoding.decodeRow(this.codes, this.factors, id));
  }

  itemDistance(a: number, b: number): number {
    const ev = this.itemEvaluator(a);
    const d = ev.distance(b);
    ev.release?.();
    return d;
  }

  batchEvaluator(): BatchEvaluator {
    return new CpuBatchEvaluator(this);
  }

  /** New rows encoded with the same centroid and rotation. */
  withRows(rows: Dataset, slots: Uint32Array, size: number): RabitqStore {
    if (!(rows instanceof DenseDataset) || rows.dim !== this.dim)
      fail('DIMENSION_MISMATCH', `new vectors must be dense of dimension ${this.dim}`);
    const store = RabitqStore.empty(this.encoding, size, this.arena !== null);
    const kept = Math.min(size, this.size);
    store.codes.set(this.codes.subarray(0, kept * this.encoding.rowBytes));
    store.factors.set(this.factors.subarray(0, kept * FACTORS));
    this.encoding.encodeRows(rows, store.codes, store.factors, slots);
    return store;
  }

  subset(ids: Uint32Array): RabitqStore {
    const rb = this.encoding.rowBytes;
    const store = RabitqStore.empty(this.encoding, ids.length, this.arena !== null);
    const from = this.codes;
    const to = store.codes;
    const fromFactors = this.factors;
    const toFactors = store.factors;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      to.set(from.subarray(id * rb, (id + 1) * rb), i * rb);
      toFactors.set(fromFactors.subarray(id * FACTORS, (id + 1) * FACTORS), i * FACTORS);
    }
    return store;
  }
}

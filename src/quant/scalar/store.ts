import { DenseDataset } from '../../data/dense.js';
import { fail } from '../../errors.js';
import type { BatchEvaluator, Dataset, Metric, QueryEvaluator, Vector, VectorStore } from '../../types.js';
import { toShared } from '../../util/shared-memory.js';
import { CpuBatchEvaluator } from '../cpu-batch.js';
import { checkDenseQuery } from '../dense/store.js';
import { failMemoryLimit, type SharedArena, WasmArena } from '../wasm/arena.js';
import { type PreparedQuery, ScalarCodec, type ScalarEncoding } from './scalar-encoding.js';
import type { ScalarWasmKernels } from './wasm-kernels.js';

/** A ScalarStore as worker threads receive it: the codes in a shared wasm memory (or on a SharedArrayBuffer). */
export interface SharedScalarStore {
  readonly kind: ScalarEncoding;
  readonly size: number;
  readonly dim: number;
  readonly metric: Metric;
  readonly mins: Float32Array | null;
  readonly scales: Float32Array | null;
  readonly arena: SharedArena | null;
  readonly codes: Uint8Array | null;
}

/** Arenas whose codes a loader is filling (reserveScalarCodes), adopted by fromCodes. */
const reserved = new WeakMap<ArrayBufferLike, WasmArena>();

/**
 * Zeroed bytes at byte 0 of a new SIMD arena for a loader to fill with `bytes` of codes (rows
 * of a `paddedDim`-component codec); ScalarStore.fromCodes over exactly this array takes the
 * arena instead of copying. Null where the arena cannot be made (the loader uses plain memory).
 */
export function reserveScalarCodes(bytes: number, paddedDim: number): Uint8Array | null {
  const reserve = bytes + 64 * paddedDim * 8;
  if (!WasmArena.fits(reserve)) return null;
  const arena = WasmArena.create(reserve);
  if (arena === null || arena.alloc(bytes) !== 0) return null;
  const view = arena.u8.subarray(0, bytes);
  reserved.set(view.buffer, arena);
  return view;
}

type Gather = (q: number, base: number, nbytes: number, ids: number, count: number, out: number) => void;
type Pairs = (qbase: number, qstride: number, base: number, nbytes: number, slots: number, ids: number, count: number, out: number) => void;

/**
 * Dense vectors stored as f16 or SQ8 codes (see ScalarQuantizer), rows padded to 16
 * components. With WebAssembly SIMD the codes live at byte 0 of a wasm memory and are scored
 * there; otherwise JS kernels decode them (f16 by table look-up).
 */
export class ScalarStore implements VectorStore {
  readonly kind: ScalarEncoding;
  readonly dim: number;
  readonly metric: Metric;
  private codesJs: Uint8Array | null;

  private constructor(
    /** The encoding of its rows. */
    readonly codec: ScalarCodec,
    readonly size: number,
    private readonly arena: WasmArena | null,
    codes: Uint8Array | null,
  ) {
    this.kind = codec.encoding;
    this.dim = codec.dim;
    this.metric = codec.metric;
    this.codesJs = codes;
  }

  /** A store of `data` encoded with `codec`. */
  static fromData(codec: ScalarCodec, data: DenseDataset, options: { simd?: boolean } = {}): ScalarStore {
    const store = ScalarStore.empty(codec, data.size, options.simd !== false);
    codec.encodeRows(data, store.codes);
    return store;
  }

  /** A store over saved codes (size x codec.rowBytes). */
  static fromCodes(codec: ScalarCodec, codes: Uint8Array, options: { simd?: boolean } = {}): ScalarStore {
    if (codes.length % codec.rowBytes !== 0)
      fail('CORRUPT_FILE', `the ${codec.encoding} codes hold ${codes.length} bytes, not a multiple of the ${codec.rowBytes}-byte row`);
    const adopted = reserved.get(codes.buffer);
    if (adopted && codes.byteOffset === 0 && options.simd !== false) {
      reserved.delete(codes.buffer);
      return new ScalarStore(codec, codes.length / codec.rowBytes, adopted, null);
    }
    const store = ScalarStore.empty(codec, codes.length / codec.rowBytes, options.simd !== false);
    store.codes.set(codes);
    return store;
  }

  /** Zeroed codes for `size` rows: in a new wasm memory when `simd` and the platform allow. */
  private static empty(codec: ScalarCodec, size: number, simd: boolean): ScalarStore {
    const bytes = size * codec.rowBytes;
    if (!simd) return new ScalarStore(codec, size, null, new Uint8Array(bytes));
    const reserve = bytes + 64 * codec.queryBytes;
    if (!WasmArena.fits(reserve)) {
      const fit = Math.floor((WasmArena.capacityBytes - 64 * codec.queryBytes) / codec.rowBytes);
      failMemoryLimit(
        `${size} ${codec.encoding} vectors of dimension ${codec.dim} take ${(bytes / 2 ** 30).toFixed(2)} GiB; the SIMD kernels' WebAssembly memory holds at most ${fit} of them (${(WasmArena.capacityBytes / 2 ** 30).toFixed(2)} GiB): use ${codec.encoding === 'f16' ? 'sq8 or ' : ''}product quantization, or { simd: false } for the plain JS kernels`,
      );
    }
    const arena = WasmArena.create(reserve);
    if (arena === null) return new ScalarStore(codec, size, null, new Uint8Array(bytes));
    // The kernels address item i at i * rowBytes: the codes must start at byte 0.
    if (arena.alloc(bytes) !== 0) fail('INVALID_ARGUMENT', 'internal: scalar codes must start at byte 0 of their memory');
    return new ScalarStore(codec, size, arena, null);
  }

  /** The codes, size x rowBytes (a view; re-read it after other calls on the store). */
  get codes(): Uint8Array {
    return this.arena ? this.arena.u8.subarray(0, this.size * this.codec.rowBytes) : this.codesJs!;
  }

  /** 'wasm-simd' or 'js': which kernels score this store. */
  get kernels(): 'wasm-simd' | 'js' {
    return this.arena === null ? 'js' : 'wasm-simd';
  }

  get byteLength(): number {
    return this.size * this.codec.rowBytes + (this.codec.mins ? this.dim * 8 : 0);
  }

  /** The store for worker threads: its codes on shared memory, no copy per thread. */
  share(): SharedScalarStore {
    const { kind, size, dim, metric } = this;
    const { mins, scales } = this.codec;
    if (this.arena !== null) return { kind, size, dim, metric, mins, scales, arena: this.arena.share(), codes: null };
    this.codesJs = toShared(this.codesJs!);
    return { kind, size, dim, metric, mins, scales, arena: null, codes: this.codesJs };
  }

  /** A store over codes another thread shared. */
  static attach(s: SharedScalarStore): ScalarStore {
    const codec = new ScalarCodec(s.kind, s.dim, s.metric, s.mins, s.scales);
    return new ScalarStore(codec, s.size, s.arena === null ? null : WasmArena.attach(s.arena), s.codes);
  }

  checkQuery(query: Vector): void {
    checkDenseQuery(query, this.dim);
  }

  queryEvaluator(query: Vector): QueryEvaluator {
    const q = query as Float32Array;
    if (this.arena === null) return new JsScalarEvaluator(this.codec, this.codesJs!, q);
    return new WasmScalarEvaluator(this.codec, this.arena, q);
  }

  /** Decoded item `id` as the query: building and repairing graphs on the codes compares items. */
  itemEvaluator(id: number): QueryEvaluator {
    return this.queryEvaluator(this.codec.decodeRow(this.codes, id));
  }

  itemDistance(a: number, b: number): number {
    const ev = this.itemEvaluator(a);
    const d = ev.distance(b);
    ev.release?.();
    return d;
  }

  batchEvaluator(): BatchEvaluator {
    return this.arena === null ? new CpuBatchEvaluator(this) : new WasmScalarBatchEvaluator(this.codec, this.arena);
  }

  /** New rows encoded like the rest (SQ8 clamps values outside its trained range). */
  withRows(rows: Dataset, slots: Uint32Array, size: number): ScalarStore {
    if (!(rows instanceof DenseDataset) || rows.dim !== this.dim)
      fail('DIMENSION_MISMATCH', `new vectors must be dense of dimension ${this.dim}`);
    const store = ScalarStore.empty(this.codec, size, this.arena !== null);
    store.codes.set(this.codes.subarray(0, Math.min(size, this.size) * this.codec.rowBytes));
    this.codec.encodeRows(rows, store.codes, slots);
    return store;
  }

  subset(ids: Uint32Array): ScalarStore {
    const rb = this.codec.rowBytes;
    const store = ScalarStore.empty(this.codec, ids.length, this.arena !== null);
    const from = this.codes;
    const to = store.codes;
    for (let i = 0; i < ids.length; i++) to.set(from.subarray(ids[i]! * rb, (ids[i]! + 1) * rb), i * rb);
    return store;
  }
}

function gatherOf(k: ScalarWasmKernels, codec: ScalarCodec): Gather {
  if (codec.encoding === 'f16') return codec.metric === 'l2' ? k.f16L2Gather : k.f16IpGather;
  return codec.metric === 'l2' ? k.sq8L2Gather : k.sq8IpGather;
}

function oneOf(k: ScalarWasmKernels, codec: ScalarCodec): (q: number, x: number, nbytes: number) => number {
  if (codec.encoding === 'f16') return codec.metric === 'l2' ? k.f16L2 : k.f16Ip;
  return codec.metric === 'l2' ? k.sq8L2 : k.sq8Ip;
}

function pairsOf(k: ScalarWasmKernels, codec: ScalarCodec): Pairs {
  if (codec.encoding === 'f16') return codec.metric === 'l2' ? k.f16L2Pairs : k.f16IpPairs;
  return codec.metric === 'l2' ? k.sq8L2Pairs : k.sq8IpPairs;
}

/** One query over the codes in wasm: the prepared query sits in a slot of the arena. */
class WasmScalarEvaluator implements QueryEvaluator {
  private readonly qPtr: number;
  private readonly prepared: PreparedQuery;
  private readonly gather: Gather;
  private readonly one: (q: number, x: number, nbytes: number) => number;
  private released = false;

  constructor(
    private readonly codec: ScalarCodec,
    private readonly arena: WasmArena,
    query: Float32Array,
  ) {
    // A copy first: an item's decoded row is fine, but a caller's view of this memory is not
    // once allocSlot grows it.
    const q = query.slice();
    this.qPtr = arena.allocSlot(codec.queryBytes);
    this.prepared = codec.prepareQuery(q, arena.memory.buffer, this.qPtr);
    this.gather = gatherOf(arena.kernels, codec);
    this.one = oneOf(arena.kernels, codec);
  }

  distance(id: number): number {
    const raw = this.one(this.qPtr, id * this.codec.rowBytes, this.codec.rowBytes);
    return this.codec.metric === 'l2' ? raw : -(raw * this.prepared.scale + this.prepared.offset);
  }

  distances(ids: Uint32Array, count: number, out: Float64Array): void {
    const a = this.arena;
    a.stageIds(ids, count);
    this.gather(this.qPtr, 0, this.codec.rowBytes, a.idsPtr, count, a.outPtr);
    const f32 = a.f32;
    const outAt = a.outPtr >>> 2;
    if (this.codec.metric === 'l2') {
      for (let i = 0; i < count; i++) out[i] = f32[outAt + i]!;
    } else {
      const { scale, offset } = this.prepared;
      for (let i = 0; i < count; i++) out[i] = -(f32[outAt + i]! * scale + offset);
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.arena.freeSlot(this.qPtr, this.codec.queryBytes);
  }
}

/** A batch round in one wasm call: the prepared queries side by side, one per slot. */
class WasmScalarBatchEvaluator implements BatchEvaluator {
  readonly backend = 'cpu';
  private blockPtr = 0;
  private blockCap = 0;
  private offsets = new Float64Array(0);
  private scales = new Float64Array(0);
  private readonly pairs: Pairs;

  constructor(
    private readonly codec: ScalarCodec,
    private readonly arena: WasmArena,
  ) {
    this.pairs = pairsOf(arena.kernels, codec);
  }

  setQueries(queries: Dataset, start: number, count: number): void {
    const qb = this.codec.queryBytes;
    if (count > this.blockCap) {
      this.blockPtr = this.arena.alloc(count * qb);
      this.blockCap = count;
      this.offsets = new Float64Array(count);
      this.scales = new Float64Array(count);
    }
    const buffer = this.arena.memory.buffer;
    for (let s = 0; s < count; s++) {
      const p = this.codec.prepareQuery(queries.get(start + s) as Float32Array, buffer, this.blockPtr + s * qb);
      this.offsets[s] = p.offset;
      this.scales[s] = p.scale;
    }
  }

  distances(slots: Uint32Array, ids: Uint32Array, count: number, out: Float32Array): void {
    const a = this.arena;
    a.stagePairs(slots, ids, count);
    this.pairs(this.blockPtr, this.codec.queryBytes, 0, this.codec.rowBytes, a.slotsPtr, a.idsPtr, count, a.outPtr);
    const f32 = a.f32;
    const outAt = a.outPtr >>> 2;
    if (this.codec.metric === 'l2') {
      out.set(f32.subarray(outAt, outAt + count));
    } else {
      const { scales, offsets } = this;
      for (let i = 0; i < count; i++) out[i] = -(f32[outAt + i]! * scales[slots[i]!]! + offsets[slots[i]!]!);
    }
  }
}

/** The JS kernels: decode each component on the fly (f64 accumulation). */
class JsScalarEvaluator implements QueryEvaluator {
  private readonly row: Float32Array<ArrayBufferLike>;
  constructor(
    private readonly codec: ScalarCodec,
    private readonly codes: Uint8Array,
    private readonly query: Float32Array,
  ) {
    this.row = new Float32Array(codec.dim);
  }
  distance(id: number): number {
    const x = this.codec.decodeRow(this.codes, id, this.row);
    const q = this.query;
    let s = 0;
    if (this.codec.metric === 'l2') {
      for (let d = 0; d < x.length; d++) {
        const t = q[d]! - x[d]!;
        s += t * t;
      }
      return s;
    }
    for (let d = 0; d < x.length; d++) s += q[d]! * x[d]!;
    return -s;
  }
  distances(ids: Uint32Array, count: number, out: Float64Array): void {
    for (let i = 0; i < count; i++) out[i] = this.distance(ids[i]!);
  }
}

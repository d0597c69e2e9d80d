import type { BatchEvaluator, Dataset, Metric, QueryEvaluator } from '../../types.js';
import { type SharedArena, WasmArena } from '../wasm/arena.js';
import { PQ_KSUB, type PqCodebook } from './codebook.js';

/**
 * PQ codes and codebooks in WebAssembly memory: lookup tables built with f32x4 over
 * transposed codebooks, ADC sums in wasm. Layout: codes (n x m bytes) at 0, then the
 * codebooks as [subspace][component][centroid] floats, then per-query tables.
 */
export class PqArena {
  readonly lutBytes: number;
  private constructor(
    readonly arena: WasmArena,
    readonly m: number,
    readonly dim: number,
    readonly codesPtr: number,
    readonly cbPtr: number,
  ) {
    this.lutBytes = m * PQ_KSUB * 4;
  }

  /** The arena of a PqStore another thread shared. */
  static attach(shared: SharedArena, pq: PqCodebook, codesPtr: number, cbPtr: number): PqArena {
    return new PqArena(WasmArena.attach(shared), pq.m, pq.dim, codesPtr, cbPtr);
  }

  /** Bytes an arena of `codeBytes` of codes takes: codes, transposed codebooks, room for 64 tables. */
  static reserveBytes(pq: PqCodebook, codeBytes: number): number {
    return codeBytes + pq.dim * PQ_KSUB * 4 + 64 * pq.m * PQ_KSUB * 4;
  }

  static create(pq: PqCodebook, codes: Uint8Array): PqArena | null {
    const { m, dim, dsub } = pq;
    const arena = WasmArena.create(PqArena.reserveBytes(pq, codes.byteLength));
    if (arena === null) return null;
    const codesPtr = arena.alloc(codes.byteLength);
    const cbPtr = arena.alloc(dim * PQ_KSUB * 4);
    arena.u8.set(codes, codesPtr);
    const cb = pq.codebooks;
    const f32 = arena.f32;
    const at = cbPtr >>> 2;
    for (let j = 0; j < m; j++) {
      for (let c = 0; c < PQ_KSUB; c++) {
        for (let t = 0; t < dsub; t++) f32[at + (j * dsub + t) * PQ_KSUB + c] = cb[(j * PQ_KSUB + c) * dsub + t]!;
      }
    }
    return new PqArena(arena, m, dim, codesPtr, cbPtr);
  }

  /** Builds the lookup table of `query` at `lutPtr`. */
  buildLut(query: Float32Array, metric: Metric, lutPtr: number): void {
    const a = this.arena;
    const qPtr = a.allocSlot(this.dim * 4);
    a.f32.set(query, qPtr >>> 2);
    const dsub = this.dim / this.m;
    const k = a.kernels;
    if (dsub === 8) (metric === 'l2' ? k.pqLut8L2 : k.pqLut8Ip)(qPtr, this.cbPtr, this.m, dsub, lutPtr);
    else (metric === 'l2' ? k.pqLutL2 : k.pqLutIp)(qPtr, this.cbPtr, this.m, dsub, lutPtr);
    a.freeSlot(qPtr, this.dim * 4);
  }
}

export class PqWasmEvaluator implements QueryEvaluator {
  private readonly lutPtr: number;
  private released = false;
  constructor(
    private readonly pa: PqArena,
    query: Float32Array,
    metric: Metric,
  ) {
    this.lutPtr = pa.arena.allocSlot(pa.lutBytes);
    pa.buildLut(query, metric, this.lutPtr);
  }
  /** The lookup table (a copy): m x 256 internal distances. */
  get lut(): Float32Array {
    return this.pa.arena.f32.slice(this.lutPtr >>> 2, (this.lutPtr + this.pa.lutBytes) >>> 2);
  }
  distance(id: number): number {
    const a = this.pa.arena;
    a.stageId(id);
    a.kernels.pqAdc(this.lutPtr, this.pa.codesPtr, this.pa.m, a.idsPtr, 1, a.outPtr);
    return a.f32[a.outPtr >>> 2]!;
  }
  distances(ids: Uint32Array, count: number, out: Float64Array): void {
    const a = this.pa.arena;
    a.stageIds(ids, count);
    a.kernels.pqAdc(this.lutPtr, this.pa.codesPtr, this.pa.m, a.idsPtr, count, a.outPtr);
    const f32 = a.f32;
    const outAt = a.outPtr >>> 2;
    for (let i = 0; i < count; i++) out[i] = f32[outAt + i]!;
  }
  release(): void {
    if (this.released) return;
    this.released = true;
    this.pa.arena.freeSlot(this.lutPtr, this.pa.lutBytes);
  }
}

/** One table per query slot, every pair of a round scored in one wasm call. */
export class PqWasmBatchEvaluator implements BatchEvaluator {
  readonly backend = 'cpu';
  private blockPtr = 0;
  private blockCap = 0;
  constructor(
    private readonly pa: PqArena,
    private readonly metric: Metric,
  ) {}
  setQueries(queries: Dataset, start: number, count: number): void {
    const { arena, lutBytes } = this.pa;
    if (count > this.blockCap) {
      this.blockPtr = arena.alloc(count * lutBytes);
      this.blockCap = count;
    }
    for (let s = 0; s < count; s++) this.pa.buildLut(queries.get(start + s) as Float32Array, this.metric, this.blockPtr + s * lutBytes);
  }
  distances(slots: Uint32Array, ids: Uint32Array, count: number, out: Float32Array): void {
    const a = this.pa.arena;
    a.stagePairs(slots, ids, count);
    a.kernels.pqAdcPairs(this.blockPtr, this.pa.lutBytes, this.pa.codesPtr, this.pa.m, a.slotsPtr, a.idsPtr, count, a.outPtr);
    const at = a.outPtr >>> 2;
    out.set(a.f32.subarray(at, at + count));
  }
}

import type { QueryEvaluator } from '../../types.js';
import type { WasmArena } from '../wasm/arena.js';
import { FACTORS, type PreparedRabitqQuery, type RabitqEncoding } from './encoding.js';
import { type EstimateConstants, estimate32 } from './prepared-query.js';
import { QUERY_HEADER_BYTES, type RabitqKernels } from './wasm-kernels.js';

/**
 * The JS estimator: per query a byte table, entry (g, b) = the sum of the levels of
 * components 8g .. 8g + 7 whose bit is set in b, so S is one look-up per code byte and plane.
 * The same integer S as the popcount kernels (plain sums of small integers), and the same f32
 * estimate (estimate32).
 */
export class JsRabitqEvaluator implements QueryEvaluator {
  private readonly table: Uint8Array;
  private readonly constants: EstimateConstants;

  constructor(
    private readonly enc: RabitqEncoding,
    private readonly codes: Uint8Array,
    private readonly factors: Float32Array,
    prepared: PreparedRabitqQuery,
  ) {
    const groups = enc.paddedDim / 8;
    const table = new Uint8Array(groups * 256);
    const levels = prepared.levels;
    for (let g = 0; g < groups; g++) {
      const at = g * 256;
      for (let b = 1; b < 256; b++) table[at + b] = table[at + (b & (b - 1))]! + levels[8 * g + 31 - Math.clz32(b & -b)]!;
    }
    this.table = table;
    this.constants = enc.estimateConstants(prepared);
  }

  /** S of item `id`: its code bytes looked up plane by plane. */
  private product(id: number): number {
    const { codes, table } = this;
    const bits = this.enc.bits;
    const at = id * this.enc.rowBytes;
    const chunks = this.enc.paddedDim / 128;
    let s = 0;
    for (let j = 0; j < bits; j++) {
      let p = 0;
      for (let c = 0; c < chunks; c++) {
        const row = at + 16 * (c * bits + j);
        const g = c * 16 * 256;
        for (let b = 0; b < 16; b++) p += table[g + b * 256 + codes[row + b]!]!;
      }
      s += p * 2 ** j;
    }
    return s;
  }

  distance(id: number): number {
    return estimate32(this.constants, this.product(id), this.factors, id * FACTORS);
  }

  distances(ids: Uint32Array, count: number, out: Float64Array): void {
    for (let i = 0; i < count; i++) out[i] = this.distance(ids[i]!);
  }
}

/**
 * The SIMD estimator: the query's slot in the arena (its estimate constants, then its planes),
 * the kernels computing S and the estimate from the factors in the arena, as f32 distances.
 */
export class WasmRabitqEvaluator implements QueryEvaluator {
  private readonly qPtr: number;
  private readonly slotBytes: number;
  private released = false;

  constructor(
    private readonly enc: RabitqEncoding,
    private readonly arena: WasmArena,
    private readonly kernels: RabitqKernels,
    /** Byte offset of the items' factors in the arena. */
    private readonly factorsAt: number,
    prepared: PreparedRabitqQuery,
  ) {
    this.slotBytes = QUERY_HEADER_BYTES + enc.queryBytes;
    this.qPtr = arena.allocSlot(this.slotBytes);
    const c = enc.estimateConstants(prepared);
    const at = this.qPtr >>> 2;
    arena.f32.set([c.step, c.low, c.middleSum, c.constant, c.sign], at);
    arena.u32.set(prepared.planes, at + QUERY_HEADER_BYTES / 4);
  }

  distance(id: number): number {
    const a = this.arena;
    a.stageId(id);
    this.kernels.gather(this.qPtr, a.idsPtr, 1, a.outPtr, this.enc.rowBytes, this.factorsAt);
    return a.f32[a.outPtr >>> 2]!;
  }

  distances(ids: Uint32Array, count: number, out: Float64Array): void {
    const a = this.arena;
    a.stageIds(ids, count);
    this.kernels.gather(this.qPtr, a.idsPtr, count, a.outPtr, this.enc.rowBytes, this.factorsAt);
    const f32 = a.f32;
    const at = a.outPtr >>> 2;
    for (let i = 0; i < count; i++) out[i] = f32[at + i]!;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.arena.freeSlot(this.qPtr, this.slotBytes);
  }
}

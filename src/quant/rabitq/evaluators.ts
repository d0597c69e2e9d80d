import type { QueryEvaluator } from '../../types.js';
import type { WasmArena } from '../wasm/arena.js';
import { FACTORS, type PreparedRabitqQuery, type RabitqEncoding } from './encoding.js';
import type { RabitqKernels } from './wasm-kernels.js';

/**
 * The JS estimator: per query a byte table, entry (g, b) = the sum of the levels of
 * components 8g .. 8g + 7 whose bit is set in b, so S is one look-up per code byte and plane.
 * The same integer S as the popcount kernels (plain sums of small integers).
 */
export class JsRabitqEvaluator implements QueryEvaluator {
  private readonly table: Uint8Array;

  constructor(
    private readonly enc: RabitqEncoding,
    private readonly codes: Uint8Array,
    private readonly factors: Float32Array,
    private readonly prepared: PreparedRabitqQuery,
  ) {
    const groups = enc.paddedDim / 8;
    const table = new Uint8Array(groups * 256);
    const levels = prepared.levels;
    for (let g = 0; g < groups; g++) {
      const at = g * 256;
      for (let b = 1; b < 256; b++) table[at + b] = table[at + (b & (b - 1))]! + levels[8 * g + 31 - Math.clz32(b & -b)]!;
    }
    this.table = table;
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
    return this.enc.estimate(this.prepared, this.product(id), this.factors, id * FACTORS);
  }

  distances(ids: Uint32Array, count: number, out: Float64Array): void {
    for (let i = 0; i < count; i++) out[i] = this.distance(ids[i]!);
  }
}

/** The SIMD estimator: the query's planes in a slot of the arena, S from the popcount kernels. */
export class WasmRabitqEvaluator implements QueryEvaluator {
  private readonly qPtr: number;
  private released = false;

  constructor(
    private readonly enc: RabitqEncoding,
    private readonly arena: WasmArena,
    private readonly kernels: RabitqKernels,
    private readonly factors: Float32Array,
    private readonly prepared: PreparedRabitqQuery,
  ) {
    this.qPtr = arena.allocSlot(enc.queryBytes);
    arena.u32.set(prepared.planes, this.qPtr >>> 2);
  }

  distance(id: number): number {
    const s = this.kernels.one(this.qPtr, id * this.enc.rowBytes, this.enc.rowBytes);
    return this.enc.estimate(this.prepared, s, this.factors, id * FACTORS);
  }

  distances(ids: Uint32Array, count: number, out: Float64Array): void {
    const a = this.arena;
    a.stageIds(ids, count);
    this.kernels.gather(this.qPtr, 0, this.enc.rowBytes, a.idsPtr, count, a.outPtr);
    const u32 = a.u32;
    const at = a.outPtr >>> 2;
    const { enc, prepared, factors } = this;
    for (let i = 0; i < count; i++) out[i] = enc.estimate(prepared, u32[at + i]!, factors, ids[i]! * FACTORS);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.arena.freeSlot(this.qPtr, this.enc.queryBytes);
  }
}

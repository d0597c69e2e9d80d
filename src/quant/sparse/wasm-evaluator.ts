import { SparseDataset } from '../../data/sparse.js';
import type { SparseVector } from '../../types.js';
import { failMemoryLimit, type SharedArena, WasmArena } from '../wasm/arena.js';

/** Where a sparse store's arrays sit in its WebAssembly memory (byte offsets). */
export interface SparseLayout {
  readonly size: number;
  readonly dim: number;
  readonly nnz: number;
  readonly indptrPtr: number;
  readonly indicesPtr: number;
  readonly valuesPtr: number;
}

/**
 * A sparse store's rows in WebAssembly memory, scored by the wasm gather kernel (faster than
 * the JS loop per distance: no bounds checks). The store's SparseDataset is a set of
 * views of this memory, so the rows are held once.
 */
export class SparseArena {
  private cached: SparseDataset | null = null;

  private constructor(
    readonly arena: WasmArena,
    readonly layout: SparseLayout,
  ) {}

  /**
   * The rows copied into a new wasm memory, or null without WebAssembly SIMD; fails with a
   * one-line error (see checkFits) when they would not fit its 4 GiB.
   */
  static create(data: SparseDataset): SparseArena | null {
    const { size, dim, nnz } = data;
    const reserve = SparseArena.checkFits(size, nnz, dim);
    const arena = WasmArena.create(reserve);
    if (arena === null) return null;
    const layout: SparseLayout = {
      size,
      dim,
      nnz,
      indptrPtr: arena.alloc((size + 1) * 4),
      indicesPtr: arena.alloc(nnz * 4),
      valuesPtr: arena.alloc(nnz * 4),
    };
    arena.u32.set(data.indptr, layout.indptrPtr >>> 2);
    arena.u32.set(data.indices, layout.indicesPtr >>> 2);
    arena.f32.set(data.values, layout.valuesPtr >>> 2);
    return new SparseArena(arena, layout);
  }

  /**
   * The bytes `size` rows with `nnz` non-zeros in all take in an arena (with room for a few
   * query scatter rows and the scratch lists); fails when that is more than one WebAssembly
   * memory holds: never a silent fall-back to the slower JS kernels (as a store made with
   * { simd: true } once did past 4 GiB, also after an add): say what fits and what to do.
   */
  static checkFits(size: number, nnz: number, dim: number): number {
    const bytes = (size + 1) * 4 + nnz * 8;
    const reserve = bytes + 8 * dim * 4 + 64;
    if (WasmArena.fits(reserve)) return reserve;
    const perRow = nnz / Math.max(size, 1);
    const fit = Math.max(0, Math.floor((WasmArena.capacityBytes - 8 * dim * 4 - 68) / (4 + perRow * 8)));
    failMemoryLimit(
      `${size} sparse vectors with ${nnz} non-zeros take ${gib(bytes)} GiB; the SIMD kernels' WebAssembly memory holds ${gib(WasmArena.capacityBytes)} GiB, about ${fit} vectors of ${perRow.toFixed(1)} non-zeros: split the items over several indexes, keep fewer non-zeros per vector (prune the smallest weights), or { simd: false } for the plain JS kernels (about 1.6x slower per distance)`,
    );
  }

  static attach(shared: SharedArena, layout: SparseLayout): SparseArena {
    return new SparseArena(WasmArena.attach(shared), layout);
  }

  share(): SharedArena {
    return this.arena.share();
  }

  /**
   * The rows as views of the wasm memory, re-made if the memory grew and detached them (a
   * non-shared memory, e.g. a page without cross-origin isolation): re-read it rather than
   * keeping its arrays across calls that may allocate.
   */
  get data(): SparseDataset {
    const c = this.cached;
    if (c !== null && c.indptr.length !== 0) return c;
    const { size, dim, nnz, indptrPtr, indicesPtr, valuesPtr } = this.layout;
    const buffer = this.arena.u8.buffer;
    this.cached = SparseDataset.trusted(
      new Uint32Array(buffer, indptrPtr, size + 1),
      new Uint32Array(buffer, indicesPtr, nnz),
      new Float32Array(buffer, valuesPtr, nnz),
      dim,
    );
    return this.cached;
  }
}

/** One query against a SparseArena: the query scattered into a dense row in wasm memory. */
export class WasmSparseEvaluator {
  private readonly densePtr: number;
  private readonly queryNorm: number;
  /** The query's ids, copied: an item's own row is a view that growing the memory detaches. */
  private readonly ids: Uint32Array;
  private released = false;

  constructor(
    private readonly sa: SparseArena,
    query: SparseVector,
    private readonly norms: Float32Array | null,
  ) {
    const { arena, layout } = sa;
    this.ids = query.indices.slice();
    const values = query.values.slice();
    this.densePtr = arena.allocSlot(layout.dim * 4);
    const f32 = arena.f32;
    const at = this.densePtr >>> 2;
    let qn = 0;
    for (let j = 0; j < this.ids.length; j++) {
      f32[at + this.ids[j]!] = values[j]!;
      qn += values[j]! * values[j]!;
    }
    this.queryNorm = qn;
  }

  distance(id: number): number {
    const { arena, layout } = this.sa;
    arena.stageId(id);
    arena.kernels.sparseIpGather(this.densePtr, layout.indptrPtr, layout.indicesPtr, layout.valuesPtr, arena.idsPtr, 1, arena.outPtr);
    const ip = arena.f32[arena.outPtr >>> 2]!;
    return this.norms === null ? -ip : this.queryNorm + this.norms[id]! - 2 * ip;
  }

  distances(ids: Uint32Array, count: number, out: Float64Array): void {
    const { arena, layout } = this.sa;
    arena.stageIds(ids, count);
    arena.kernels.sparseIpGather(this.densePtr, layout.indptrPtr, layout.indicesPtr, layout.valuesPtr, arena.idsPtr, count, arena.outPtr);
    const f32 = arena.f32;
    const outAt = arena.outPtr >>> 2;
    const norms = this.norms;
    if (norms === null) for (let i = 0; i < count; i++) out[i] = -f32[outAt + i]!;
    else for (let i = 0; i < count; i++) out[i] = this.queryNorm + norms[ids[i]!]! - 2 * f32[outAt + i]!;
  }

  /** Zeroes the query's entries of the scatter row and gives the row back. */
  release(): void {
    if (this.released) return;
    this.released = true;
    const f32 = this.sa.arena.f32;
    const at = this.densePtr >>> 2;
    for (let j = 0; j < this.ids.length; j++) f32[at + this.ids[j]!] = 0;
    this.sa.arena.freeSlot(this.densePtr, this.sa.layout.dim * 4);
  }
}

function gib(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(2);
}

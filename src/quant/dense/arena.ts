import { failMemoryLimit, type SharedArena, WasmArena } from '../wasm/arena.js';

/**
 * Rows reserved by reserveDenseRows, by the buffer of their view: a store made over exactly
 * that view adopts the memory instead of copying it (a large index file streams its vectors
 * straight into the SIMD kernels' memory and is held once).
 */
const reserved = new WeakMap<ArrayBufferLike, DenseArena>();

/**
 * A zeroed Float32Array of rows x dim at byte 0 of a new SIMD arena, for a loader to fill; a
 * PlainDenseStore over exactly this view takes the arena as it is. Null without SIMD (the
 * loader then uses plain memory); fails with the store's one-line error when it cannot fit.
 */
export function reserveDenseRows(rows: number, dim: number): Float32Array | null {
  const arena = DenseArena.allocate(rows, dim);
  if (arena === null) return null;
  const view = arena.vectors(rows);
  reserved.set(view.buffer, arena);
  return view;
}

/** Whether `rows` f32 vectors of dimension `dim` fit the SIMD kernels' one WebAssembly memory. */
export function denseRowsFit(rows: number, dim: number): boolean {
  return WasmArena.fits((rows + 64) * dim * 4);
}

/** Dense vectors at byte 0 of a WasmArena, and query slots of one vector each. */
export class DenseArena {
  readonly nbytes: number;
  private constructor(
    private readonly arena: WasmArena,
    readonly capacity: number,
    readonly dim: number,
  ) {
    this.nbytes = dim * 4;
  }
  static attach(shared: SharedArena, n: number, dim: number): DenseArena {
    return new DenseArena(WasmArena.attach(shared), n, dim);
  }
  share(): SharedArena {
    return this.arena.share();
  }
  static create(vectors: Float32Array, dim: number): DenseArena | null {
    const adopted = reserved.get(vectors.buffer);
    if (adopted && vectors.byteOffset === 0 && adopted.dim === dim && vectors.length === adopted.capacity * dim) {
      reserved.delete(vectors.buffer);
      return adopted;
    }
    const arena = DenseArena.allocate(vectors.length / dim, dim);
    arena?.f32.set(vectors, 0);
    return arena;
  }

  /** An arena with room for `capacity` vectors at byte 0 (zeroed), or null without SIMD. */
  static allocate(capacity: number, dim: number): DenseArena | null {
    const bytes = capacity * dim * 4;
    const reserve = bytes + 64 * dim * 4;
    if (!WasmArena.fits(reserve)) {
      // Never a silent 10x slowdown on the JS kernels: say what fits and what to do.
      const fit = DenseArena.largestFitting(dim);
      failMemoryLimit(
        `${capacity} vectors of dimension ${dim} take ${(bytes / 2 ** 30).toFixed(2)} GiB; the SIMD kernels' WebAssembly memory holds at most ${fit} of them (${(WasmArena.capacityBytes / 2 ** 30).toFixed(2)} GiB): store them as f16 or sq8 (half or a quarter of the bytes: HnswIndex.buildOnStore(new ScalarQuantizer('f16').encode(data, metric)), --quantizer f16|sq8), use product quantization (ProductQuantizer, --quantizer pq), or { simd: false } for the plain JS kernels (about 10x slower)`,
      );
    }
    const arena = WasmArena.create(reserve);
    if (arena === null) return null;
    // The kernels address item i at i * nbytes: the vectors must start at byte 0.
    if (arena.alloc(bytes) !== 0) return null;
    return new DenseArena(arena, capacity, dim);
  }

  /** Vectors the arena can hold without growing (a living index's spare room). */
  static largestFitting(dim: number): number {
    return Math.floor((WasmArena.capacityBytes - 64 * dim * 4) / (dim * 4));
  }
  get kernels() {
    return this.arena.kernels;
  }
  get f32(): Float32Array {
    return this.arena.f32;
  }
  get idsPtr(): number {
    return this.arena.idsPtr;
  }
  get slotsPtr(): number {
    return this.arena.slotsPtr;
  }
  get outPtr(): number {
    return this.arena.outPtr;
  }
  /** The first n vectors. */
  vectors(n: number): Float32Array {
    return this.arena.f32.subarray(0, n * this.dim);
  }
  stageIds(ids: Uint32Array, count: number): void {
    this.arena.stageIds(ids, count);
  }
  stagePairs(slots: Uint32Array, ids: Uint32Array, count: number): void {
    this.arena.stagePairs(slots, ids, count);
  }
  allocQuery(): number {
    return this.arena.allocSlot(this.nbytes);
  }
  freeQuery(ptr: number): void {
    this.arena.freeSlot(ptr, this.nbytes);
  }
  alloc(bytes: number): number {
    return this.arena.alloc(bytes);
  }
}

import { instantiateKernels, type WasmKernels } from './kernels-wasm.js';

const PAGE = 65536;
/** wasm32 addresses 4 GiB; keep headroom for scratch and query slots. */
const MAX_BYTES = 4 * 1024 * 1024 * 1024 - 64 * 1024 * 1024;

/**
 * A WebAssembly memory that holds n dense vectors (at byte 0) followed by bump-allocated
 * scratch: query slots, id lists and outputs for the SIMD kernels. Views are re-derived when
 * the memory grows (growing detaches the old ArrayBuffer).
 */
export class DenseArena {
  readonly memory: WebAssembly.Memory;
  readonly kernels: WasmKernels;
  readonly nbytes: number;
  private top: number;
  private freeSlots: number[] = [];
  private buffer: ArrayBuffer;
  private f32View: Float32Array;
  private u32View: Uint32Array;
  private scratchCap = 0;
  /** Byte offsets of the shared scratch: ids (u32), slots (u32), out (f32). */
  idsPtr = 0;
  slotsPtr = 0;
  outPtr = 0;

  private constructor(memory: WebAssembly.Memory, kernels: WasmKernels, readonly n: number, readonly dim: number) {
    this.memory = memory;
    this.kernels = kernels;
    this.nbytes = dim * 4;
    this.top = align(n * this.nbytes);
    this.buffer = memory.buffer as ArrayBuffer;
    this.f32View = new Float32Array(this.buffer);
    this.u32View = new Uint32Array(this.buffer);
    this.ensureScratch(1024);
  }

  /** An arena holding a copy of `vectors`, or null without WebAssembly SIMD or if too large. */
  static create(vectors: Float32Array, dim: number): DenseArena | null {
    const n = vectors.length / dim;
    const needed = align(vectors.byteLength) + 1024 * 16 + 64 * dim * 4;
    if (needed > MAX_BYTES) return null;
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial: Math.ceil(needed / PAGE), maximum: MAX_BYTES / PAGE });
    } catch {
      return null;
    }
    const kernels = instantiateKernels(memory);
    if (kernels === null) return null;
    const arena = new DenseArena(memory, kernels, n, dim);
    arena.f32.set(vectors, 0);
    return arena;
  }

  get f32(): Float32Array {
    this.refresh();
    return this.f32View;
  }
  get u32(): Uint32Array {
    this.refresh();
    return this.u32View;
  }

  /** The stored vectors (a view: do not keep it across calls that may grow the memory). */
  vectors(): Float32Array {
    return this.f32.subarray(0, this.n * this.dim);
  }

  /** Makes the shared id/slot/out scratch hold at least `count` entries. */
  ensureScratch(count: number): void {
    if (count <= this.scratchCap) return;
    const cap = Math.max(count, this.scratchCap * 2);
    this.idsPtr = this.alloc(cap * 4);
    this.slotsPtr = this.alloc(cap * 4);
    this.outPtr = this.alloc(cap * 4);
    this.scratchCap = cap;
  }

  /** A region for one query vector; give it back with freeQuery. */
  allocQuery(): number {
    return this.freeSlots.pop() ?? this.alloc(this.nbytes);
  }
  freeQuery(ptr: number): void {
    this.freeSlots.push(ptr);
  }

  /** A contiguous region of `bytes` (never freed: used for long-lived query blocks). */
  alloc(bytes: number): number {
    const ptr = this.top;
    const end = align(ptr + bytes);
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
    this.top = end;
    return ptr;
  }

  private refresh(): void {
    if (this.memory.buffer !== this.buffer) {
      this.buffer = this.memory.buffer as ArrayBuffer;
      this.f32View = new Float32Array(this.buffer);
      this.u32View = new Uint32Array(this.buffer);
    }
  }
}

function align(bytes: number): number {
  return Math.ceil(bytes / 16) * 16;
}

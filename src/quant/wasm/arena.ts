import { instantiateKernels, type WasmKernels } from './kernels-wasm.js';

const PAGE = 65536;
/** wasm32 addresses 4 GiB; keep headroom for scratch and query slots. */
const MAX_BYTES = 4 * 1024 * 1024 * 1024 - 64 * 1024 * 1024;

/**
 * A WebAssembly memory with the SIMD kernels bound to it: a store's data at the bottom, then
 * bump-allocated regions (query vectors, lookup tables, id lists, outputs). Views are
 * re-derived after the memory grows (growing detaches the old ArrayBuffer).
 */
export class WasmArena {
  readonly memory: WebAssembly.Memory;
  readonly kernels: WasmKernels;
  private top = 0;
  private readonly freeSlots = new Map<number, number[]>();
  private buffer: ArrayBuffer;
  private f32View: Float32Array;
  private u32View: Uint32Array;
  private u8View: Uint8Array;
  private scratchCap = 0;
  /** Byte offsets of the shared scratch: ids (u32), slots (u32), out (f32). */
  idsPtr = 0;
  slotsPtr = 0;
  outPtr = 0;

  private constructor(memory: WebAssembly.Memory, kernels: WasmKernels) {
    this.memory = memory;
    this.kernels = kernels;
    this.buffer = memory.buffer as ArrayBuffer;
    this.f32View = new Float32Array(this.buffer);
    this.u32View = new Uint32Array(this.buffer);
    this.u8View = new Uint8Array(this.buffer);
  }

  /**
   * An arena with room for `reserveBytes` of data plus scratch, or null where WebAssembly SIMD
   * is unavailable or the data would not fit in 4 GiB (callers then use their JS kernels).
   */
  static create(reserveBytes: number): WasmArena | null {
    const needed = align(reserveBytes) + 256 * 1024;
    if (needed > MAX_BYTES) return null;
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial: Math.ceil(needed / PAGE), maximum: MAX_BYTES / PAGE });
    } catch {
      return null;
    }
    const kernels = instantiateKernels(memory);
    return kernels === null ? null : new WasmArena(memory, kernels);
  }

  get f32(): Float32Array {
    this.refresh();
    return this.f32View;
  }
  get u32(): Uint32Array {
    this.refresh();
    return this.u32View;
  }
  get u8(): Uint8Array {
    this.refresh();
    return this.u8View;
  }

  /** Makes the shared id/slot/out scratch hold at least `count` entries. */
  ensureScratch(count: number): void {
    if (count <= this.scratchCap) return;
    const cap = Math.max(count, this.scratchCap * 2, 1024);
    this.idsPtr = this.alloc(cap * 4);
    this.slotsPtr = this.alloc(cap * 4);
    this.outPtr = this.alloc(cap * 4);
    this.scratchCap = cap;
  }

  /** A region of `bytes` for a short-lived object (a query, a table); give it back with freeSlot. */
  allocSlot(bytes: number): number {
    return this.freeSlots.get(bytes)?.pop() ?? this.alloc(bytes);
  }
  freeSlot(ptr: number, bytes: number): void {
    let list = this.freeSlots.get(bytes);
    if (!list) this.freeSlots.set(bytes, (list = []));
    list.push(ptr);
  }

  /** A region of `bytes`, 16-byte aligned, never freed (data, long-lived blocks). */
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
      this.u8View = new Uint8Array(this.buffer);
    }
  }
}

function align(bytes: number): number {
  return Math.ceil(bytes / 16) * 16;
}

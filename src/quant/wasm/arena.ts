import { fail, WebannoloError } from '../../errors.js';
import { canShareMemory } from '../../util/shared-memory.js';
import { MAX_PAGES } from './encoder.js';
import { instantiateKernels, type WasmKernels } from './kernels-wasm.js';

const PAGE = 65536;
const MAX_BYTES = MAX_PAGES * PAGE;

/** What a worker thread needs to use an arena made elsewhere: the memory and its allocator. */
export interface SharedArena {
  readonly memory: WebAssembly.Memory;
  /** One i32: the allocator's top, shared so that every thread allocates from one counter. */
  readonly top: Int32Array;
}

/**
 * A WebAssembly memory with the SIMD kernels bound to it: a store's data at the bottom, then
 * bump-allocated regions (query vectors, lookup tables, id lists, outputs). Views are
 * re-derived after the memory grows (growing detaches the old ArrayBuffer).
 *
 * Where threads can share memory the arena is a shared WebAssembly.Memory: worker threads
 * attach to it (share/attach) and read the one copy of the data; each thread keeps its own
 * scratch regions, allocated from the shared top with an atomic add.
 */
/**
 * Data that does not fit the SIMD kernels' one WebAssembly memory (INVALID_ARGUMENT, with what
 * fits and what to do). Its own class so that a file loader can tell "too large for this
 * platform" from "malformed": a valid file over the limit is not a corrupt one.
 */
export class MemoryLimitError extends WebannoloError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/** Throws MemoryLimitError. */
export function failMemoryLimit(message: string): never {
  throw new MemoryLimitError(message);
}

export class WasmArena {
  readonly memory: WebAssembly.Memory;
  readonly kernels: WasmKernels;
  private readonly top: Int32Array;
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

  private constructor(memory: WebAssembly.Memory, kernels: WasmKernels, top: Int32Array) {
    this.memory = memory;
    this.kernels = kernels;
    this.top = top;
    this.buffer = memory.buffer as ArrayBuffer;
    this.f32View = new Float32Array(this.buffer);
    this.u32View = new Uint32Array(this.buffer);
    this.u8View = new Uint8Array(this.buffer);
  }

  /**
   * An arena with room for `reserveBytes` of data plus scratch, or null where WebAssembly SIMD
   * is unavailable or the data would not fit in 4 GiB. Every store checks `fits` first and
   * fails with a one-line error saying what fits instead: null then only means no SIMD (or
   * a memory the platform refused), where the stores use their JS kernels.
   */
  static create(reserveBytes: number): WasmArena | null {
    const needed = align(reserveBytes) + 256 * 1024;
    if (needed > WasmArena.maxBytes) return null;
    const shared = canShareMemory();
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial: Math.ceil(needed / PAGE), maximum: MAX_PAGES, shared });
    } catch {
      return null;
    }
    const kernels = instantiateKernels(memory, shared);
    const top = new Int32Array(shared ? new SharedArrayBuffer(4) : new ArrayBuffer(4));
    return kernels === null ? null : new WasmArena(memory, kernels, top);
  }

  /**
   * The largest arena: one 32-bit WebAssembly memory. Every store's size check (fits,
   * capacityBytes) reads it here, so tests lower it for a moment, and restore it, to reach
   * the limit's errors with small data (a plain static: no option or environment variable
   * reaches users for it). Allocation itself is bounded by the real 4 GiB.
   */
  static maxBytes = MAX_BYTES;

  /** Whether `reserveBytes` of data fit one arena (less room for scratch). */
  static fits(reserveBytes: number): boolean {
    return align(reserveBytes) + 256 * 1024 <= WasmArena.maxBytes;
  }

  /** Bytes of data one arena can hold at most. */
  static get capacityBytes(): number {
    return WasmArena.maxBytes - 256 * 1024;
  }

  /** The arena for worker threads; fails where its memory is not shared. */
  share(): SharedArena {
    if (typeof SharedArrayBuffer !== 'function' || !(this.memory.buffer instanceof SharedArrayBuffer))
      fail('INVALID_ARGUMENT', "this store's WebAssembly memory is not shared: it cannot be used by worker threads");
    return { memory: this.memory, top: this.top };
  }

  /** An arena over memory another thread shared (same data, this thread's own scratch). */
  static attach(shared: SharedArena): WasmArena {
    const kernels = instantiateKernels(shared.memory, true);
    if (kernels === null) fail('INVALID_ARGUMENT', 'WebAssembly SIMD is not available in this worker');
    return new WasmArena(shared.memory, kernels, shared.top);
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

  /** Puts one id at the start of the id scratch: what a gather kernel reads for a single distance. */
  stageId(id: number): void {
    this.ensureScratch(1);
    this.u32[this.idsPtr >>> 2] = id;
  }

  /** Copies ids[0, count) into the id scratch (grown as needed): what the gather kernels read. */
  stageIds(ids: Uint32Array, count: number): void {
    this.ensureScratch(count);
    const u32 = this.u32;
    const at = this.idsPtr >>> 2;
    // A loop, not set(subarray): these lists are short and this is the hot path.
    for (let i = 0; i < count; i++) u32[at + i] = ids[i]!;
  }

  /** Copies slots and ids [0, count) into their scratch: what the pairs kernels read. */
  stagePairs(slots: Uint32Array, ids: Uint32Array, count: number): void {
    this.ensureScratch(count);
    const u32 = this.u32;
    u32.set(slots.subarray(0, count), this.slotsPtr >>> 2);
    u32.set(ids.subarray(0, count), this.idsPtr >>> 2);
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
    // Atomic: worker threads allocate their scratch from the same memory. The bound is checked
    // before the top moves (compare-and-swap), so a refused request leaves the arena usable and
    // the i32 cell (read as unsigned: offsets stay below 4 GiB) can never wrap.
    const size = align(bytes);
    let ptr: number;
    let end: number;
    for (;;) {
      const seen = Atomics.load(this.top, 0);
      ptr = seen >>> 0;
      end = ptr + size;
      if (end > MAX_BYTES)
        fail(
          'INVALID_ARGUMENT',
          `the WebAssembly memory is full: ${bytes} more bytes do not fit its ${MAX_BYTES} (${(MAX_BYTES / 2 ** 30).toFixed(2)} GiB)`,
        );
      if (Atomics.compareExchange(this.top, 0, seen, end | 0) === seen) break;
    }
    // Another thread may grow it at the same time: grow until it is large enough.
    for (let have = this.memory.buffer.byteLength; end > have; have = this.memory.buffer.byteLength) {
      this.memory.grow(Math.ceil((end - have) / PAGE));
    }
    this.refresh(true);
    return ptr;
  }

  /**
   * Re-derives the views when they may be stale. Reading memory.buffer costs more than a
   * distance on short vectors, so the hot getters only check whether the old buffer was
   * detached (a non-shared memory that grew); a shared memory's views stay valid, and the
   * regions this thread may touch beyond them are its own allocations, after which alloc()
   * refreshes.
   */
  private refresh(force = false): void {
    if (!force && this.buffer.byteLength !== 0) return;
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

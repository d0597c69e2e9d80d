/**
 * Visited set for graph search over ids [0, n): an array of epochs, reset in O(1) by bumping
 * the epoch (a full clear happens only when the 16-bit epoch wraps).
 */
export class EpochVisited {
  private marks: Uint16Array;
  private epoch = 1;
  constructor(n: number) {
    this.marks = new Uint16Array(n);
  }
  reset(n: number): void {
    if (n > this.marks.length) {
      this.marks = new Uint16Array(Math.max(n, this.marks.length * 2));
      this.epoch = 1;
      return;
    }
    this.epoch++;
    if (this.epoch === 65536) {
      this.marks.fill(0);
      this.epoch = 1;
    }
  }
  /** Marks `id`; returns true if it was already marked. */
  testAndSet(id: number): boolean {
    if (this.marks[id] === this.epoch) return true;
    this.marks[id] = this.epoch;
    return false;
  }
}

/**
 * Visited set as a bitset that remembers the words it set, for one search at a time over a
 * large id range: n / 8 bytes (125 KB for a million ids) stays in the L2 cache where a 16-bit
 * epoch array (2 MB) does not, and a reset zeroes only the words the last search touched.
 */
export class TrackedBitVisited {
  private bits: Int32Array;
  /** Indices of the words of `bits` that are not zero. */
  private dirty = new Int32Array(1024);
  private dirtyCount = 0;
  constructor(n: number) {
    this.bits = new Int32Array((n + 31) >>> 5);
  }
  reset(n: number): void {
    const { bits, dirty } = this;
    for (let i = 0; i < this.dirtyCount; i++) bits[dirty[i]!] = 0;
    this.dirtyCount = 0;
    if (n > bits.length * 32) this.bits = new Int32Array(Math.max((n + 31) >>> 5, bits.length * 2));
  }
  testAndSet(id: number): boolean {
    const w = id >>> 5;
    const bit = 1 << (id & 31);
    const v = this.bits[w]!;
    if ((v & bit) !== 0) return true;
    if (v === 0) {
      if (this.dirtyCount === this.dirty.length) {
        const grown = new Int32Array(this.dirty.length * 2);
        grown.set(this.dirty);
        this.dirty = grown;
      }
      this.dirty[this.dirtyCount++] = w;
    }
    this.bits[w] = v | bit;
    return false;
  }
}

/** What one search at a time marks its visited ids in. */
export type SearchVisited = EpochVisited | TrackedBitVisited;

/**
 * Ids from which the tracked bitset wins: its bookkeeping costs a little while the epoch array
 * is cache-resident, and pays once the epoch array (2 bytes an id) outgrows the L2 cache. The
 * threshold sits between the sizes where it measured a loss and a gain (bench/README.md, "Figures behind tuned constants").
 */
export const BITSET_VISITED_FROM = 1 << 17;

/** The visited set for searches over `n` ids. */
export function visitedFor(n: number): SearchVisited {
  return n >= BITSET_VISITED_FROM ? new TrackedBitVisited(n) : new EpochVisited(n);
}

/**
 * Visited set as an open-addressing hash set: used by the batch controller, where B queries
 * each need their own set and B x n epoch arrays would cost too much memory.
 */
export class HashVisited {
  private table: Int32Array;
  private mask: number;
  private count = 0;
  constructor(capacity = 1024) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.table = new Int32Array(size).fill(-1);
    this.mask = size - 1;
  }
  clear(): void {
    if (this.count === 0) return;
    this.table.fill(-1);
    this.count = 0;
  }
  testAndSet(id: number): boolean {
    if ((this.count + 1) * 2 > this.table.length) this.rehash();
    const table = this.table;
    let slot = Math.imul(id, 0x9e3779b1) & this.mask;
    for (;;) {
      const v = table[slot]!;
      if (v === id) return true;
      if (v === -1) {
        table[slot] = id;
        this.count++;
        return false;
      }
      slot = (slot + 1) & this.mask;
    }
  }
  private rehash(): void {
    const old = this.table;
    this.table = new Int32Array(old.length * 2).fill(-1);
    this.mask = this.table.length - 1;
    this.count = 0;
    for (let i = 0; i < old.length; i++) {
      const v = old[i]!;
      if (v !== -1) this.testAndSet(v);
    }
  }
}

/**
 * Visited set as a bitset over ids [0, n): one bit per item, so a batch of B queries costs
 * B x n / 8 bytes, and clearing is a memset of n / 8 bytes (cheaper than hashing every test).
 */
export class BitVisited {
  private readonly bits: Uint32Array;
  constructor(n: number) {
    this.bits = new Uint32Array(Math.ceil(n / 32));
  }
  clear(): void {
    this.bits.fill(0);
  }
  testAndSet(id: number): boolean {
    const w = id >>> 5;
    const mask = 1 << (id & 31);
    const v = this.bits[w]!;
    if ((v & mask) !== 0) return true;
    this.bits[w] = v | mask;
    return false;
  }
}

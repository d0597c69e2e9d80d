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

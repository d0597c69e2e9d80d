import { fail } from '../../errors.js';
import { sharedArray } from '../../util/shared-memory.js';

/**
 * The removed slots of a living index: a bitset over slots. A removed item is unlinked
 * from the graph at once (never returned again); its slot waits here for the next add to
 * reuse it (hnswlib's replaceDeleted). Immutable: every change makes a copy, so a search that
 * is running keeps the set it started with.
 */
export class Tombstones {
  private constructor(
    /** Bit i set when slot i is removed (on shared memory, for worker threads). */
    readonly bits: Uint32Array,
    /** Slots covered (the index's capacity). */
    readonly capacity: number,
    /** Removed slots. */
    readonly count: number,
  ) {}

  /** No slot removed, among `capacity`. */
  static none(capacity: number): Tombstones {
    return new Tombstones(sharedArray(Uint32Array, words(capacity)), capacity, 0);
  }

  /** From a saved bitset (checked against the capacity). */
  static fromBits(bits: Uint32Array, capacity: number): Tombstones {
    if (bits.length !== words(capacity)) fail('CORRUPT_FILE', 'the removed-items section does not match the item count');
    const copy = sharedArray(Uint32Array, bits.length);
    copy.set(bits);
    let count = 0;
    for (let id = 0; id < capacity; id++) if (isSet(copy, id)) count++;
    return new Tombstones(copy, capacity, count);
  }

  has(id: number): boolean {
    return id < this.capacity && isSet(this.bits, id);
  }

  /** Removed slots, ascending: where adds go first. */
  freeSlots(): number[] {
    const out: number[] = [];
    if (this.count === 0) return out;
    for (let id = 0; id < this.capacity; id++) if (isSet(this.bits, id)) out.push(id);
    return out;
  }

  /** A copy over `capacity` slots with `removed` set and `reused` cleared. */
  edited(capacity: number, removed: Iterable<number>, reused: Iterable<number>): Tombstones {
    const bits = sharedArray(Uint32Array, words(capacity));
    bits.set(this.bits.subarray(0, Math.min(this.bits.length, bits.length)));
    let count = this.count;
    for (const id of removed) {
      if (!isSet(bits, id)) count++;
      bits[id >>> 5]! |= 1 << (id & 31);
    }
    for (const id of reused) {
      if (isSet(bits, id)) count--;
      bits[id >>> 5]! &= ~(1 << (id & 31));
    }
    return new Tombstones(bits, capacity, count);
  }

  /** Clears the removed slots' bits in `allowed` (in place); returns how many bits it cleared. */
  maskOut(allowed: Uint32Array): number {
    let cleared = 0;
    for (let w = 0; w < allowed.length && w < this.bits.length; w++) {
      const both = allowed[w]! & this.bits[w]!;
      if (both !== 0) {
        cleared += popcount32(both);
        allowed[w] = allowed[w]! & ~both;
      }
    }
    return cleared;
  }
}

function words(n: number): number {
  return (n + 31) >>> 5;
}

function isSet(bits: Uint32Array, id: number): boolean {
  return (bits[id >>> 5]! & (1 << (id & 31))) !== 0;
}

export function popcount32(w: number): number {
  w -= (w >>> 1) & 0x55555555;
  w = (w & 0x33333333) + ((w >>> 2) & 0x33333333);
  return (((w + (w >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

import { fail } from '../../errors.js';
import { sharedArray } from '../../util/shared-memory.js';

/**
 * Where each item lives when an index keeps its items in another order than their ids: the
 * locality layout (see hnsw/locality-layout.ts) stores graph neighbours next to each other, so an
 * item's id (its position in the data it was built from, or the id an add gave it) and its
 * slot (its row in the store and node in the graph) differ. Everything inside the index
 * (graph, stores, keys, labels, removed set, worker threads, GPU copies) works on slots;
 * ids cross at the public boundary only: results, filters, has / idOf / remove. Immutable.
 */
export class ItemOrder {
  /**
   * `items[slot]`: the id of the item in each slot (a permutation of 0..size-1), and
   * `slots[id]` the way back; both may be longer than size (room to grow in place).
   */
  private constructor(
    private readonly items: Uint32Array,
    private readonly slots: Uint32Array,
    /** Items (slots) it orders. */
    readonly size: number,
  ) {}

  /** The order with item `items[s]` in slot s; fails unless `items` is a permutation of 0..n-1. */
  static from(items: Uint32Array): ItemOrder {
    const n = items.length;
    const slots = new Uint32Array(n).fill(0xffffffff);
    for (let s = 0; s < n; s++) {
      const id = items[s]!;
      if (id >= n || slots[id] !== 0xffffffff)
        fail('CORRUPT_FILE', `the item order is not a permutation of 0..${n - 1} (item ${id} at slot ${s})`);
      slots[id] = s;
    }
    return new ItemOrder(items, slots, n);
  }

  /** Whether every item sits in the slot of its id. */
  isIdentity(): boolean {
    for (let s = 0; s < this.size; s++) if (this.items[s] !== s) return false;
    return true;
  }

  /** The item ids by slot (for saving; a view, not a copy). */
  get itemIds(): Uint32Array {
    return this.items.subarray(0, this.size);
  }

  /** The id of the item in `slot`. */
  idOf(slot: number): number {
    return this.items[slot]!;
  }

  /** The slot of item `id`, or -1 outside 0..size-1. */
  slotOf(id: number): number {
    return Number.isInteger(id) && id >= 0 && id < this.size ? this.slots[id]! : -1;
  }

  /** Sorts `slots` in place by the ids of their items (renumbering and reuse go in id order). */
  sortByIds<T extends number[] | Uint32Array>(slots: T): T {
    const items = this.items;
    return slots.sort((a: number, b: number) => items[a]! - items[b]!) as T;
  }

  /** Result slots as item ids (a new array; -1, a missing result, stays). */
  idsOf(slots: Int32Array): Int32Array {
    const out = new Int32Array(slots.length);
    for (let i = 0; i < slots.length; i++) out[i] = slots[i]! < 0 ? -1 : this.items[slots[i]!]!;
    return out;
  }

  /** A bitset over item ids as one over slots (on shared memory, for worker threads). */
  slotBits(idBits: Uint32Array): Uint32Array {
    const out = sharedArray(Uint32Array, idBits.length);
    const items = this.items;
    for (let s = 0; s < this.size; s++) {
      const id = items[s]!;
      if ((idBits[id >>> 5]! & (1 << (id & 31))) !== 0) out[s >>> 5]! |= 1 << (s & 31);
    }
    return out;
  }

  /**
   * The order after the slots were rearranged: new slot s holds what old slot `oldSlots[s]`
   * held. With no previous order (null) the old slots were the ids.
   */
  static after(previous: ItemOrder | null, oldSlots: Uint32Array): ItemOrder {
    const items = new Uint32Array(oldSlots.length);
    for (let s = 0; s < items.length; s++) items[s] = previous === null ? oldSlots[s]! : previous.items[oldSlots[s]!]!;
    return ItemOrder.from(items);
  }

  /**
   * This order over `capacity` slots: an index that grows appends slots, and slot s >= size
   * takes id s (ids stay a permutation). With `inPlace` (nothing else uses this order any
   * more) it writes into its spare room when there is enough, else it copies with room to
   * grow by half again, as the graph does. An order never shrinks (compact renumbers).
   */
  grown(capacity: number, inPlace: boolean): ItemOrder {
    if (capacity === this.size) return this;
    if (capacity < this.size) fail('INVALID_ARGUMENT', `an item order cannot shrink (${this.size} -> ${capacity} slots)`);
    let { items, slots } = this;
    if (!inPlace || capacity > items.length) {
      const room = Math.ceil(capacity * 1.5);
      items = new Uint32Array(room);
      slots = new Uint32Array(room);
      items.set(this.items.subarray(0, this.size));
      slots.set(this.slots.subarray(0, this.size));
    }
    for (let s = this.size; s < capacity; s++) items[s] = slots[s] = s;
    return new ItemOrder(items, slots, capacity);
  }
}

import { checkInteger, fail } from '../../errors.js';
import { sharedArray } from '../../util/shared-memory.js';

/**
 * Integer labels of an index's items (none, one or several each). Stored as CSR (item i has
 * labels[indptr[i] .. indptr[i+1])) plus the rows changed since (a living index edits a few
 * rows at a time; the CSR is rebuilt only when saved or when the changes pile up). Keeps each
 * label's item count (a filter's selectivity is known before searching) and each label's
 * bitset over slots, built on first use and then kept up to date by edits.
 */
export class ItemLabels {
  private readonly counts = new Map<number, number>();
  private readonly bitsets = new Map<number, Uint32Array>();
  /** Rows changed since the CSR was built. */
  private readonly changed = new Map<number, Uint32Array>();
  private csr: { indptr: Uint32Array; labels: Uint32Array };
  private n: number;

  constructor(indptr: Uint32Array, labels: Uint32Array) {
    const n = indptr.length - 1;
    if (n < 0 || indptr[0] !== 0 || indptr[n] !== labels.length) fail('CORRUPT_FILE', 'label lists are inconsistent');
    // Row bounds first: one huge pointer must not start a count over billions of labels.
    for (let i = 0; i < n; i++) {
      if (indptr[i + 1]! < indptr[i]!) fail('CORRUPT_FILE', `label lists are inconsistent at item ${i}`);
      // Each row sorted and without repeats, as rows are made (checkRow): counts stay true.
      for (let j = indptr[i]! + 1; j < indptr[i + 1]!; j++)
        if (labels[j]! <= labels[j - 1]!) fail('CORRUPT_FILE', `the labels of item ${i} are not sorted and unique`);
    }
    for (let j = 0; j < labels.length; j++) this.counts.set(labels[j]!, (this.counts.get(labels[j]!) ?? 0) + 1);
    this.csr = { indptr, labels };
    this.n = n;
  }

  /** Labels per item: a label, a list of labels, or null / [] for none. */
  static from(lists: readonly (number | readonly number[] | null | undefined)[], n: number): ItemLabels {
    if (lists.length !== n) fail('DIMENSION_MISMATCH', `${lists.length} label rows for ${n} items: give one row per item`);
    const indptr = new Uint32Array(n + 1);
    const flat: number[] = [];
    for (let i = 0; i < n; i++) {
      flat.push(...checkRow(lists[i], `item ${i}`));
      indptr[i + 1] = flat.length;
    }
    return new ItemLabels(indptr, Uint32Array.from(flat));
  }

  get size(): number {
    return this.n;
  }

  /** CSR row pointers of every item's labels (for saving). */
  get indptr(): Uint32Array {
    return this.compacted().indptr;
  }

  /** Every item's labels, concatenated in id order (for saving). */
  get labels(): Uint32Array {
    return this.compacted().labels;
  }

  /** Labels of item `id`. */
  of(id: number): Uint32Array {
    const row = this.changed.get(id);
    if (row) return row;
    const { indptr, labels } = this.csr;
    return id + 1 < indptr.length ? labels.subarray(indptr[id]!, indptr[id + 1]!) : EMPTY;
  }

  /** Items carrying `label`. */
  count(label: number): number {
    return this.counts.get(label) ?? 0;
  }

  /** Bit i set when item i carries `label` (cached; on shared memory for worker threads). */
  bitset(label: number): Uint32Array {
    let bits = this.bitsets.get(label);
    if (!bits) {
      bits = sharedArray(Uint32Array, (this.n + 31) >>> 5);
      for (let i = 0; i < this.n; i++) if (this.of(i).includes(label)) bits[i >>> 5]! |= 1 << (i & 31);
      this.bitsets.set(label, bits);
    }
    return bits;
  }

  /**
   * Labels over `capacity` slots where slot `slots[i]` carries `rows[i]` (a removed slot gets
   * none: it must never pass a label filter). A copy, or with `inPlace` (nothing else uses
   * these labels any more) this object, changed at the cost of the changed rows.
   */
  edited(capacity: number, slots: readonly number[], rows: readonly (readonly number[])[], inPlace = false): ItemLabels {
    const checked = rows.map((r, i) => Uint32Array.from(checkRow(r, `item ${slots[i]}`)));
    if (!inPlace) {
      const lists: (readonly number[])[] = [];
      for (let i = 0; i < capacity; i++) lists.push(i < this.n ? Array.from(this.of(i)) : []);
      for (let i = 0; i < slots.length; i++) lists[slots[i]!] = Array.from(checked[i]!);
      return ItemLabels.from(lists, capacity);
    }
    if (capacity > this.n) {
      const words = (capacity + 31) >>> 5;
      for (const [label, bits] of this.bitsets) {
        if (bits.length === words) continue;
        const grown = sharedArray(Uint32Array, words);
        grown.set(bits);
        this.bitsets.set(label, grown);
      }
      this.n = capacity;
    }
    for (let i = 0; i < slots.length; i++) {
      const id = slots[i]!;
      for (const l of this.of(id)) this.counts.set(l, this.counts.get(l)! - 1);
      for (const bits of this.bitsets.values()) bits[id >>> 5]! &= ~(1 << (id & 31));
      this.changed.set(id, checked[i]!);
      for (const l of checked[i]!) {
        this.counts.set(l, (this.counts.get(l) ?? 0) + 1);
        const bits = this.bitsets.get(l);
        if (bits) bits[id >>> 5]! |= 1 << (id & 31);
      }
    }
    if (this.changed.size > 4096 && this.changed.size > this.n / 8) this.compacted();
    return this;
  }

  /** The CSR with every changed row folded in. */
  private compacted(): { indptr: Uint32Array; labels: Uint32Array } {
    if (this.changed.size === 0 && this.csr.indptr.length === this.n + 1) return this.csr;
    const indptr = new Uint32Array(this.n + 1);
    for (let i = 0; i < this.n; i++) indptr[i + 1] = indptr[i]! + this.of(i).length;
    const labels = new Uint32Array(indptr[this.n]!);
    for (let i = 0; i < this.n; i++) labels.set(this.of(i), indptr[i]!);
    this.csr = { indptr, labels };
    this.changed.clear();
    return this.csr;
  }
}

const EMPTY = new Uint32Array(0);

/** One item's labels, checked, unique and sorted. */
function checkRow(row: number | readonly number[] | null | undefined, what: string): number[] {
  const items = row === null || row === undefined ? [] : typeof row === 'number' ? [row] : row;
  const unique = new Set<number>();
  for (const l of items) {
    try {
      checkInteger('label', l, 0, 0xffffffff);
    } catch {
      fail('INVALID_ARGUMENT', `${what}: a label must be an integer in [0, 2^32 - 1] (labels are unsigned 32-bit), got ${String(l)}`);
    }
    unique.add(l);
  }
  return [...unique].sort((a, b) => a - b);
}

import { checkInteger, fail } from '../errors.js';
import { sharedArray } from '../util/shared-memory.js';

/**
 * Integer labels of an index's items (none, one or several each), in CSR form: item i has
 * labels[indptr[i] .. indptr[i+1]). Keeps each label's item count (a filter's selectivity is
 * known before searching) and builds each label's bitset over internal ids on first use.
 */
export class ItemLabels {
  private readonly counts = new Map<number, number>();
  private readonly bitsets = new Map<number, Uint32Array>();

  constructor(readonly indptr: Uint32Array, readonly labels: Uint32Array) {
    const n = indptr.length - 1;
    if (n < 0 || indptr[0] !== 0 || indptr[n] !== labels.length) fail('CORRUPT_FILE', 'label lists are inconsistent');
    for (let i = 0; i < n; i++) {
      if (indptr[i + 1]! < indptr[i]!) fail('CORRUPT_FILE', 'label lists are inconsistent');
      for (let j = indptr[i]!; j < indptr[i + 1]!; j++) this.counts.set(labels[j]!, (this.counts.get(labels[j]!) ?? 0) + 1);
    }
  }

  /** Labels per item: a label, a list of labels, or null / [] for none. */
  static from(lists: readonly (number | readonly number[] | null | undefined)[], n: number): ItemLabels {
    if (lists.length !== n) fail('DIMENSION_MISMATCH', `${lists.length} label rows for ${n} items: give one row per item`);
    const indptr = new Uint32Array(n + 1);
    const flat: number[] = [];
    for (let i = 0; i < n; i++) {
      const row = lists[i];
      const items = row === null || row === undefined ? [] : typeof row === 'number' ? [row] : row;
      const unique = new Set<number>();
      for (const l of items) {
        try {
          checkInteger('label', l, 0, 0xffffffff);
        } catch (e) {
          (e as Error).message = `item ${i}: ${(e as Error).message}`;
          throw e;
        }
        unique.add(l);
      }
      flat.push(...[...unique].sort((a, b) => a - b));
      indptr[i + 1] = flat.length;
    }
    return new ItemLabels(indptr, Uint32Array.from(flat));
  }

  get size(): number {
    return this.indptr.length - 1;
  }

  /** Labels of item `id`. */
  of(id: number): Uint32Array {
    return this.labels.subarray(this.indptr[id]!, this.indptr[id + 1]!);
  }

  /**
   * A copy over `capacity` slots where slot `slots[i]` carries `rows[i]` (removed slots get
   * none; their items must never pass a label filter). Rows are checked like `from`'s.
   */
  edited(capacity: number, slots: readonly number[], rows: readonly (readonly number[])[]): ItemLabels {
    const lists: (readonly number[])[] = [];
    for (let i = 0; i < capacity; i++) lists.push(i < this.size ? Array.from(this.of(i)) : []);
    for (let i = 0; i < slots.length; i++) lists[slots[i]!] = rows[i]!;
    return ItemLabels.from(lists, capacity);
  }

  /** Items carrying `label`. */
  count(label: number): number {
    return this.counts.get(label) ?? 0;
  }

  /** Bit i set when item i carries `label` (cached; on shared memory for worker threads). */
  bitset(label: number): Uint32Array {
    let bits = this.bitsets.get(label);
    if (!bits) {
      bits = sharedArray(Uint32Array, (this.size + 31) >>> 5);
      for (let i = 0; i < this.size; i++) {
        for (let j = this.indptr[i]!; j < this.indptr[i + 1]!; j++) {
          if (this.labels[j] === label) {
            bits[i >>> 5]! |= 1 << (i & 31);
            break;
          }
        }
      }
      this.bitsets.set(label, bits);
    }
    return bits;
  }
}

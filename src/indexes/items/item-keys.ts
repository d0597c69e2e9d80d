import { fail } from '../../errors.js';

/** A user's key for an item: a non-negative integer up to 2^53 - 1, or a string. */
export type ItemKey = number | string;

/**
 * User keys of an index's items, by slot, and the way back. All keys are numbers or
 * all are strings; each is unique. A removed slot has no key (null). Without keys an index
 * answers with ids. Immutable: `edited` makes a changed copy, so a running search
 * keeps the keys it started with.
 */
export class ItemKeys {
  private readonly byKey = new Map<ItemKey, number>();

  private constructor(
    private readonly keys: (ItemKey | null)[],
    readonly kind: 'number' | 'string',
    byKey?: Map<ItemKey, number>,
  ) {
    if (byKey) this.byKey = byKey;
    else for (let id = 0; id < keys.length; id++) if (keys[id] !== null) this.byKey.set(keys[id]!, id);
  }

  /**
   * Checks keys (one per item, `n` items): their type, range and uniqueness. `holes` (removed
   * slots, from a saved index) get no key.
   */
  static from(
    keys: readonly ItemKey[],
    n: number,
    holes?: (id: number) => boolean,
    kind: 'number' | 'string' = typeof keys[0] === 'string' ? 'string' : 'number',
  ): ItemKeys {
    if (keys.length !== n) fail('DIMENSION_MISMATCH', `${keys.length} keys for ${n} items: give one key per item`);
    const list: (ItemKey | null)[] = [...keys];
    if (holes) for (let i = 0; i < n; i++) if (holes(i)) list[i] = null;
    checkNewKeys(
      list.filter((k): k is ItemKey => k !== null),
      kind,
      null,
    );
    return new ItemKeys(list, kind);
  }

  /** Slots covered (live or not). */
  get size(): number {
    return this.keys.length;
  }

  /** The key of slot `id` (null for a removed slot). */
  keyOf(id: number): ItemKey | null {
    return this.keys[id] ?? null;
  }

  /** The slot of `key`, or -1. */
  idOf(key: ItemKey): number {
    return this.byKey.get(key) ?? -1;
  }

  /** Keys of result ids (row-major; -1, a missing result, gives null). */
  keysOf(ids: Int32Array): (ItemKey | null)[] {
    return Array.from(ids, (id) => (id < 0 ? null : (this.keys[id] ?? null)));
  }

  /** All keys, by slot (a copy; null for removed slots). */
  toArray(): (ItemKey | null)[] {
    return [...this.keys];
  }

  /**
   * Keys over `capacity` slots with `removed` slots cleared and key `keys[i]` at `slots[i]`:
   * a copy, or with `inPlace` (nothing else uses these keys any more) a new object over this
   * one's changed arrays, at the cost of the change alone.
   */
  edited(capacity: number, removed: readonly number[], slots: readonly number[], keys: readonly ItemKey[], inPlace = false): ItemKeys {
    const list = inPlace ? this.keys : this.keys.slice(0, capacity);
    const byKey = inPlace ? this.byKey : undefined;
    list.length = Math.min(list.length, capacity);
    while (list.length < capacity) list.push(null);
    for (const id of removed) {
      if (byKey && list[id] !== null) byKey.delete(list[id]!);
      list[id] = null;
    }
    for (let i = 0; i < slots.length; i++) {
      list[slots[i]!] = keys[i]!;
      byKey?.set(keys[i]!, slots[i]!);
    }
    return new ItemKeys(list, this.kind, byKey);
  }
}

/**
 * Checks keys about to enter an index: their type (`kind`), range, and uniqueness among
 * themselves and against `existing` (unless those slots are being freed in the same change).
 */
export function checkNewKeys(
  keys: readonly ItemKey[],
  kind: 'number' | 'string',
  existing: ItemKeys | null,
  freed?: ReadonlySet<number>,
): void {
  const seen = new Map<ItemKey, number>();
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (kind === 'number' ? !(typeof k === 'number' && Number.isSafeInteger(k) && k >= 0) : typeof k !== 'string') {
      fail(
        'INVALID_ARGUMENT',
        `key ${i} (${JSON.stringify(k)}): keys must all be ${kind === 'number' ? 'non-negative integers up to 2^53 - 1' : 'strings'}${existing ? ", like the index's" : ' (or all strings)'}`,
      );
    }
    const before = seen.get(k);
    if (before !== undefined)
      fail('INVALID_ARGUMENT', `key ${JSON.stringify(k)} appears twice (items ${before} and ${i}): keys must be unique`);
    seen.set(k, i);
    if (existing) {
      const id = existing.idOf(k);
      if (id >= 0 && !freed?.has(id))
        fail(
          'INVALID_ARGUMENT',
          `key ${JSON.stringify(k)} is already in the index: remove it first, use update(), or add with { upsert: true }`,
        );
    }
  }
}

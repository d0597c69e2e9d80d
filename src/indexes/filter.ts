import { fail } from '../errors.js';
import { sharedArray } from '../util/shared-memory.js';
import type { ItemKey, ItemKeys } from './items/item-keys.js';
import type { ItemLabels } from './items/item-labels.js';
import type { ItemOrder } from './items/item-order.js';
import { popcount32, type Tombstones } from './items/tombstones.js';

/**
 * What a filtered search may return:
 * - `{ label: 7 }`: items carrying label 7;
 * - `{ labels: [3, 7] }`: items carrying any of them;
 * - `{ where: (key) => boolean }`: items whose key (or id, without keys) passes the predicate;
 * - `{ bitset }`: items whose bit is set (bit i of word i >> 5 for item id i, as results give ids).
 */
export type SearchFilter =
  | {
      /** Items carrying this label. */
      readonly label: number;
    }
  | {
      /** Items carrying any of these labels. */
      readonly labels: readonly number[];
    }
  | {
      /** True for the keys (ids, without keys) a result may have. */
      readonly where: (key: ItemKey) => boolean;
    }
  | {
      /** Items whose bit is set: bit i of word i >> 5 for item id i. */
      readonly bitset: Uint32Array;
    };

/** A filter resolved to the items it allows: a bitset over slots and its population. */
export interface AllowedSet {
  /** One bit per slot: bit i of word i >> 5. */
  readonly bits: Uint32Array;
  /** How many bits are set. */
  readonly count: number;
}

export function isAllowed(bits: Uint32Array, id: number): boolean {
  return (bits[id >>> 5]! & (1 << (id & 31))) !== 0;
}

function popcount(bits: Uint32Array): number {
  let c = 0;
  for (const w of bits) c += popcount32(w);
  return c;
}

/**
 * What a filter is resolved against: the index's slots, and what it knows of its items.
 * Removed slots never pass (their labels are cleared when they are removed).
 */
export interface FilterContext {
  readonly n: number;
  readonly labels: ItemLabels | null;
  readonly keys: ItemKeys | null;
  readonly removed: Tombstones | null;
  /** The item ids by slot, when they differ from the slots (null: slot = id). */
  readonly order?: ItemOrder | null;
}

/** The items `filter` allows, or a one-line error for a filter this index cannot serve. */
export function resolveFilter(filter: SearchFilter, ctx: FilterContext): AllowedSet {
  const { n, labels, keys, removed } = ctx;
  const order = ctx.order ?? null;
  if (filter === null || typeof filter !== 'object') fail('INVALID_ARGUMENT', 'a filter is { label }, { labels }, { where } or { bitset }');
  const words = (n + 31) >>> 5;
  if ('label' in filter || 'labels' in filter) {
    if (labels === null) fail('INVALID_ARGUMENT', 'this index has no labels: build it with labels to filter by label');
    const list = 'label' in filter ? [filter.label] : filter.labels;
    if (!Array.isArray(list) || list.length === 0) fail('INVALID_ARGUMENT', 'filter.labels must be a non-empty array of labels');
    for (const l of list)
      if (!Number.isInteger(l) || l < 0 || l > 0xffffffff)
        fail('INVALID_ARGUMENT', `a label must be an integer in [0, 2^32 - 1], got ${String(l)}`);
    if (list.length === 1) return { bits: labels.bitset(list[0]!), count: labels.count(list[0]!) };
    const bits = sharedArray(Uint32Array, words);
    for (const l of list) {
      const one = labels.bitset(l);
      for (let w = 0; w < words; w++) bits[w]! |= one[w]!;
    }
    return { bits, count: popcount(bits) };
  }
  if ('where' in filter) {
    if (typeof filter.where !== 'function') fail('INVALID_ARGUMENT', 'filter.where must be a function of a key');
    const bits = sharedArray(Uint32Array, words);
    let count = 0;
    for (let slot = 0; slot < n; slot++) {
      if (removed?.has(slot)) continue;
      if (filter.where(keys ? keys.keyOf(slot)! : order ? order.idOf(slot) : slot)) {
        bits[slot >>> 5]! |= 1 << (slot & 31);
        count++;
      }
    }
    return { bits, count };
  }
  if ('bitset' in filter) {
    const b = filter.bitset;
    if (!(b instanceof Uint32Array) || b.length !== words)
      fail('INVALID_ARGUMENT', `filter.bitset must be a Uint32Array of ${words} words (one bit per item, ${n} items)`);
    // Bits past the last item are ignored.
    let bits: Uint32Array;
    if (order) {
      bits = order.slotBits(b);
    } else {
      bits = sharedArray(Uint32Array, words);
      bits.set(b);
      if (n & 31) bits[words - 1]! &= (1 << (n & 31)) - 1;
    }
    removed?.maskOut(bits);
    return { bits, count: popcount(bits) };
  }
  return fail('INVALID_ARGUMENT', 'a filter is { label }, { labels }, { where } or { bitset }');
}

/**
 * The filters of a batch: one for every query, or one per query (null: unfiltered). Equal
 * label filters and repeated filter objects resolve once.
 */
export class QueryFilters {
  constructor(
    readonly sets: readonly AllowedSet[],
    readonly which: Int32Array | null,
  ) {}

  static resolve(filter: SearchFilter | readonly (SearchFilter | null | undefined)[], nq: number, ctx: FilterContext): QueryFilters {
    if (!Array.isArray(filter)) return new QueryFilters([resolveFilter(filter as SearchFilter, ctx)], null);
    const list = filter as readonly (SearchFilter | null | undefined)[];
    if (list.length !== nq)
      fail('DIMENSION_MISMATCH', `${list.length} filters for ${nq} queries: give one per query (null for none), or one for all`);
    const sets: AllowedSet[] = [];
    const seen = new Map<unknown, number>();
    const which = new Int32Array(nq).fill(-1);
    for (let q = 0; q < nq; q++) {
      const f = list[q];
      if (f === null || f === undefined) continue;
      if (typeof f !== 'object')
        fail('INVALID_ARGUMENT', `filter of query ${q}: a filter is { label }, { labels }, { where } or { bitset }`);
      const key = 'label' in f ? `label:${f.label}` : 'labels' in f && Array.isArray(f.labels) ? `labels:${f.labels.join(',')}` : f;
      let at = seen.get(key);
      if (at === undefined) {
        try {
          sets.push(resolveFilter(f, ctx));
        } catch (e) {
          if (e instanceof Error) e.message = `filter of query ${q}: ${e.message}`;
          throw e;
        }
        at = sets.length - 1;
        seen.set(key, at);
      }
      which[q] = at;
    }
    return new QueryFilters(sets, which);
  }

  /** The allowed set of query q, or null when it is unfiltered. */
  for(q: number): AllowedSet | null {
    if (this.which === null) return this.sets[0]!;
    const at = this.which[q]!;
    return at < 0 ? null : this.sets[at]!;
  }
}

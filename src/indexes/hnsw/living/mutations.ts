import { fail } from '../../../errors.js';
import type { VectorStore } from '../../../types.js';
import { type ItemKey, ItemKeys } from '../../items/item-keys.js';
import { ItemLabels } from '../../items/item-labels.js';
import type { ItemOrder } from '../../items/item-order.js';
import type { Tombstones } from '../../items/tombstones.js';
import type { HnswGraph } from '../graph/graph.js';

/** Labels of one item: a label, a list, or null for none. */
export type LabelRow = number | readonly number[] | null;

/**
 * Everything a living index changes together: one published state is what searches read (a
 * Snapshot). A change checks its input, then builds the next state: written into this one's
 * memory where no search can see it (see change-plan.ts, WriteRules), else on copies; either
 * way with new graph and store objects, so nothing keyed by the old ones (GPU copies, worker
 * attachments) is reused.
 */
export interface IndexState {
  readonly graph: HnswGraph;
  readonly store: VectorStore;
  readonly rerankStore: VectorStore | null;
  readonly keys: ItemKeys | null;
  readonly labels: ItemLabels | null;
  readonly removed: Tombstones;
  /** Where items live when slots are not ids (the locality layout), or null / absent: slot = id. */
  readonly order?: ItemOrder | null;
  /**
   * True when no other index shares this state's graph and store memory (a state a change
   * made): the next change may then write into it in place, where no search of this index
   * can see it. An index built, loaded, or made by withStore / quantize starts false, and its
   * first change copies.
   */
  readonly exclusive?: boolean;
}

/** Options of HnswIndex.add. */
export interface AddOptions {
  /** Labels of the new items, one row each. */
  labels?: readonly LabelRow[];
  /** A key already in the index is replaced (update) instead of failing. Default false. */
  upsert?: boolean;
}

export interface BuildSettings {
  readonly m: number;
  readonly efConstruction: number;
  readonly seed: number;
}

/** The store the graph is built on: the plain vectors (the re-ranking store of a PQ index). */
export function linkStore(state: IndexState): VectorStore {
  return state.rerankStore ?? state.store;
}

/** The slot of item id `id` (any number), or -1 when no slot has that id. */
export function slotOfId(state: IndexState, id: number): number {
  if (state.order) return state.order.slotOf(id);
  return Number.isInteger(id) && id >= 0 && id < state.graph.n ? id : -1;
}

/** The slot of a live item's key (of its id, on an index without keys), or -1. */
export function liveSlotOfKey(state: IndexState, key: ItemKey): number {
  const slot = state.keys !== null ? state.keys.idOf(key) : typeof key === 'number' ? slotOfId(state, key) : -1;
  return slot >= 0 && !state.removed.has(slot) ? slot : -1;
}

/** The slots of `keys` (of ids, on an index without keys); unknown ones fail. */
export function idsOfKeys(state: IndexState, keys: readonly ItemKey[]): number[] {
  if (!Array.isArray(keys)) fail('INVALID_ARGUMENT', 'give the keys to remove as an array');
  const ids = new Set<number>();
  for (const key of keys) {
    const id = liveSlotOfKey(state, key);
    if (id < 0) fail('INVALID_ARGUMENT', `${state.keys === null ? 'id' : 'key'} ${JSON.stringify(key)} is not in the index`);
    ids.add(id);
  }
  return [...ids];
}

/** Live slots, ascending. */
export function liveIds(state: IndexState): Uint32Array {
  const out = new Uint32Array(state.graph.n - state.removed.count);
  let c = 0;
  for (let id = 0; id < state.graph.n; id++) if (!state.removed.has(id)) out[c++] = id;
  return out;
}

/** Checks that a state's parts agree on the number of slots. */
export function checkState(s: IndexState): void {
  const n = s.graph.n;
  if (s.keys && s.keys.size !== n) fail('INVALID_ARGUMENT', `${s.keys.size} keys for ${n} items`);
  if (s.labels && s.labels.size !== n) fail('INVALID_ARGUMENT', `${s.labels.size} label rows for ${n} items`);
  if (s.removed.capacity !== n) fail('INVALID_ARGUMENT', `the removed-items set covers ${s.removed.capacity} slots, the graph ${n}`);
  if (n !== s.store.size) fail('INVALID_ARGUMENT', `graph has ${n} nodes but the store has ${s.store.size} items`);
  if (s.rerankStore && s.rerankStore.size !== n) fail('INVALID_ARGUMENT', 'the re-ranking store must hold the same items');
  if (s.order && s.order.size !== n) fail('INVALID_ARGUMENT', `the item order covers ${s.order.size} slots, the graph ${n}`);
}

export function itemInfo(
  options: { keys?: readonly ItemKey[]; labels?: readonly LabelRow[] },
  n: number,
): { keys: ItemKeys | null; labels: ItemLabels | null } {
  return {
    keys: options.keys === undefined ? null : ItemKeys.from(options.keys, n),
    labels: options.labels === undefined ? null : ItemLabels.from(options.labels, n),
  };
}

import { fail } from '../../../errors.js';
import type { VectorStore } from '../../../types.js';
import { type ItemKey, ItemKeys } from '../../items/item-keys.js';
import { ItemLabels } from '../../items/item-labels.js';
import { ItemOrder } from '../../items/item-order.js';
import { Tombstones } from '../../items/tombstones.js';
import type { IndexState } from '../living/mutations.js';
import type { HnswGraph } from './graph.js';

/**
 * The locality layout: after a build, the items move to the slots of a breadth-first walk of
 * level 0 from the entry point, so that a node's graph neighbours sit in nearby slots, their
 * rows on nearby pages of the store and their link lists in nearby cache lines. Ids do not
 * change (ItemOrder translates at the public boundary). Built in insertion order, a node's
 * neighbours are scattered over the whole store; once the store outgrows the caches a search
 * then waits on memory for almost every row. The gain grows with the store's size
 * (bench/README.md, "Locality layout").
 * kANNolo ships a permuted layout for the same reason (graph reordering for ANN search: Coleman
 * et al., NeurIPS 2022); breadth-first is the simplest such order and costs O(edges).
 */

/** How an index keeps its items in memory: see HnswIndexOptions.layout. */
export type Layout = 'locality' | 'insertion';

export function checkLayout(layout: unknown): asserts layout is Layout {
  if (layout !== 'locality' && layout !== 'insertion')
    fail('INVALID_ARGUMENT', `layout must be 'locality' or 'insertion', got ${String(layout)}`);
}

/** Slots in breadth-first order of level 0 from the entry point; nodes it cannot reach (removed ones) follow in slot order. */
export function localityOrder(graph: HnswGraph): Uint32Array {
  const n = graph.n;
  const order = new Uint32Array(n);
  const placed = new Uint8Array(n);
  const level0 = graph.level0;
  const stride0 = graph.m0 + 1;
  let head = 0;
  let tail = 0;
  const place = (v: number) => {
    if (placed[v]) return;
    placed[v] = 1;
    order[tail++] = v;
  };
  if (graph.entryPoint >= 0) place(graph.entryPoint);
  for (let next = 0; tail < n; next++) {
    if (head === tail) place(next);
    while (head < tail) {
      const base = order[head++]! * stride0;
      const count = level0[base]!;
      for (let i = 1; i <= count; i++) place(level0[base + i]!);
    }
  }
  return order;
}

/** Slots in id order (old slot of the item with id s), undoing a layout: null when slots already are ids. */
export function insertionOrder(state: IndexState): Uint32Array | null {
  const order = state.order ?? null;
  if (order === null) return null;
  return Uint32Array.from({ length: order.size }, (_, id) => order.slotOf(id));
}

/**
 * `state` in `layout`: graph, stores, keys, labels and removed set rearranged together, and
 * the item order composed with the one it had (null once slots are ids again). With
 * `inPlace` (nothing else uses the state's memory: a build's own stores) the graph and a
 * plain dense store are rearranged in their own memory, so a layout costs no second copy of
 * the index. Returns `state` itself when there is nothing to do or a store cannot move (a
 * re-ranking store read from disk).
 */
export function inLayout(state: IndexState, layout: Layout, inPlace: boolean): IndexState {
  if (!movable(state.store) || (state.rerankStore !== null && !movable(state.rerankStore))) return state;
  const from = layout === 'locality' ? localityOrder(state.graph) : insertionOrder(state);
  if (from === null || from.every((old, s) => old === s)) return state;
  const n = from.length;
  const store = movedStore(state.store, from, inPlace);
  const rerankStore = state.rerankStore === null ? null : movedStore(state.rerankStore, from, inPlace);
  const keys = state.keys === null ? null : movedKeys(state.keys, from);
  const labels = state.labels === null ? null : movedLabels(state.labels, from);
  let removed = Tombstones.none(n);
  if (state.removed.count > 0)
    removed = removed.edited(
      n,
      Array.from(from.keys()).filter((s) => state.removed.has(from[s]!)),
      [],
    );
  const order = ItemOrder.after(state.order ?? null, from);
  return {
    graph: state.graph.renumbered(from, inPlace),
    store,
    rerankStore,
    keys,
    labels,
    removed,
    order: order.isIdentity() ? null : order,
    // A copy is all new memory; in place, the state owns what it owned before.
    exclusive: inPlace ? state.exclusive === true : true,
  };
}

/** Whether `store` can be rearranged (movedStore). */
export function movable(store: VectorStore): boolean {
  return store.permuted !== undefined || store.subset !== undefined;
}

/** `store` with row s = its row `from[s]` (in place when allowed and the store can). */
export function movedStore(store: VectorStore, from: Uint32Array, inPlace: boolean): VectorStore {
  return store.permuted ? store.permuted(from, inPlace) : store.subset!(from);
}

/** Keys with entry s = entry `from[s]` (null entries, removed slots, stay null). */
export function movedKeys(keys: ItemKeys, from: Uint32Array): ItemKeys {
  const list = Array.from(from, (s) => keys.keyOf(s));
  return ItemKeys.from(list as ItemKey[], from.length, (s) => list[s] === null, keys.kind);
}

/** Labels with row s = row `from[s]`. */
export function movedLabels(labels: ItemLabels, from: Uint32Array): ItemLabels {
  return ItemLabels.from(
    Array.from(from, (s) => Array.from(labels.of(s))),
    from.length,
  );
}

import { fail } from '../../../errors.js';
import type { Dataset, Vector, VectorStore } from '../../../types.js';
import { Rng } from '../../../util/rng.js';
import { checkNewKeys, type ItemKey, ItemKeys } from '../../items/item-keys.js';
import { ItemLabels } from '../../items/item-labels.js';
import type { ItemOrder } from '../../items/item-order.js';
import type { Tombstones } from '../../items/tombstones.js';
import { asQueryDataset } from '../../results.js';
import { insertNodes } from '../build/build-graph.js';
import type { HnswGraph } from '../graph/graph.js';
import { unlinkRemoved } from '../graph/graph-repair.js';

/** Labels of one item: a label, a list, or null for none. */
export type LabelRow = number | readonly number[] | null;

/**
 * Everything a living index changes together. A change checks its input, then returns the
 * next state: written into this one's memory when it is exclusive (see below), else built on
 * copies; either way with new graph and store objects, so nothing keyed by the old ones (GPU
 * copies, worker attachments) is reused.
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
   * made): the next change may then write into it in place. An index built, loaded, or made
   * by withStore / quantize starts false, and its first change copies.
   */
  readonly exclusive?: boolean;
}

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

const MAX_LEVEL = 31;

/**
 * An add, checked and laid out but not yet linked: the new state holds the new items'
 * vectors, keys, labels and levels; `slots` (the reused ones first, in id order, then the
 * appended range) still have to be inserted into its graph.
 */
export interface PreparedAdd {
  readonly state: IndexState;
  readonly keys: ItemKey[];
  readonly slots: readonly number[];
  /** How many of `slots` reuse removed slots (they come first). */
  readonly reused: number;
}

/** The state after adding `vectors` (see HnswIndex.add), and the keys the new items got. */
export function addItems(
  state: IndexState,
  vectors: Dataset | readonly Vector[],
  keys: readonly ItemKey[] | undefined,
  options: AddOptions,
  build: BuildSettings,
): { state: IndexState; keys: ItemKey[] } {
  const p = prepareAdd(state, vectors, keys, options, build);
  insertNodes(linkStore(p.state), p.state.graph, p.slots, build.efConstruction);
  return p;
}

/** The store the graph is built on: the plain vectors (the re-ranking store of a PQ index). */
export function linkStore(state: IndexState): VectorStore {
  return state.rerankStore ?? state.store;
}

/** Everything of an add but linking the new nodes (see PreparedAdd). */
export function prepareAdd(
  state: IndexState,
  vectors: Dataset | readonly Vector[],
  keys: readonly ItemKey[] | undefined,
  options: AddOptions,
  build: BuildSettings,
  mayWriteInPlace = true,
): PreparedAdd {
  const inPlace = mayWriteInPlace && state.exclusive === true;
  const rows = checkRows(state.store, vectors);
  const count = rows.size;
  let labelRows = options.labels === undefined ? null : checkLabelRows(options.labels, count);
  let current = state;
  if (current.keys === null) {
    if (keys !== undefined)
      fail('INVALID_ARGUMENT', 'this index has no keys (its items are known by id): add without keys, or build it with keys');
    if (options.upsert) fail('INVALID_ARGUMENT', 'upsert needs keys: this index has none');
  } else {
    if (keys === undefined) fail('INVALID_ARGUMENT', 'this index has keys: give one key per new item');
    if (keys.length !== count) fail('DIMENSION_MISMATCH', `${keys.length} keys for ${count} new items: give one key per item`);
    const replaced = options.upsert ? keys.map((k) => current.keys!.idOf(k)).filter((id) => id >= 0) : [];
    checkNewKeys(keys, current.keys.kind, current.keys, new Set(replaced));
    if (replaced.length > 0) {
      // An upsert keeps the labels of the items it replaces unless new ones are given.
      const labels = current.labels;
      if (labelRows === null && labels !== null) {
        labelRows = keys.map((k) => {
          const id = current.keys!.idOf(k);
          return id < 0 ? [] : Array.from(labels.of(id));
        });
      }
      current = removeIds(current, replaced, inPlace);
    }
  }
  const free = current.removed.freeSlots();
  // Items without keys take the freed ids in id order, whatever slots those ids are in.
  if (current.keys === null && current.order) current.order.sortByIds(free);
  const slots: number[] = free.slice(0, count);
  const oldCapacity = current.graph.n;
  for (let next = oldCapacity; slots.length < count; next++) slots.push(next);
  const capacity = Math.max(oldCapacity, slots[slots.length - 1]! + 1);
  const slotArray = Uint32Array.from(slots);

  const store = withRows(current.store, rows, slotArray, capacity, inPlace);
  const rerankStore = current.rerankStore === null ? null : withRows(current.rerankStore, rows, slotArray, capacity, inPlace);
  const levels = new Uint8Array(capacity);
  levels.set(current.graph.levels.subarray(0, Math.min(oldCapacity, capacity)));
  const rng = new Rng((build.seed + oldCapacity * 0x9e37 + current.removed.count * 0x85eb + count) >>> 0);
  const levelMult = 1 / Math.log(build.m);
  for (const s of slots) levels[s] = Math.min(MAX_LEVEL, Math.floor(-Math.log(rng.nextOpenUnit()) * levelMult));
  const graph = current.graph.grown(levels, inPlace);

  const order = current.order?.grown(capacity, inPlace) ?? null;
  // Without keys, new items are known by id: the slot's, unless the slots are laid out otherwise.
  const newKeys: ItemKey[] = keys === undefined ? (order === null ? slots : slots.map((s) => order.idOf(s))) : [...keys];
  const itemKeys = current.keys === null ? null : current.keys.edited(capacity, [], slots, newKeys, inPlace);
  let labels = current.labels;
  if (labelRows !== null || (labels !== null && capacity > labels.size)) {
    labels ??= ItemLabels.from(new Array(oldCapacity).fill(null), oldCapacity);
    labels = labels.edited(capacity, slots, labelRows ?? slots.map(() => []), inPlace && current.labels !== null);
  }
  const removed = current.removed.edited(capacity, [], slots);
  return {
    state: { graph, store, rerankStore, keys: itemKeys, labels, removed, order, exclusive: true },
    keys: newKeys,
    slots,
    reused: Math.min(free.length, count),
  };
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

/** The state without items `ids` (live slots): unlinked from the graph, their slots free. */
export function removeIds(state: IndexState, ids: readonly number[], mayWriteInPlace = true): IndexState {
  if (ids.length === 0) return state;
  const inPlace = mayWriteInPlace && state.exclusive === true;
  const removed = state.removed.edited(state.graph.n, ids, []);
  // Repairs only touch lists; a new graph object either way (see HnswGraph.renewed).
  const graph = inPlace ? state.graph.renewed() : state.graph.grown(state.graph.levels, false);
  unlinkRemoved(graph, state.rerankStore ?? state.store, (id) => removed.has(id), ids);
  const keys = state.keys === null ? null : state.keys.edited(state.graph.n, ids, [], [], inPlace);
  const labels =
    state.labels === null
      ? null
      : state.labels.edited(
          state.graph.n,
          ids,
          ids.map(() => []),
          inPlace,
        );
  // The stores are shared with the state before: exclusive only if that one was.
  return { ...state, graph, keys, labels, removed, exclusive: state.exclusive === true && inPlace };
}

/** Live slots, ascending. */
export function liveIds(state: IndexState): Uint32Array {
  const out = new Uint32Array(state.graph.n - state.removed.count);
  let c = 0;
  for (let id = 0; id < state.graph.n; id++) if (!state.removed.has(id)) out[c++] = id;
  return out;
}

function withRows(store: VectorStore, rows: Dataset, slots: Uint32Array, capacity: number, inPlace: boolean): VectorStore {
  if (store.withRows === undefined)
    fail('INVALID_ARGUMENT', `this index's ${store.kind} store cannot change (load the index into memory to add items)`);
  return store.withRows(rows, slots, capacity, inPlace);
}

/** The new vectors as a dataset, every row checked like a query (dimension, finite values). */
function checkRows(store: VectorStore, vectors: Dataset | readonly Vector[]): Dataset {
  if (Array.isArray(vectors) && vectors.length === 0) fail('EMPTY_DATA', 'no vectors to add');
  const rows = asQueryDataset(vectors, store.dim);
  for (let i = 0; i < rows.size; i++) {
    try {
      store.checkQuery(rows.get(i));
    } catch (e) {
      if (e instanceof Error) e.message = `new item ${i}: ${e.message.replace(/^query/, 'vector')}`;
      throw e;
    }
  }
  return rows;
}

function checkLabelRows(rows: readonly LabelRow[], count: number): (readonly number[])[] {
  if (!Array.isArray(rows)) fail('INVALID_ARGUMENT', 'labels must be an array with one row per new item');
  // ItemLabels.from checks every label and the row count.
  const parsed = ItemLabels.from(rows, count);
  return Array.from({ length: count }, (_, i) => Array.from(parsed.of(i)));
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

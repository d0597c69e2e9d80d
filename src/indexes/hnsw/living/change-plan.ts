import { fail } from '../../../errors.js';
import type { Dataset, Vector, VectorStore } from '../../../types.js';
import { Rng } from '../../../util/rng.js';
import { checkNewKeys, type ItemKey } from '../../items/item-keys.js';
import { ItemLabels } from '../../items/item-labels.js';
import { asQueryDataset } from '../../results.js';
import type { AddOptions, BuildSettings, IndexState, LabelRow } from './mutations.js';

/**
 * What the change queue lets one change do (see docs/design-notes.md, "Concurrency model").
 * A change writes into memory that a published state still uses only where no search can
 * read it: graph lists, keys and labels only when no search is in flight (`inPlace`), a
 * removed slot's row and lists only when every state a search or a running change still
 * reads has that slot removed too (`reusable`).
 */
export interface WriteRules {
  /** No search is in flight on any state: graph lists, keys and labels may change in place. */
  readonly inPlace: boolean;
  /** Slots a running addAsync holds: no other change takes them. */
  readonly reserved: ReadonlySet<number>;
  /** New slots start here at the earliest (past a running addAsync's). */
  readonly appendFrom: number;
  /** Whether a slot's row and lists may be rewritten now. */
  reusable(slot: number): boolean;
}

/** Rules for a change nothing else can see (a running change's private state). */
export const PRIVATE_RULES: WriteRules = { inPlace: true, reserved: new Set(), appendFrom: 0, reusable: () => true };

/**
 * An add, checked and laid out, nothing written yet: the slots it fills (reused ones first,
 * then appended ones), the levels they drew, the keys they get, and the slots an upsert
 * replaces. Applying it (apply-change.ts, async-add.ts) cannot fail on the input any more.
 */
export interface AddPlan {
  readonly rows: Dataset;
  /** Keys as given (null: the index has none). */
  readonly keys: readonly ItemKey[] | null;
  /** What the add returns: the keys, or the new items' ids. */
  readonly newKeys: ItemKey[];
  readonly labelRows: (readonly number[])[] | null;
  /** Live slots of keys an upsert replaces (freed by this add). */
  readonly replaced: readonly number[];
  readonly slots: readonly number[];
  /** How many of `slots` reuse freed slots (they come first). */
  readonly reused: number;
  /** Slots left empty between the old end and the first appended slot (a running addAsync's). */
  readonly holes: readonly number[];
  /** Slots after the add. */
  readonly capacity: number;
  /** Level of each of `slots`. */
  readonly levels: Uint8Array;
}

const MAX_LEVEL = 31;

/** Checks an add against `state` and lays it out under `rules` (see HnswIndex.add). */
export function planAdd(
  state: IndexState,
  vectors: Dataset | readonly Vector[],
  keys: readonly ItemKey[] | undefined,
  options: AddOptions,
  build: BuildSettings,
  rules: WriteRules,
): AddPlan {
  const rows = checkRows(state.store, vectors);
  const count = rows.size;
  let labelRows = options.labels === undefined ? null : checkLabelRows(options.labels, count);
  let replaced: number[] = [];
  const itemKeys = state.keys;
  if (itemKeys === null) {
    if (keys !== undefined)
      fail('INVALID_ARGUMENT', 'this index has no keys (its items are known by id): add without keys, or build it with keys');
    if (options.upsert) fail('INVALID_ARGUMENT', 'upsert needs keys: this index has none');
  } else {
    if (keys === undefined) fail('INVALID_ARGUMENT', 'this index has keys: give one key per new item');
    if (keys.length !== count) fail('DIMENSION_MISMATCH', `${keys.length} keys for ${count} new items: give one key per item`);
    replaced = options.upsert ? keys.map((k) => itemKeys.idOf(k)).filter((id) => id >= 0) : [];
    checkNewKeys(keys, itemKeys.kind, itemKeys, new Set(replaced));
    const labels = state.labels;
    // An upsert keeps the labels of the items it replaces unless new ones are given.
    if (replaced.length > 0 && labelRows === null && labels !== null)
      labelRows = keys.map((k) => {
        const id = itemKeys.idOf(k);
        return id < 0 ? [] : Array.from(labels.of(id));
      });
  }
  const n = state.graph.n;
  // Freed slots in id order, the replaced ones among them, where no reader stands in the way.
  const free = state.removed.freeSlots();
  if (replaced.length > 0) free.push(...replaced);
  let usable = free.filter((s) => !rules.reserved.has(s) && rules.reusable(s)).sort((a, b) => a - b);
  // Items without keys take the freed ids in id order, whatever slots those ids are in.
  if (itemKeys === null && state.order) usable = state.order.sortByIds(usable);
  const slots = usable.slice(0, count);
  const reused = slots.length;
  const start = Math.max(n, rules.appendFrom);
  for (let next = start; slots.length < count; next++) slots.push(next);
  const holes: number[] = [];
  if (reused < count) for (let s = n; s < start; s++) holes.push(s);
  const capacity = Math.max(n, slots[slots.length - 1]! + 1);

  const removedCount = state.removed.count + replaced.length;
  const rng = new Rng((build.seed + n * 0x9e37 + removedCount * 0x85eb + count) >>> 0);
  const levelMult = 1 / Math.log(build.m);
  const levels = new Uint8Array(count);
  for (let i = 0; i < count; i++) levels[i] = Math.min(MAX_LEVEL, Math.floor(-Math.log(rng.nextOpenUnit()) * levelMult));

  // Without keys, new items are known by id: the slot's, unless the slots are laid out otherwise
  // (an appended slot s takes id s: see ItemOrder.grown).
  const order = state.order ?? null;
  const newKeys: ItemKey[] =
    keys === undefined ? (order === null ? [...slots] : slots.map((s) => (s < order.size ? order.idOf(s) : s))) : [...keys];
  return { rows, keys: keys ?? null, newKeys, labelRows, replaced, slots, reused, holes, capacity, levels };
}

/** Every level of the graph after `plan`: the old ones, then the plan's slots' new ones (0 for holes). */
export function levelsAfter(state: IndexState, plan: AddPlan): Uint8Array {
  const levels = new Uint8Array(plan.capacity);
  levels.set(state.graph.levels.subarray(0, Math.min(state.graph.n, plan.capacity)));
  plan.slots.forEach((s, i) => {
    levels[s] = plan.levels[i]!;
  });
  return levels;
}

/** The new vectors as a dataset, every row checked like a query (dimension, finite values). */
export function checkRows(store: VectorStore, vectors: Dataset | readonly Vector[]): Dataset {
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

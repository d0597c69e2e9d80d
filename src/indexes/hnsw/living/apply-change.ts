import { fail } from '../../../errors.js';
import { PlainDenseStore } from '../../../quant/dense/store.js';
import type { VectorStore } from '../../../types.js';
import { ItemLabels } from '../../items/item-labels.js';
import { insertNodes } from '../build/build-graph.js';
import { unlinkRemoved } from '../graph/graph-repair.js';
import { ChangeJournal } from '../graph/journal.js';
import { type AddPlan, levelsAfter, type WriteRules } from './change-plan.js';
import { type BuildSettings, type IndexState, linkStore } from './mutations.js';

/**
 * Applies a planned add to `state` on this thread and returns the next state; `state` and
 * everything a search may still read stay as they were. Written in place where `rules` and
 * the state's ownership allow (the graph's lists, the reused rows), with every overwritten
 * range saved first: if linking fails (a non-finite distance, memory refused, an evaluator
 * throwing) they are written back and the error goes on, so the index is exactly as before.
 */
export function applyAdd(state: IndexState, plan: AddPlan, rules: WriteRules, build: BuildSettings): IndexState {
  const inPlace = rules.inPlace && state.exclusive === true;
  const journal = new ChangeJournal();
  try {
    const n = state.graph.n;
    const replaced = new Set(plan.replaced);
    const levels = levelsAfter(state, plan);
    // First the graph with the old levels of reused slots (an upsert's replaced items are
    // unlinked with the lists they had), then their new levels.
    const before = levels.slice();
    for (const s of plan.slots) if (s < n) before[s] = state.graph.levels[s]!;
    let graph = state.graph.grown(before, inPlace, inPlace ? journal : null);
    if (replaced.size > 0) {
      const unlinked = (id: number) => replaced.has(id) || id >= n || state.removed.has(id);
      unlinkRemoved(graph, linkStore(state), unlinked, plan.replaced);
    }
    if (plan.slots.some((s) => s < n && before[s] !== levels[s])) graph = graph.grown(levels, true, graph.journal);
    const store = withRowsSaved(state.store, plan, state.exclusive === true, journal);
    const rerankStore = state.rerankStore === null ? null : withRowsSaved(state.rerankStore, plan, state.exclusive === true, journal);
    insertNodes(rerankStore ?? store, graph, plan.slots, build.efConstruction);
    graph.journal = null;
    // Nothing below can fail on the input: the change is made.
    return {
      ...itemsAfterAdd(state, plan, inPlace),
      graph,
      store,
      rerankStore,
      order: state.order?.grown(plan.capacity, state.exclusive === true) ?? null,
      exclusive: true,
    };
  } catch (error) {
    journal.restore();
    throw error;
  }
}

/** The keys, labels and removed set after `plan` (edited in place when `inPlace`). */
export function itemsAfterAdd(
  state: IndexState,
  plan: AddPlan,
  inPlace: boolean,
  replaced: readonly number[] = plan.replaced,
): Pick<IndexState, 'keys' | 'labels' | 'removed'> {
  const { capacity, slots } = plan;
  const keys = state.keys === null ? null : state.keys.edited(capacity, replaced, slots, plan.newKeys, inPlace);
  let labels = state.labels;
  if (plan.labelRows !== null || (labels !== null && (replaced.length > 0 || capacity > labels.size))) {
    const rows = [...replaced.map(() => []), ...(plan.labelRows ?? slots.map(() => []))];
    const wasNull = labels === null;
    labels ??= ItemLabels.from(new Array(state.graph.n).fill(null), state.graph.n);
    labels = labels.edited(capacity, [...replaced, ...slots], rows, inPlace && !wasNull);
  }
  const removed = state.removed.edited(capacity, [...replaced, ...plan.holes], slots);
  return { keys, labels, removed };
}

/**
 * Applies a removal of live slots `ids` (see HnswIndex.remove): their links are cut and the
 * graph around them repaired, in place (journaled, as applyAdd) or on a copy.
 */
export function applyRemove(state: IndexState, ids: readonly number[], rules: WriteRules): IndexState {
  if (ids.length === 0) return state;
  const inPlace = rules.inPlace && state.exclusive === true;
  const n = state.graph.n;
  const removed = state.removed.edited(n, ids, []);
  const journal = new ChangeJournal();
  // A new graph object either way (see HnswGraph.renewed): caches keyed by the old one miss.
  const graph = inPlace ? state.graph.renewed() : state.graph.grown(state.graph.levels, false);
  graph.journal = inPlace ? journal : null;
  try {
    unlinkRemoved(graph, linkStore(state), (id) => removed.has(id), ids);
  } catch (error) {
    journal.restore();
    throw error;
  } finally {
    graph.journal = null;
  }
  return {
    ...state,
    graph,
    keys: state.keys === null ? null : state.keys.edited(n, ids, [], [], inPlace),
    labels:
      state.labels === null
        ? null
        : state.labels.edited(
            n,
            ids,
            ids.map(() => []),
            inPlace,
          ),
    removed,
    // The stores are the state's: owned exactly as before.
    exclusive: state.exclusive === true,
  };
}

/**
 * `store` with the plan's rows, written into its own memory when it is the index's own
 * (`rowsInPlace`): only at appended slots (no state reads past its end) and at reusable ones.
 * The old contents of reused rows go to the journal first, so a failed change puts them back.
 */
export function withRowsSaved(
  store: VectorStore,
  plan: Pick<AddPlan, 'rows' | 'slots' | 'capacity'>,
  rowsInPlace: boolean,
  journal: ChangeJournal | null,
): VectorStore {
  if (store.withRows === undefined)
    fail('INVALID_ARGUMENT', `this index's ${store.kind} store cannot change (load the index into memory to add items)`);
  if (rowsInPlace && journal !== null) saveRows(store, plan.slots, journal);
  return store.withRows(plan.rows, Uint32Array.from(plan.slots), plan.capacity, rowsInPlace);
}

/**
 * Saves the rows at `slots` below the store's size. Only the plain dense store writes rows in
 * place (the other kinds copy in withRows): its `vectors` view is its memory (a view, not
 * plainVectorsOf's dataset, which checks every value: O(n x dim) per change).
 */
function saveRows(store: VectorStore, slots: readonly number[], journal: ChangeJournal): void {
  if (!(store instanceof PlainDenseStore)) return;
  const dim = store.dim;
  let vectors: Float32Array | null = null;
  for (const s of slots) {
    if (s >= store.size) continue;
    vectors ??= store.vectors;
    journal.save(vectors, s * dim, dim);
  }
}

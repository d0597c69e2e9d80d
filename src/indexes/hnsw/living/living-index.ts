import { fail } from '../../../errors.js';
import { WorkerPool } from '../../../parallel/pool.js';
import type { Dataset, Vector } from '../../../types.js';
import type { ItemKey } from '../../items/item-keys.js';
import { Tombstones } from '../../items/tombstones.js';
import { insertNodes } from '../build/build-graph.js';
import { buildGraphParallel, insertRangeParallel } from '../build/parallel-build.js';
import { inLayout, movedKeys, movedLabels } from '../graph/locality-layout.js';
import {
  type AddOptions,
  addItems,
  type BuildSettings,
  type IndexState,
  idsOfKeys,
  type LabelRow,
  linkStore,
  liveIds,
  liveSlotOfKey,
  prepareAdd,
  removeIds,
  slotOfId,
} from './mutations.js';

export type { AddOptions, LabelRow } from './mutations.js';

/** addAsync's options: add's, plus threads and cancellation. */
export interface AddAsyncOptions extends AddOptions {
  /** Worker threads inserting the new items (default: every core). */
  threads?: number;
  /** Aborting stops the add with a CANCELLED error; the index is then unchanged. */
  signal?: AbortSignal;
}

/** Fewest appended items worth sharing out to worker threads. */
const PARALLEL_ADD_MIN = 256;

/** compact's options. */
export interface CompactOptions {
  /** Worker threads for the rebuild (default: every core). */
  threads?: number;
  signal?: AbortSignal;
}

/**
 * The changing half of an HNSW index: add, remove, update and compact by key (hnswlib's
 * addPoint / markDelete / replaceDeleted / resizeIndex, usearch's add / remove). Every change
 * checks all its input first and installs the next state in one step, so bad input leaves
 * the index as it was. Changes write in place with spare room to grow once the index owns its
 * memory (after its first change); see docs/design-notes.md.
 */
export abstract class LivingIndex {
  /** Batch searches and compactions running: changes wait until they end (see checkIdle). */
  private busy = 0;

  protected constructor(protected state: IndexState) {}

  protected abstract get buildParams(): BuildSettings;
  /** Called after a new state is installed. */
  protected abstract stateChanged(): void;

  /**
   * Adds items after the build; returns their keys (their ids on an index without keys).
   * Slots of removed items are reused first, then the index grows. With keys, every new item
   * needs one, not yet in the index (or `upsert: true` to replace those that are). Any store
   * kind: plain dense, sparse, PQ (new items encoded with the trained codebooks).
   */
  add(vectors: Dataset | readonly Vector[], keys?: readonly ItemKey[], options: AddOptions = {}): ItemKey[] {
    this.checkIdle('add');
    const r = addItems(this.state, vectors, keys, options, this.buildParams);
    this.install(r.state);
    return r.keys;
  }

  /**
   * `add` on worker threads, without blocking the calling thread: the appended items are
   * inserted in parallel batches (as buildAsync does; the graph then differs from a serial
   * add's), items that reuse removed slots first on this thread. All-or-nothing like add: the
   * index changes only when it resolves.
   */
  async addAsync(vectors: Dataset | readonly Vector[], keys?: readonly ItemKey[], options: AddAsyncOptions = {}): Promise<ItemKey[]> {
    this.checkIdle('add');
    const build = this.buildParams;
    // Copies, never writes in place: a cancelled or failed add must leave the index as it was.
    const p = prepareAdd(this.state, vectors, keys, options, build, false);
    const threads = await WorkerPool.threadsFor(options.threads);
    await this.whileSearching(
      (async () => {
        const { graph } = p.state;
        const store = linkStore(p.state);
        const serial = (ids: readonly number[]) => insertNodes(store, graph, ids, build.efConstruction);
        serial(p.slots.slice(0, p.reused));
        let from = p.reused;
        if (graph.entryPoint < 0 && from < p.slots.length) serial([p.slots[from++]!]);
        const appended = p.slots.slice(from);
        const linked =
          threads > 1 &&
          appended.length >= PARALLEL_ADD_MIN &&
          (await insertRangeParallel(graph, store, appended[0]!, appended[appended.length - 1]! + 1, {
            efConstruction: build.efConstruction,
            keepPruned: false,
            threads,
            signal: options.signal,
          }));
        if (!linked) serial(appended);
      })(),
    );
    this.install(p.state);
    return p.keys;
  }

  /**
   * Removes items by key (by id without keys). They are never returned again; the graph
   * around them is repaired at once, and their slots are reused by later adds. An unknown key
   * fails the whole call and removes nothing.
   */
  remove(keys: readonly ItemKey[]): void {
    this.checkIdle('remove');
    this.install(removeIds(this.state, idsOfKeys(this.state, keys)));
  }

  /**
   * Replaces the vectors of existing items (remove + add under the same keys). Their labels
   * stay unless `labels` gives new ones. Every key must be in the index.
   */
  update(vectors: Dataset | readonly Vector[], keys: readonly ItemKey[], options: { labels?: readonly LabelRow[] } = {}): void {
    this.checkIdle('update');
    if (this.state.keys === null) fail('INVALID_ARGUMENT', 'update needs keys: this index has none (remove and add instead)');
    idsOfKeys(this.state, keys);
    this.install(addItems(this.state, vectors, keys, { ...options, upsert: true }, this.buildParams).state);
  }

  /** Whether `key` (an id, without keys) is a live item. */
  has(key: ItemKey): boolean {
    return liveSlotOfKey(this.state, key) >= 0;
  }

  /** The id of a live item's key (what results' `ids` hold, and { bitset } filters index), or -1. */
  idOf(key: ItemKey): number {
    const slot = liveSlotOfKey(this.state, key);
    if (slot < 0) return -1;
    return this.state.order ? this.state.order.idOf(slot) : slot;
  }

  /** The key of item `id` (a result's id), or null when no live item has that id or the index has no keys. */
  keyOf(id: number): ItemKey | null {
    const s = this.state;
    const slot = typeof id === 'number' ? slotOfId(s, id) : -1;
    return slot < 0 || s.keys === null ? null : s.keys.keyOf(slot);
  }

  /**
   * Rebuilds the graph over the live items only, on worker threads, and frees the removed
   * slots' memory. Worth it after many removals (repairs keep recall, but each one narrows
   * the graph a little). Internal ids change; keys do not (an index without keys renumbers
   * its items 0..size-1 in id order: give keys if you compact).
   */
  async compact(options: CompactOptions = {}): Promise<void> {
    this.checkIdle('compact');
    const s = this.state;
    if (s.removed.count === 0) return;
    const live = liveIds(s);
    // Renumbered in id order: sorted by id when slots are laid out otherwise.
    s.order?.sortByIds(live);
    if (live.length === 0) fail('INVALID_ARGUMENT', 'every item was removed: there is nothing to compact into (add items first)');
    const subset = (store: IndexState['store']) => {
      if (store.subset === undefined) fail('INVALID_ARGUMENT', `this index's ${store.kind} store cannot be compacted`);
      return store.subset(live);
    };
    const store = subset(s.store);
    const rerankStore = s.rerankStore === null ? null : subset(s.rerankStore);
    const { m, efConstruction, seed } = this.buildParams;
    const graph = await this.whileSearching(
      WorkerPool.threadsFor(options.threads).then((threads) =>
        buildGraphParallel(rerankStore ?? store, { m, efConstruction, seed, threads, signal: options.signal }),
      ),
    );
    const compacted: IndexState = {
      graph,
      store,
      rerankStore,
      keys: s.keys === null ? null : movedKeys(s.keys, live),
      labels: s.labels === null ? null : movedLabels(s.labels, live),
      removed: Tombstones.none(live.length),
      exclusive: true,
    };
    // A laid-out index stays laid out (the rebuild's stores and graph are its own: in place).
    this.install(s.order ? inLayout(compacted, 'locality', true) : compacted);
  }

  /**
   * Another index is about to share this one's graph or stores (withStore, quantize,
   * withItems): from now on changes must copy, not write in place.
   */
  protected shareState(): void {
    if (this.state.exclusive) this.state = { ...this.state, exclusive: false };
  }

  /** Tracks a running batch search or compaction: changes wait until it ends. */
  protected whileSearching<T>(p: Promise<T>): Promise<T> {
    this.busy++;
    return p.finally(() => this.busy--);
  }

  private checkIdle(what: string): void {
    if (this.busy > 0) fail('INVALID_ARGUMENT', `a searchBatch or compact on this index is still running: await it before ${what}`);
  }

  private install(state: IndexState): void {
    if (state === this.state) return;
    this.state = state;
    this.stateChanged();
  }
}

import { fail } from '../../errors.js';
import type { Dataset, Vector } from '../../types.js';
import { WorkerPool } from '../../parallel/pool.js';
import { ItemKeys, type ItemKey } from '../item-keys.js';
import { ItemLabels } from '../item-labels.js';
import { Tombstones } from '../tombstones.js';
import { buildGraphParallel } from './parallel-build.js';
import { addItems, idsOfKeys, liveIds, removeIds, type AddOptions, type BuildSettings, type IndexState, type LabelRow } from './mutations.js';

export type { AddOptions, LabelRow } from './mutations.js';

/** compact's options. */
export interface CompactOptions {
  /** Worker threads for the rebuild (default: every core). */
  threads?: number;
  signal?: AbortSignal;
}

/**
 * The changing half of an HNSW index: add, remove, update and compact by key (hnswlib's
 * addPoint / markDelete / replaceDeleted / resizeIndex, usearch's add / remove). Every change
 * is all-or-nothing: it is checked first, then built on copies (copy on write) and installed
 * in one step, so a failed change leaves the index as it was and a search never sees half of
 * one. Each call copies the graph and the stores once (O(n)): add in batches where you can.
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
    const s = this.state;
    if (s.keys !== null) return s.keys.idOf(key) >= 0;
    return typeof key === 'number' && Number.isInteger(key) && key >= 0 && key < s.graph.n && !s.removed.has(key);
  }

  /** The internal id of a live item's key (for { bitset } filters), or -1. */
  idOf(key: ItemKey): number {
    return this.has(key) ? (this.state.keys === null ? (key as number) : this.state.keys.idOf(key)) : -1;
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
    if (live.length === 0) fail('INVALID_ARGUMENT', 'every item was removed: there is nothing to compact into (add items first)');
    const subset = (store: IndexState['store']) => {
      if (store.subset === undefined) fail('INVALID_ARGUMENT', `this index's ${store.kind} store cannot be compacted`);
      return store.subset(live);
    };
    const store = subset(s.store);
    const rerankStore = s.rerankStore === null ? null : subset(s.rerankStore);
    const { m, efConstruction, seed } = this.buildParams;
    const graph = await this.whileSearching(
      WorkerPool.threadsFor(options.threads).then((threads) => buildGraphParallel(rerankStore ?? store, { m, efConstruction, seed, threads, signal: options.signal })),
    );
    const ids = Array.from(live);
    const keys = s.keys === null ? null : s.keys.toArray();
    this.install({
      graph, store, rerankStore,
      keys: keys === null ? null : ItemKeys.from(ids.map((id) => keys[id]!), ids.length),
      labels: s.labels === null ? null : ItemLabels.from(ids.map((id) => Array.from(s.labels!.of(id))), ids.length),
      removed: Tombstones.none(ids.length),
    });
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

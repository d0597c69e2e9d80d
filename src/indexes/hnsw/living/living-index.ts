import { fail } from '../../../errors.js';
import type { Dataset, Vector } from '../../../types.js';
import type { ItemKey } from '../../items/item-keys.js';
import {
  ADD_OPTION_NAMES,
  ASYNC_ADD_OPTION_NAMES,
  COMPACT_OPTION_NAMES,
  checkOptionNames,
  UPDATE_OPTION_NAMES,
} from '../../option-names.js';
import { applyAdd, applyRemove } from './apply-change.js';
import { type AddAsyncOptions, addAsyncChange } from './async-add.js';
import { type CompactOptions, compactChange } from './async-compact.js';
import { planAdd } from './change-plan.js';
import { ChangeQueue, type ChangeTarget } from './change-queue.js';
import { type AddOptions, type BuildSettings, type IndexState, idsOfKeys, type LabelRow, liveSlotOfKey, slotOfId } from './mutations.js';

export type { AddAsyncOptions } from './async-add.js';
export type { CompactOptions } from './async-compact.js';
export type { AddOptions, LabelRow } from './mutations.js';

/**
 * The changing half of an HNSW index: add, remove, update and compact by key (hnswlib's
 * addPoint / markDelete / replaceDeleted / resizeIndex, usearch's add / remove).
 *
 * Concurrency (docs/design-notes.md, "Concurrency model"): every search reads one published
 * state from its start to its end and never sees part of a change. Changes are made one at a
 * time and never refused because searches run: add, remove and update at once (they are
 * synchronous), addAsync and compact through a queue in call order, while searches go on.
 * Each change is all-or-nothing: whatever fails inside it (bad input, a late non-finite
 * distance, memory refused, a worker dying, cancellation) leaves the index exactly as it was.
 */
export abstract class LivingIndex {
  private readonly changes = new ChangeQueue();
  /** What the asynchronous changes see of this index. */
  private readonly target: ChangeTarget;

  protected constructor(protected state: IndexState) {
    const self = this;
    this.target = {
      get published() {
        return self.state;
      },
      get build() {
        return self.buildParams;
      },
      changes: this.changes,
      publish: (s) => this.install(s),
    };
  }

  protected abstract get buildParams(): BuildSettings;
  /** Called after a new state is installed. */
  protected abstract stateChanged(): void;

  /**
   * Adds items after the build; returns their keys (their ids on an index without keys).
   * Slots of removed items are reused first (those no running search can still read), then
   * the index grows. With keys, every new item needs one, not yet in the index (or
   * `upsert: true` to replace those that are). Any store kind: plain dense, sparse, PQ (new
   * items encoded with the trained codebooks).
   *
   * Takes effect at once, all or nothing, and is seen by every search that starts after it
   * returns; searches already running (searchBatch) keep the state they started on. While an
   * addAsync or compact is running, it is applied before that one, which lands on top of it.
   */
  add(vectors: Dataset | readonly Vector[], keys?: readonly ItemKey[], options: AddOptions = {}): ItemKey[] {
    checkOptionNames('add', options, ADD_OPTION_NAMES);
    const rules = this.changes.rules(this.state, false);
    const plan = planAdd(this.state, vectors, keys, options, this.buildParams, rules);
    const next = applyAdd(this.state, plan, rules, this.buildParams);
    this.changes.running?.note(plan.replaced, plan);
    this.install(next);
    return plan.newKeys;
  }

  /**
   * `add` without blocking the calling thread: the new items are linked into a copy of the
   * graph (appended ones on worker threads, in parallel batches as buildAsync does, so the
   * graph differs from a serial add's; reused slots on this thread in 20 ms slices), while
   * searches go on against the index as it was. Changes of the asynchronous kind (addAsync,
   * compact) run one at a time in call order; this one starts when those before it have
   * ended. It takes effect in one step when it resolves: every search that starts after that
   * sees all its items, none before. Synchronous changes made while it works are applied at
   * once, before it (it fails if one of them added one of its keys, unless it upserts).
   * All-or-nothing: a failure or a cancellation through `signal` at any point leaves the
   * index unchanged.
   */
  addAsync(vectors: Dataset | readonly Vector[], keys?: readonly ItemKey[], options: AddAsyncOptions = {}): Promise<ItemKey[]> {
    const refused = refusal(() => checkOptionNames('addAsync', options, ASYNC_ADD_OPTION_NAMES));
    if (refused) return refused;
    return this.changes.enqueue(() => addAsyncChange(this.target, vectors, keys, options));
  }

  /**
   * Removes items by key (by id without keys). They are never returned again by a search that
   * starts after this returns; the graph around them is repaired at once, and their slots are
   * reused by later adds once no running search can read them. An unknown key fails the whole
   * call and removes nothing. Like add, all or nothing, at once, before a running addAsync or
   * compact.
   */
  remove(keys: readonly ItemKey[]): void {
    const rules = this.changes.rules(this.state, false);
    const ids = idsOfKeys(this.state, keys);
    const next = applyRemove(this.state, ids, rules);
    this.changes.running?.note(ids, null);
    this.install(next);
  }

  /**
   * Replaces the vectors of existing items (remove + add under the same keys, in one step).
   * Their labels stay unless `labels` gives new ones. Every key must be in the index. Like
   * add, all or nothing, at once, before a running addAsync or compact.
   */
  update(vectors: Dataset | readonly Vector[], keys: readonly ItemKey[], options: { labels?: readonly LabelRow[] } = {}): void {
    checkOptionNames('update', options, UPDATE_OPTION_NAMES);
    if (this.state.keys === null) fail('INVALID_ARGUMENT', 'update needs keys: this index has none (remove and add instead)');
    idsOfKeys(this.state, keys);
    this.add(vectors, keys, { ...options, upsert: true });
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
   *
   * Queued with addAsync in call order; searches and synchronous changes go on while it
   * builds (those changes are applied before it: it redoes them on the new graph before it
   * lands). It takes effect in one step when it resolves; searches running then keep the
   * state they started on. A failure or a cancellation through `signal` changes nothing.
   */
  compact(options: CompactOptions = {}): Promise<void> {
    const refused = refusal(() => checkOptionNames('compact', options, COMPACT_OPTION_NAMES));
    if (refused) return refused;
    return this.changes.enqueue(() => compactChange(this.target, options));
  }

  /**
   * Another index is about to share this one's graph or stores (withStore, quantize,
   * withItems): from now on changes must copy, not write in place.
   */
  protected shareState(): void {
    if (this.state.exclusive) this.state = { ...this.state, exclusive: false };
  }

  /**
   * Runs an asynchronous search (searchBatch) of `state`: until it ends, changes keep out of
   * the memory it reads (they copy instead, or use other slots), so it sees `state` whole.
   */
  protected reading<T>(state: IndexState, search: () => Promise<T>): Promise<T> {
    return this.changes.reading(state, search);
  }

  private install(state: IndexState): void {
    if (state === this.state) return;
    this.state = state;
    this.stateChanged();
  }
}

/** The rejected promise of an asynchronous call whose synchronous `check` throws, or null. */
function refusal(check: () => void): Promise<never> | null {
  try {
    check();
    return null;
  } catch (error) {
    return Promise.reject(error);
  }
}

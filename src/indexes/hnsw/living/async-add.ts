import { checkInteger, fail } from '../../../errors.js';
import { canSpawnWorkers } from '../../../parallel/platform.js';
import { WorkerPool } from '../../../parallel/pool.js';
import type { Dataset, Vector, VectorStore } from '../../../types.js';
import { canShareMemory } from '../../../util/shared-memory.js';
import type { ItemKey } from '../../items/item-keys.js';
import { insertNodes, insertNodesAsync } from '../build/build-graph.js';
import { insertRangeParallel } from '../build/parallel-build.js';
import type { HnswGraph } from '../graph/graph.js';
import { unlinkRemoved } from '../graph/graph-repair.js';
import { ChangeJournal } from '../graph/journal.js';
import { itemsAfterAdd, withRowsSaved } from './apply-change.js';
import { type AddPlan, levelsAfter, planAdd } from './change-plan.js';
import { type ChangeTarget, RunningChange } from './change-queue.js';
import type { AddOptions, IndexState } from './mutations.js';

/** addAsync's options: add's, plus threads and cancellation. */
export interface AddAsyncOptions extends AddOptions {
  /**
   * Worker threads inserting the new items (default: every core; 1: one worker thread, so the
   * calling thread stays free for searches). A worker that dies mid-add fails the add with
   * WORKER_FAILED (CLOSED if the worker pool was closed); the index is then unchanged.
   */
  threads?: number;
  /** Aborting stops the add with a CANCELLED error, wherever it is; the index is then unchanged. */
  signal?: AbortSignal;
}

/** Fewest appended items worth sharing out to worker threads. */
const PARALLEL_ADD_MIN = 256;

/** What an addAsync built beside the published state: its graph (a copy, linked) and stores. */
interface AddWork {
  readonly graph: HnswGraph;
  readonly store: VectorStore;
  readonly rerankStore: VectorStore | null;
}

/**
 * HnswIndex.addAsync, run when its turn in the change queue comes. It takes the published
 * state as its base and links the new items into a copy of its graph (on worker threads, or
 * here in 20 ms slices): searches go on reading the published state meanwhile, and nothing
 * they read is written. The new rows go into the stores' spare room or removed slots no
 * search reads. Synchronous changes made meanwhile are published at once; the landing
 * applies them to the copy too, then publishes the whole in one step. Any failure (input,
 * cancellation, a worker dying, a late non-finite distance) publishes nothing and puts back
 * the removed rows it overwrote.
 */
export async function addAsyncChange(
  t: ChangeTarget,
  vectors: Dataset | readonly Vector[],
  keys: readonly ItemKey[] | undefined,
  options: AddAsyncOptions,
): Promise<ItemKey[]> {
  if (options.threads !== undefined) checkInteger('threads', options.threads, 1, 1024);
  throwIfCancelled(options.signal);
  const base = t.published;
  const build = t.build;
  const plan = planAdd(base, vectors, keys, options, build, t.changes.rules(base, true));
  const run = new RunningChange('add', base, new Set(plan.slots), plan.capacity);
  t.changes.begin(run);
  const journal = new ChangeJournal();
  try {
    const own = base.exclusive === true;
    const store = withRowsSaved(base.store, plan, own, journal);
    const rerankStore = base.rerankStore === null ? null : withRowsSaved(base.rerankStore, plan, own, journal);
    const linkOn = rerankStore ?? store;
    const graph = base.graph.grown(levelsAfter(base, plan), false);
    if (plan.replaced.length > 0) {
      const gone = new Set([...plan.replaced, ...plan.slots]);
      unlinkRemoved(graph, linkOn, (id) => gone.has(id) || base.removed.has(id), plan.replaced);
    }
    await linkNewItems(graph, linkOn, plan, build.efConstruction, options);
    throwIfCancelled(options.signal);
    t.publish(landAdd(t, run, plan, { graph, store, rerankStore }, options, journal));
    return plan.newKeys;
  } catch (error) {
    journal.restore();
    throw error;
  } finally {
    t.changes.end(run);
  }
}

/** Links the plan's slots into `graph`: reused slots here, appended ones on worker threads when worth it. */
async function linkNewItems(graph: HnswGraph, store: VectorStore, plan: AddPlan, efConstruction: number, options: AddAsyncOptions) {
  const { slots } = plan;
  const { signal } = options;
  let from = plan.reused;
  await insertNodesAsync(store, graph, slots.slice(0, from), efConstruction, signal);
  if (graph.entryPoint < 0 && from < slots.length) await insertNodesAsync(store, graph, [slots[from++]!], efConstruction, signal);
  const appended = slots.slice(from);
  if (appended.length === 0) return;
  const onWorkers = appended.length >= PARALLEL_ADD_MIN && canShareMemory() && canSpawnWorkers();
  const linked =
    onWorkers &&
    (await insertRangeParallel(graph, store, appended[0]!, appended[appended.length - 1]! + 1, {
      efConstruction,
      keepPruned: false,
      threads: await WorkerPool.threadsFor(options.threads),
      signal,
    }));
  if (!linked) await insertNodesAsync(store, graph, appended, efConstruction, signal);
}

/**
 * The state to publish: the published one (`now`, which synchronous changes may have changed
 * since the add started) with the add on top. The add's graph copy learns what they did to
 * the slots they touched (unlinked, linked anew); keys, labels, removed set and stores are
 * `now`'s with the new items'. A key that a synchronous change added meanwhile fails the add,
 * unless it upserts (then it replaces that item).
 */
function landAdd(
  t: ChangeTarget,
  run: RunningChange,
  plan: AddPlan,
  work: AddWork,
  options: AddAsyncOptions,
  journal: ChangeJournal,
): IndexState {
  const now = t.published;
  const base = run.base;
  const replaced: number[] = [];
  for (const key of now.keys === null ? [] : plan.newKeys) {
    const slot = now.keys!.idOf(key);
    if (slot < 0) continue;
    if (options.upsert !== true)
      fail(
        'INVALID_ARGUMENT',
        `key ${JSON.stringify(key)} is already in the index (a change made while this addAsync ran gave it): remove it first, or add with { upsert: true }`,
      );
    replaced.push(slot);
  }
  const capacity = Math.max(now.graph.n, plan.capacity);
  let store = work.store;
  let rerankStore = work.rerankStore;
  let exclusive = base.exclusive !== true || now.exclusive === true;
  if (now.store !== base.store || now.rerankStore !== base.rerankStore) {
    // Synchronous adds made new stores meanwhile: the new rows go into the slots they left empty for this add.
    const rows = { rows: plan.rows, slots: plan.slots, capacity };
    store = withRowsSaved(now.store, rows, now.exclusive === true, journal);
    rerankStore = now.rerankStore === null ? null : withRowsSaved(now.rerankStore, rows, now.exclusive === true, journal);
    exclusive = true;
  }
  const removed = now.removed.edited(capacity, replaced, plan.slots);
  const touched = [...run.touched, ...replaced];
  const graph = touched.length === 0 ? work.graph : redoTouched(work, run, plan, now, touched, removed, rerankStore ?? store, t.build);
  // An upsert without labels keeps those of the items it replaces, as they are now.
  let labelRows = plan.labelRows;
  if (options.labels === undefined && options.upsert === true && now.labels !== null && now.keys !== null) {
    const { keys: nowKeys, labels } = now;
    labelRows = plan.newKeys.map((k) => {
      const slot = nowKeys.idOf(k);
      return slot < 0 ? [] : Array.from(labels.of(slot));
    });
  }
  const itemsInPlace = now.exclusive === true && t.changes.rules(now, false).inPlace;
  return {
    ...itemsAfterAdd(now, { ...plan, capacity, labelRows, holes: [] }, itemsInPlace, replaced),
    removed,
    graph,
    store,
    rerankStore,
    order: now.order?.grown(capacity, now.exclusive === true) ?? null,
    exclusive,
  };
}

/**
 * The add's graph after the synchronous changes made while it ran: the slots they touched
 * that the copy had linked are unlinked (their items left or changed), and those live now
 * are linked anew, at the levels they drew.
 */
function redoTouched(
  work: AddWork,
  run: RunningChange,
  plan: AddPlan,
  now: IndexState,
  touched: readonly number[],
  removed: IndexState['removed'],
  linkOn: VectorStore,
  build: ChangeTarget['build'],
): HnswGraph {
  const g0 = work.graph;
  const base = run.base;
  const startReplaced = new Set(plan.replaced);
  const linked = (s: number) => s < g0.n && (run.reserved.has(s) || (!base.removed.has(s) && !startReplaced.has(s)));
  const stale = new Set(touched.filter(linked));
  const fresh = [...new Set(touched)].filter((s) => !removed.has(s)).sort((a, b) => a - b);
  const capacity = removed.capacity;
  const levels = new Uint8Array(capacity);
  levels.set(g0.levels);
  let graph = g0.grown(levels.slice(), true);
  if (stale.size > 0) {
    const freshSet = new Set(fresh);
    unlinkRemoved(graph, linkOn, (id) => stale.has(id) || freshSet.has(id) || removed.has(id), [...stale]);
  }
  if (fresh.length > 0) {
    for (const s of fresh) levels[s] = now.graph.levels[s]!;
    graph = graph.grown(levels, true);
    insertNodes(linkOn, graph, fresh, build.efConstruction);
  }
  return graph;
}

export function throwIfCancelled(signal: AbortSignal | undefined, what = 'the add'): void {
  if (signal?.aborted) fail('CANCELLED', `${what} was cancelled`);
}

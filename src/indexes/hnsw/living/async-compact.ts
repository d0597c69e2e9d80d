import { fail } from '../../../errors.js';
import { WorkerPool } from '../../../parallel/pool.js';
import { Tombstones } from '../../items/tombstones.js';
import { buildGraphParallel } from '../build/parallel-build.js';
import { inLayout, movedKeys, movedLabels } from '../graph/locality-layout.js';
import { applyAdd, applyRemove } from './apply-change.js';
import { throwIfCancelled } from './async-add.js';
import { PRIVATE_RULES, planAdd } from './change-plan.js';
import { type ChangeTarget, RunningChange } from './change-queue.js';
import { type IndexState, liveIds } from './mutations.js';

/** compact's options. */
export interface CompactOptions {
  /** Worker threads for the rebuild (default: every core); a worker that dies fails it with WORKER_FAILED. */
  threads?: number;
  /** Aborting stops the compaction with a CANCELLED error, wherever it is; the index is then unchanged. */
  signal?: AbortSignal;
}

/**
 * HnswIndex.compact, run when its turn in the change queue comes: the live items of the
 * published state are copied out (renumbered in id order) and a new graph is built over them
 * on worker threads, while searches and synchronous changes go on against the published
 * state. At the end, what those changes did meanwhile is done again on the new state (items
 * they removed or replaced are removed, items they added are added, in the new numbering),
 * and the result is published in one step. A failure or cancellation publishes nothing.
 */
export async function compactChange(t: ChangeTarget, options: CompactOptions): Promise<void> {
  throwIfCancelled(options.signal, 'the compaction');
  const base = t.published;
  if (base.removed.count === 0) return;
  const live = liveIds(base);
  // Renumbered in id order: sorted by id when slots are laid out otherwise.
  base.order?.sortByIds(live);
  if (live.length === 0) fail('INVALID_ARGUMENT', 'every item was removed: there is nothing to compact into (add items first)');
  const subset = (store: IndexState['store']) => {
    if (store.subset === undefined) fail('INVALID_ARGUMENT', `this index's ${store.kind} store cannot be compacted`);
    return store.subset(live);
  };
  const store = subset(base.store);
  const rerankStore = base.rerankStore === null ? null : subset(base.rerankStore);
  const run = new RunningChange('compact', base);
  t.changes.begin(run);
  try {
    const { m, efConstruction, seed } = t.build;
    const threads = await WorkerPool.threadsFor(options.threads);
    const graph = await buildGraphParallel(rerankStore ?? store, { m, efConstruction, seed, threads, signal: options.signal });
    throwIfCancelled(options.signal, 'the compaction');
    const compacted = redoTouched(t, run, live, {
      graph,
      store,
      rerankStore,
      keys: base.keys === null ? null : movedKeys(base.keys, live),
      labels: base.labels === null ? null : movedLabels(base.labels, live),
      removed: Tombstones.none(live.length),
      exclusive: true,
    });
    // A laid-out index stays laid out (the rebuild's stores and graph are its own: in place).
    t.publish(base.order ? inLayout(compacted, 'locality', true) : compacted);
  } finally {
    t.changes.end(run);
  }
}

/**
 * The compacted state after the synchronous changes made while it was built: the items they
 * removed or replaced are removed from it, and the items live now in the slots they filled
 * are added to it, with their keys, labels and rows (the items of an index without keys get
 * new ids after the compacted ones).
 */
function redoTouched(t: ChangeTarget, run: RunningChange, live: Uint32Array, compacted: IndexState): IndexState {
  if (run.touched.size === 0) return compacted;
  const now = t.published;
  const newSlot = new Int32Array(run.base.graph.n).fill(-1);
  live.forEach((old, i) => {
    newSlot[old] = i;
  });
  const touched = [...run.touched].sort((a, b) => a - b);
  const gone = touched.filter((s) => s < newSlot.length && newSlot[s]! >= 0).map((s) => newSlot[s]!);
  let next = applyRemove(compacted, gone, PRIVATE_RULES);
  const back = touched.filter((s) => s < now.graph.n && !now.removed.has(s));
  if (back.length > 0) {
    const { keys, labels } = now;
    const plan = planAdd(
      next,
      back.map((s) => run.rows!.get(s)!),
      keys === null ? undefined : back.map((s) => keys.keyOf(s)!),
      { labels: labels === null ? undefined : back.map((s) => Array.from(labels.of(s))) },
      t.build,
      PRIVATE_RULES,
    );
    next = applyAdd(next, plan, PRIVATE_RULES, t.build);
  }
  return next;
}

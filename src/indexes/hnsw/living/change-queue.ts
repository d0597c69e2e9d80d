import type { Dataset, Vector } from '../../../types.js';
import type { AddPlan, WriteRules } from './change-plan.js';
import type { BuildSettings, IndexState } from './mutations.js';

/**
 * An addAsync or compact between its start and its landing. It works on what it copied of the
 * state it started from (`base`); synchronous changes made meanwhile are published at once and
 * noted here, and the landing applies them on top of its own result (see async-add.ts,
 * async-compact.ts).
 */
export class RunningChange {
  /** Slots that synchronous changes emptied or filled meanwhile. */
  readonly touched = new Set<number>();
  /** The rows those changes put in each slot (a compact re-adds them in its own numbering). */
  readonly rows: Map<number, Vector> | null;

  constructor(
    readonly kind: 'add' | 'compact',
    readonly base: IndexState,
    /** The slots an addAsync fills: no other change takes them. */
    readonly reserved: ReadonlySet<number> = new Set(),
    /** The first slot past them. */
    readonly appendFrom = 0,
  ) {
    this.rows = kind === 'compact' ? new Map() : null;
  }

  /** Notes a synchronous change: the slots it emptied, and an add's slots and rows. */
  note(emptied: readonly number[], plan: AddPlan | null): void {
    for (const s of emptied) this.touched.add(s);
    if (plan === null) return;
    plan.slots.forEach((s, i) => {
      this.touched.add(s);
      this.rows?.set(s, copyRow(plan.rows, i));
    });
  }
}

/** What the asynchronous changes work with: the index's published state and how to publish the next. */
export interface ChangeTarget {
  readonly published: IndexState;
  readonly build: BuildSettings;
  readonly changes: ChangeQueue;
  publish(state: IndexState): void;
}

/**
 * The one writer of a living index. Searches read published states and never wait; changes
 * are made one at a time: synchronous ones (add, remove, update) at once, asynchronous ones
 * (addAsync, compact) in call order, each starting when the one before it has ended. It
 * knows which states searches still read, and which state a running change reads, so that
 * a change writes in place only what none of them can see (see WriteRules).
 */
export class ChangeQueue {
  /** States that asynchronous searches (searchBatch) are reading, with how many each. */
  private readonly readers = new Map<IndexState, number>();
  private current: RunningChange | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;

  /** The asynchronous change working now, if any. */
  get running(): RunningChange | null {
    return this.current;
  }

  /** Runs an asynchronous search of `state`: changes until it ends keep out of what it reads. */
  reading<T>(state: IndexState, search: () => Promise<T>): Promise<T> {
    this.readers.set(state, (this.readers.get(state) ?? 0) + 1);
    const done = () => {
      const left = this.readers.get(state)! - 1;
      if (left === 0) this.readers.delete(state);
      else this.readers.set(state, left);
    };
    let running: Promise<T>;
    try {
      running = search();
    } catch (error) {
      done();
      throw error;
    }
    return running.finally(done);
  }

  /**
   * What a change starting now on `published` may write. A synchronous change runs with
   * nothing else on this thread, so only asynchronous searches and a running change can see
   * its writes; while an asynchronous one works, searches of `published` run at any time.
   */
  rules(published: IndexState, async: boolean): WriteRules {
    const readBy = [...this.readers.keys()];
    // An addAsync links its items by reading the rows of the state it started from.
    if (this.current?.kind === 'add') readBy.push(this.current.base);
    if (async) readBy.push(published);
    return {
      inPlace: !async && this.readers.size === 0,
      reserved: this.current?.reserved ?? NONE,
      appendFrom: this.current?.appendFrom ?? 0,
      reusable: (slot) => readBy.every((s) => slot >= s.graph.n || s.removed.has(slot)),
    };
  }

  /** Runs asynchronous changes one at a time in call order: at once when none is running or waiting. */
  enqueue<T>(change: () => Promise<T>): Promise<T> {
    const started = this.queued === 0 ? change() : this.tail.then(change);
    this.queued++;
    const settled = started.then(
      () => {},
      () => {},
    );
    this.tail = settled.then(() => {
      this.queued--;
    });
    return started;
  }

  /** Marks the asynchronous change now working (until `end`). */
  begin(change: RunningChange): void {
    this.current = change;
  }

  end(change: RunningChange): void {
    if (this.current === change) this.current = null;
  }
}

const NONE: ReadonlySet<number> = new Set();

/** Row i of `rows`, copied (the caller may reuse its arrays once add returns). */
function copyRow(rows: Dataset, i: number): Vector {
  const v = rows.get(i);
  if (v instanceof Float32Array) return v.slice();
  return { indices: v.indices.slice(), values: v.values.slice() };
}

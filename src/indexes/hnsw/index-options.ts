import { checkInteger, fail } from '../../errors.js';
import type { Metric } from '../../types.js';
import type { ItemKey, ItemKeys } from '../items/item-keys.js';
import type { ItemLabels } from '../items/item-labels.js';
import type { ItemOrder } from '../items/item-order.js';
import type { Tombstones } from '../items/tombstones.js';
import type { HnswBuildParams } from './build/build-graph.js';
import type { Layout } from './graph/locality-layout.js';

// What an HnswIndex is built from, and how its search parameters default and are checked.

export interface HnswIndexOptions extends HnswBuildParams {
  metric: Metric;
  /** A key per item (non-negative integers up to 2^53 - 1, or strings); results then carry keys. */
  keys?: readonly ItemKey[];
  /** Labels per item (a label, a list, or null), for filtered search ({ label }, { labels }). */
  labels?: readonly (number | readonly number[] | null)[];
  /**
   * How the built index lays out its items in memory. 'locality' (default): graph neighbours
   * in nearby slots (a breadth-first order of the graph), more queries per second once the
   * index outgrows the CPU caches (bench/README.md, "Locality layout"); ids are unchanged
   * (see locality-layout.ts).
   * 'insertion': slot i holds item i.
   */
  layout?: Layout;
}

/** What an index knows about its items beyond their vectors. */
export interface ItemInfo {
  readonly keys?: ItemKeys | null;
  readonly labels?: ItemLabels | null;
  /** Removed slots (a living index's tombstones). */
  readonly removed?: Tombstones | null;
  /** Where items live when slots are not ids (the locality layout). */
  readonly order?: ItemOrder | null;
}

/** buildAsync's options: the build's, plus threads and cancellation. */
export interface HnswAsyncBuildOptions extends HnswIndexOptions {
  /**
   * Worker threads that insert in parallel (batched, deterministic: the same seed gives the
   * same graph for any thread count > 1). Default: every core. 1 runs hnswlib's serial
   * insertion on the calling thread, yielding to the event loop every 20 ms. A worker that
   * dies mid-build (an exit, a kill, a crash) fails the build with WORKER_FAILED (CLOSED if
   * the worker pool was closed); the pool replaces the worker on its next task.
   */
  threads?: number;
  /** Aborting it stops the build with a CANCELLED error. */
  signal?: AbortSignal;
}

export const DEFAULT_EF_FLOOR = 64;

/** The early-termination slack: a finite number >= 0, or Infinity (off) when not given. */
export function resolveLambda(lambda: number | undefined): number {
  if (lambda === undefined) return Infinity;
  if (typeof lambda !== 'number' || !Number.isFinite(lambda) || lambda < 0)
    fail('INVALID_ARGUMENT', `lambda must be a finite number >= 0 (or left out: no early termination), got ${String(lambda)}`);
  return lambda;
}

export function resolveEf(ef: number | undefined, k: number): number {
  if (ef === undefined) return Math.max(k, DEFAULT_EF_FLOOR);
  checkInteger('ef', ef, 1);
  return Math.max(ef, k);
}

import { checkInteger, fail } from '../../errors.js';
import type { Metric } from '../../types.js';
import { METRICS } from '../../types.js';
import type { ItemKey, ItemKeys } from '../items/item-keys.js';
import type { ItemLabels } from '../items/item-labels.js';
import type { ItemOrder } from '../items/item-order.js';
import type { Tombstones } from '../items/tombstones.js';
import { ASYNC_INDEX_OPTION_NAMES, checkOptionNames, INDEX_OPTION_NAMES } from '../option-names.js';
import type { HnswBuildParams } from './build/build-graph.js';
import { checkLayout, type Layout } from './graph/locality-layout.js';

// What an HnswIndex is built from, and how its search parameters default and are checked.

/** Options of HnswIndex.build: the metric, the graph parameters, keys and labels, the memory layout. */
export interface HnswIndexOptions extends HnswBuildParams {
  /** 'l2' (squared Euclidean distance) or 'ip' (inner product). */
  metric: Metric;
  /** A key per item (non-negative integers up to 2^53 - 1, or strings); results then carry keys. */
  keys?: readonly ItemKey[];
  /**
   * Labels per item (a label, a list, or null), for filtered search ({ label }, { labels }).
   * A label is an integer in [0, 2^32 - 1].
   */
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

/**
 * The beam width of a search: `ef` raised to k, or by default max(k, 64, rerank). Re-ranking
 * takes its candidates from the beam, so a `rerank` above an explicit ef (raised to k) is an
 * error rather than silently fewer re-ranked candidates.
 */
export function resolveEf(ef: number | undefined, k: number, rerank = 0): number {
  if (ef === undefined) return Math.max(k, DEFAULT_EF_FLOOR, rerank);
  checkInteger('ef', ef, 1);
  const beam = Math.max(ef, k);
  if (rerank > beam)
    fail(
      'INVALID_ARGUMENT',
      `rerank = ${rerank} is larger than ef = ${beam}: re-ranking takes its candidates from the beam of ef; give ef >= ${rerank}, or a smaller rerank`,
    );
  return beam;
}

/** Checks build's (buildAsync's) options: their names, the metric and the layout. */
export function checkIndexOptions(options: HnswIndexOptions, async: boolean): void {
  checkOptionNames(async ? 'buildAsync' : 'build', options, async ? ASYNC_INDEX_OPTION_NAMES : INDEX_OPTION_NAMES);
  if (!METRICS.includes(options.metric)) fail('INVALID_ARGUMENT', `metric must be 'l2' or 'ip', got ${String(options.metric)}`);
  if (options.layout !== undefined) checkLayout(options.layout);
}

/** The graph-building part of build's (buildAsync's) options. */
export function buildParamsOf(
  options: HnswAsyncBuildOptions,
  async: boolean,
): HnswBuildParams & { threads?: number; signal?: AbortSignal } {
  const { m, efConstruction, seed, keepPruned, onProgress, threads, signal } = options;
  const params: HnswBuildParams & { threads?: number; signal?: AbortSignal } = { m, efConstruction, seed, keepPruned, onProgress };
  return async ? { ...params, threads, signal } : params;
}

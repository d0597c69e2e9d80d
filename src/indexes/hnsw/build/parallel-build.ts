import { fail } from '../../../errors.js';
import type { VectorStore } from '../../../types.js';
import { yieldToEventLoop } from '../../../util/yield.js';
import { HnswGraph } from '../graph/graph.js';
import { WorkerAttachment } from '../workers/worker-attachment.js';
import type { InsertTask } from '../workers/worker-messages.js';
import { buildGraph, buildGraphSerialAsync, drawLevels, type HnswBuildParams, resolveBuildParams } from './build-graph.js';
import { type BatchSpan, layoutScratch } from './insertion-batch.js';

export interface ParallelBuildParams extends HnswBuildParams {
  /** Worker threads. 1 runs hnswlib's serial insertion on this thread. */
  threads: number;
  /** Cancels the build: it stops after the current batch with a CANCELLED error. */
  signal?: AbortSignal;
}

/** Largest batch: its nodes score each other directly, so the cost grows with its square. */
const MAX_BATCH = 128;

/**
 * Nodes inserted together after `inserted` nodes: 1/32 of the graph so far (a batch never
 * sees itself in the graph, so it must stay small next to it), at most MAX_BATCH. It depends
 * on nothing but `inserted`, which keeps the build deterministic for any thread count.
 */
export function batchSizeAfter(inserted: number): number {
  return Math.max(1, Math.min(MAX_BATCH, Math.floor(inserted / 32)));
}

/**
 * Builds the graph on worker threads, batch by batch (see insertion-batch.ts). The calling
 * thread only schedules batches and waits, so it stays responsive. A store that cannot be
 * shared with workers is built on this thread. A worker that dies mid-batch fails the build
 * with WORKER_FAILED (CLOSED if the pool was closed), once no worker still writes the graph.
 */
export async function buildGraphParallel(store: VectorStore, params: ParallelBuildParams): Promise<HnswGraph> {
  const { m, efConstruction, seed, keepPruned } = resolveBuildParams(params);
  const { threads } = params;
  if (threads <= 1) return buildGraphSerialAsync(store, params);
  const n = store.size;
  const graph = new HnswGraph(m, drawLevels(n, m, seed));
  graph.entryPoint = 0;
  graph.maxLevel = graph.levels[0]!;
  const done = await insertRangeParallel(graph, store, 1, n, {
    efConstruction,
    keepPruned,
    threads,
    signal: params.signal,
    onProgress: params.onProgress,
  });
  if (!done) return buildGraph(store, params);
  if (n === 1) params.onProgress?.(1, 1);
  return graph;
}

/**
 * Links nodes [from, to) into `graph` (which holds the nodes it links to; nodes before
 * `from` that are unlinked, such as a living index's removed slots, are simply never met) on
 * worker threads, batch by batch. The graph needs an entry point. Returns false, doing
 * nothing, when the store cannot be shared with workers (the caller inserts on its thread).
 * A worker that dies mid-batch fails it with WORKER_FAILED once the other workers have
 * answered; the graph is then half-linked, and the caller discards it (or works on a copy).
 */
export async function insertRangeParallel(
  graph: HnswGraph,
  store: VectorStore,
  from: number,
  to: number,
  params: {
    efConstruction: number;
    keepPruned: boolean;
    threads: number;
    signal?: AbortSignal;
    onProgress?: (done: number, total: number) => void;
  },
): Promise<boolean> {
  const { efConstruction, keepPruned, threads, signal } = params;
  const m = graph.m;
  const attachment = WorkerAttachment.create(graph, store, null, { efConstruction, keepPruned });
  if (attachment === null) return false;
  try {
    let scratch = new Uint32Array(new SharedArrayBuffer(MAX_BATCH * 4 * (m + 1) * 4));
    const slotAt = new Uint32Array(new SharedArrayBuffer(MAX_BATCH * 4));
    const step = Math.max(1, Math.floor(to / 100));
    let reported = 0;
    for (let at = from; at < to; ) {
      if (signal?.aborted) fail('CANCELLED', 'the build was cancelled');
      const end = Math.min(to, at + batchSizeAfter(at));
      const words = layoutScratch(graph.levels, m, at, end, slotAt);
      if (words > scratch.length) scratch = new Uint32Array(new SharedArrayBuffer(words * 4));
      const span: BatchSpan = { from: at, to: end, entryPoint: graph.entryPoint, maxLevel: graph.maxLevel, slotAt, scratch };
      const next = new Int32Array(new SharedArrayBuffer(4));
      const task =
        (op: InsertTask['op']) =>
        (worker: number): InsertTask => ({ op, handle: attachment.handle, span, next, worker, workers: threads });
      // A worker that dies fails the phase (WORKER_FAILED) once the others have answered; one
      // that died between phases is replaced and attached before the next.
      await attachment.runEach(threads, task('hnswSelect'));
      await attachment.runEach(threads, task('hnswLink'));
      // As in the serial build, the first node to reach a new top level becomes the entry.
      for (let x = at; x < end; x++) {
        if (graph.levels[x]! > graph.maxLevel) {
          graph.entryPoint = x;
          graph.maxLevel = graph.levels[x]!;
        }
      }
      at = end;
      if (params.onProgress && (Math.floor(end / step) > reported || end === to)) {
        reported = Math.floor(end / step);
        params.onProgress(end, to);
      }
    }
    return true;
  } finally {
    await attachment.close();
    // Let a caller's abort listener or progress redraw run between builds.
    await yieldToEventLoop();
  }
}

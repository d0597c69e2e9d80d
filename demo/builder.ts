import { DenseDataset, deserializeIndex, HnswIndex, type Metric, serializeIndex, WorkerPool } from '../src/index.js';
import type { AnyDataset } from './datasets.js';
import type { BuildReply, BuildRequest, WireDataset } from './protocol.js';

/** The page's side of the build worker: start, follow, cancel. */

export interface BuildParams {
  metric: Metric;
  m: number;
  efConstruction: number;
  seed: number;
  /** A label per item (MNIST: its digit), for filtered search. */
  labels?: number[];
}

export interface Built {
  index: HnswIndex;
  bytes: Uint8Array;
  ms: number;
  /** Worker threads that inserted (1: the single build worker). */
  threads: number;
}

export interface BuildJob {
  /** Resolves with the index and its serialized bytes; rejects with BuildCancelled on cancel. */
  result: Promise<Built>;
  cancel(): void;
}

/**
 * Threads the page can use: every core on a cross-origin isolated page (the demo's server
 * sends COOP/COEP), else 1 (the library says why, once, through `notice`).
 */
export function usableThreads(notice: (message: string) => void): Promise<number> {
  return WorkerPool.threadsFor(undefined, notice);
}

/**
 * Builds on every core with the library's worker pool (the page only schedules batches), or,
 * where the page cannot share memory with workers, in one build worker as before.
 */
export function startBuild(
  data: AnyDataset,
  params: BuildParams,
  threads: number,
  onProgress: (done: number, total: number) => void,
): BuildJob {
  return threads > 1 ? startParallelBuild(data, params, threads, onProgress) : startWorkerBuild(data, params, onProgress);
}

function startParallelBuild(
  data: AnyDataset,
  params: BuildParams,
  threads: number,
  onProgress: (done: number, total: number) => void,
): BuildJob {
  const controller = new AbortController();
  const result = (async (): Promise<Built> => {
    const start = performance.now();
    try {
      const index = await HnswIndex.buildAsync(data, { ...params, threads, onProgress, signal: controller.signal });
      const ms = performance.now() - start;
      return { index, bytes: serializeIndex(index), ms, threads };
    } catch (e) {
      throw (e as { code?: string }).code === 'CANCELLED' ? new BuildCancelled() : e;
    }
  })();
  return { result, cancel: () => controller.abort() };
}

export class BuildCancelled extends Error {
  constructor() {
    super('build cancelled');
    this.name = 'BuildCancelled';
  }
}

/** Posting a view clones its whole buffer: send views of a larger file as compact copies. */
function own<T extends Float32Array | Uint32Array>(a: T): T {
  return (a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice()) as T;
}

function toWire(d: AnyDataset): WireDataset {
  return d instanceof DenseDataset
    ? { kind: 'dense', data: own(d.data), dim: d.dim }
    : { kind: 'sparse', indptr: own(d.indptr), indices: own(d.indices), values: own(d.values), dim: d.dim };
}

function startWorkerBuild(data: AnyDataset, params: BuildParams, onProgress: (done: number, total: number) => void): BuildJob {
  const worker = new Worker(new URL('./build-worker.ts', import.meta.url), { type: 'module', name: 'webannolo-build' });
  let settle: { reject: (e: unknown) => void } | null = null;
  const result = new Promise<Built>((resolve, reject) => {
    settle = { reject };
    worker.onmessage = (ev: MessageEvent<BuildReply>) => {
      const msg = ev.data;
      if (msg.type === 'progress') {
        onProgress(msg.done, msg.total);
        return;
      }
      worker.terminate();
      if (msg.type === 'error') {
        reject(new Error(msg.code ? `${msg.message} (${msg.code})` : msg.message));
        return;
      }
      try {
        const bytes = new Uint8Array(msg.bytes);
        const index = deserializeIndex(bytes);
        if (!(index instanceof HnswIndex)) throw new Error('the worker sent back something other than an HNSW index');
        resolve({ index, bytes, ms: msg.ms, threads: 1 });
      } catch (e) {
        reject(e);
      }
    };
    worker.onerror = (ev) => {
      worker.terminate();
      reject(new Error(`the build worker failed: ${ev.message || 'unknown error'}`));
    };
  });
  const request: BuildRequest = { data: toWire(data), ...params };
  worker.postMessage(request);
  return {
    result,
    cancel() {
      worker.terminate();
      settle?.reject(new BuildCancelled());
    },
  };
}

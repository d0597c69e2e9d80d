import { DenseDataset, HnswIndex, deserializeIndex, type Metric } from '../src/index.js';
import type { AnyDataset } from './datasets.js';
import type { BuildReply, BuildRequest, WireDataset } from './protocol.js';

/** The page's side of the build worker: start, follow, cancel. */

export interface BuildParams {
  metric: Metric;
  m: number;
  efConstruction: number;
  seed: number;
}

export interface BuildJob {
  /** Resolves with the index and its serialized bytes; rejects with BuildCancelled on cancel. */
  result: Promise<{ index: HnswIndex; bytes: Uint8Array; ms: number }>;
  cancel(): void;
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

export function startBuild(data: AnyDataset, params: BuildParams, onProgress: (done: number, total: number) => void): BuildJob {
  const worker = new Worker(new URL('./build-worker.ts', import.meta.url), { type: 'module', name: 'webannolo-build' });
  let settle: { reject: (e: unknown) => void } | null = null;
  const result = new Promise<{ index: HnswIndex; bytes: Uint8Array; ms: number }>((resolve, reject) => {
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
        resolve({ index, bytes, ms: msg.ms });
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

import { DenseDataset, HnswIndex, SparseDataset, serializeIndex, WebannoloError } from '../src/index.js';
import type { BuildReply, BuildRequest, WireDataset } from './protocol.js';

/** Builds an HNSW index off the page's thread and sends it back as serialized bytes. */

const scope = self as unknown as {
  onmessage: ((ev: MessageEvent<BuildRequest>) => void) | null;
  postMessage(message: BuildReply, transfer?: Transferable[]): void;
};

function toDataset(w: WireDataset): DenseDataset | SparseDataset {
  return w.kind === 'dense' ? new DenseDataset(w.data, w.dim) : new SparseDataset(w.indptr, w.indices, w.values, w.dim);
}

scope.onmessage = (ev) => {
  const req = ev.data;
  try {
    const start = performance.now();
    const index = HnswIndex.build(toDataset(req.data), {
      metric: req.metric,
      m: req.m,
      efConstruction: req.efConstruction,
      seed: req.seed,
      labels: req.labels,
      onProgress: (done, total) => scope.postMessage({ type: 'progress', done, total }),
    });
    const bytes = serializeIndex(index);
    const ms = performance.now() - start;
    // Send exactly the index's bytes, without copying when they fill their buffer.
    const buffer =
      bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer;
    scope.postMessage({ type: 'done', bytes: buffer, ms }, [buffer]);
  } catch (e) {
    const code = e instanceof WebannoloError ? e.code : undefined;
    scope.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e), code });
  }
};

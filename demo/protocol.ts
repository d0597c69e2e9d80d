import type { Metric } from '../src/index.js';

/** Messages between the page and the build worker. */

export type WireDataset =
  | { kind: 'dense'; data: Float32Array; dim: number }
  | { kind: 'sparse'; indptr: Uint32Array; indices: Uint32Array; values: Float32Array; dim: number };

export interface BuildRequest {
  data: WireDataset;
  metric: Metric;
  m: number;
  efConstruction: number;
  seed: number;
  /** A label per item (MNIST: its digit), for filtered search. */
  labels?: number[];
}

export type BuildReply =
  | { type: 'progress'; done: number; total: number }
  /** The built index, serialized (the buffer is transferred, not copied). */
  | { type: 'done'; bytes: ArrayBuffer; ms: number }
  | { type: 'error'; message: string; code?: string };

import type { DenseDataset } from '../data/dense.js';
import type { Metric, VectorStore } from '../types.js';

/**
 * A compressed encoding of dense vectors: product quantization ('pq'), IEEE half ('f16'), or
 * per-dimension bytes ('sq8'). encode() trains first when the quantizer needs it and is
 * untrained. HnswIndex.quantize() swaps an index's plain vectors for such a store.
 */
export interface DenseQuantizer {
  /** The store kind it makes, as index files name it ('pq', 'f16', ...). */
  readonly name: string;
  /** Trains if needed, then encodes `data` into a store for `metric`. */
  encode(data: DenseDataset, metric: Metric): VectorStore;
}

import { DenseDataset } from '../data/dense.js';
import { SparseDataset } from '../data/sparse.js';
import { fail } from '../errors.js';
import type { Dataset, Metric } from '../types.js';
import { type DenseStoreOptions, PlainDenseStore } from './dense/store.js';
import { PlainSparseStore } from './sparse/store.js';

// The plain stores are public under this module too (src/index.ts, bench/).
export { type DenseStoreOptions, PlainDenseStore, type SharedDenseStore } from './dense/store.js';
export { PlainSparseStore, type SharedSparseStore } from './sparse/store.js';

/**
 * The identity quantizer: the store is the dataset itself (no copy). Exists so that plain
 * search goes through the same Quantizer/QueryEvaluator seam as every other encoding.
 */
export class PlainQuantizer {
  /** 'plain'. */
  readonly name = 'plain';
  constructor(private readonly options: DenseStoreOptions = {}) {}
  /** Nothing to learn: plain vectors are stored as they are. */
  train(_data: Dataset): void {}
  /** The plain store of `data`: dense vectors in WebAssembly memory, or sparse rows. */
  encode(data: Dataset, metric: Metric): PlainDenseStore | PlainSparseStore {
    if (data instanceof DenseDataset) return new PlainDenseStore(data, metric, this.options);
    if (data instanceof SparseDataset) return new PlainSparseStore(data, metric);
    return fail('INVALID_ARGUMENT', 'plain quantizer needs a DenseDataset or a SparseDataset');
  }
}

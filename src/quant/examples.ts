import { DenseDataset } from '../data/dense.js';
import { SparseDataset } from '../data/sparse.js';
import { Rng } from '../util/rng.js';

/**
 * Small seeded datasets for the kinds' `example` stores (StoreKind.example): enough rows for
 * PQ training (256 centroids), few enough to check in milliseconds.
 */
export function exampleDense(size = 300, dim = 16, seed = 7): DenseDataset {
  const rng = new Rng(seed);
  const data = new Float32Array(size * dim);
  for (let i = 0; i < data.length; i++) data[i] = rng.nextOpenUnit() * 2 - 1;
  return new DenseDataset(data, dim);
}

/** Rows of `nnz` distinct, sorted components out of `dim`, with positive values. */
export function exampleSparse(size = 200, dim = 64, nnz = 6, seed = 7): SparseDataset {
  const rng = new Rng(seed);
  const rows = Array.from({ length: size }, () => {
    const picked = new Set<number>();
    while (picked.size < nnz) picked.add(rng.nextInt(dim));
    const indices = Uint32Array.from([...picked].sort((a, b) => a - b));
    const values = Float32Array.from(indices, () => rng.nextOpenUnit());
    return { indices, values };
  });
  return SparseDataset.fromRows(rows, dim);
}

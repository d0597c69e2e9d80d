import { SparseDataset } from '../../data/sparse.js';
import { intParam, sizedSection } from '../codec-checks.js';
import type { StoreCodec, StoreLayout } from '../store-kind.js';
import { PlainSparseStore } from './store.js';

/**
 * The largest dimension a file may claim: component ids are u32, and a query is scattered
 * into a row of dim floats, which wasm32 memory and one ArrayBuffer must be able to hold.
 */
const MAX_SPARSE_DIM = 2 ** 31;

/** Plain sparse vectors in an index file: the CSR arrays as three sections. */
export const sparseCodec: StoreCodec = {
  kind: 'sparse',
  encode(store) {
    const d = (store as PlainSparseStore).data;
    return { params: { size: d.size, dim: d.dim }, sections: { indptr: d.indptr, indices: d.indices, values: d.values } };
  },
  layout,
  decode(params, section, metric) {
    const { size, dim } = layout(params);
    // The dataset checks the rest: indptr from 0, non-decreasing, ending at the non-zero count;
    // each row's ids strictly increasing and below dim; every value finite.
    const data = new SparseDataset(
      sizedSection(section('indptr'), Uint32Array, 'indptr', size + 1),
      sizedSection(section('indices'), Uint32Array, 'indices', undefined),
      sizedSection(section('values'), Float32Array, 'values', undefined),
      dim,
    );
    return new PlainSparseStore(data, metric);
  },
};

function layout(params: Record<string, unknown>): StoreLayout {
  const size = intParam(params, 'size', 1);
  const dim = intParam(params, 'dim', 1, MAX_SPARSE_DIM);
  return { size, dim, sections: { indptr: { dtype: 'u32', length: size + 1 }, indices: { dtype: 'u32' }, values: { dtype: 'f32' } } };
}

import { SparseDataset } from '../../data/sparse.js';
import { fail } from '../../errors.js';
import { intParam, typedSection } from '../codec-checks.js';
import type { StoreCodec } from '../store-kind.js';
import { PlainSparseStore } from './store.js';

/** Plain sparse vectors in an index file: the CSR arrays as three sections. */
export const sparseCodec: StoreCodec = {
  kind: 'sparse',
  encode(store) {
    const d = (store as PlainSparseStore).data;
    return { params: { size: d.size, dim: d.dim }, sections: { indptr: d.indptr, indices: d.indices, values: d.values } };
  },
  decode(params, section, metric) {
    const dim = intParam(params, 'dim');
    const data = new SparseDataset(
      typedSection(section('indptr'), Uint32Array, 'indptr'),
      typedSection(section('indices'), Uint32Array, 'indices'),
      typedSection(section('values'), Float32Array, 'values'),
      dim,
    );
    if (data.size !== intParam(params, 'size')) fail('CORRUPT_FILE', 'sparse store size does not match its header');
    return new PlainSparseStore(data, metric);
  },
};

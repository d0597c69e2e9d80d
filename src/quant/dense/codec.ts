import { DenseDataset } from '../../data/dense.js';
import { fail } from '../../errors.js';
import { intParam, typedSection } from '../codec-checks.js';
import type { StoreCodec } from '../store-kind.js';
import { reserveDenseRows } from './arena.js';
import { PlainDenseStore } from './store.js';

/**
 * Plain dense vectors in an index file: one `vectors` section (size x dim f32) and which
 * kernels scored them. Also writes other stores that report kind 'dense' and have `vectors`
 * (a file-backed re-ranking store).
 */
export const denseCodec: StoreCodec = {
  kind: 'dense',
  encode(store) {
    const s = store as PlainDenseStore;
    return { params: { size: s.size, dim: s.dim, kernels: s.kernels }, sections: { vectors: s.vectors } };
  },
  decode(params, section, metric) {
    const size = intParam(params, 'size');
    const dim = intParam(params, 'dim');
    const vectors = typedSection(section('vectors'), Float32Array, 'vectors');
    if (vectors.length !== size * dim) fail('CORRUPT_FILE', `vectors section holds ${vectors.length} floats, expected ${size} x ${dim}`);
    return new PlainDenseStore(new DenseDataset(vectors, dim), metric, { simd: params['kernels'] !== 'js' });
  },
  sectionBuffer(params, name, byteLength) {
    const dim = params['dim'];
    if (
      name !== 'vectors' ||
      params['kernels'] === 'js' ||
      typeof dim !== 'number' ||
      !Number.isInteger(dim) ||
      dim < 1 ||
      byteLength % (dim * 4) !== 0
    )
      return null;
    const rows = reserveDenseRows(byteLength / (dim * 4), dim);
    return rows && new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength);
  },
};

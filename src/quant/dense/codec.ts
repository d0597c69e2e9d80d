import { DenseDataset } from '../../data/dense.js';
import { intParam, sizedSection } from '../codec-checks.js';
import type { StoreCodec, StoreLayout } from '../store-kind.js';
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
  layout,
  decode(params, section, metric) {
    const { dim, sections } = layout(params);
    const vectors = sizedSection(section('vectors'), Float32Array, 'vectors', sections['vectors']!.length);
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

/** A dataset is never empty: at least one row of at least one component. */
function layout(params: Record<string, unknown>): StoreLayout {
  const size = intParam(params, 'size', 1);
  const dim = intParam(params, 'dim', 1);
  return { size, dim, sections: { vectors: { dtype: 'f32', length: size * dim } } };
}

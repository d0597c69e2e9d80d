import { firstNonFinite } from '../../data/dense.js';
import { fail } from '../../errors.js';
import { intParam, sizedSection } from '../codec-checks.js';
import type { StoreCodec, StoreLayout } from '../store-kind.js';
import { PQ_KSUB } from './codebook.js';
import { ProductQuantizer } from './quantizer.js';
import { PqStore } from './store.js';

/** PQ codes in an index file: the codebooks and the m-byte codes, with m and ksub in the header. */
export const pqCodec: StoreCodec = {
  kind: 'pq',
  encode(store) {
    const s = store as PqStore;
    return { params: { size: s.size, dim: s.dim, m: s.pq.m, ksub: PQ_KSUB }, sections: { codebooks: s.pq.codebooks, codes: s.codes } };
  },
  layout,
  decode(params, section, metric) {
    const { dim, sections } = layout(params);
    const m = params['m'] as number;
    const codebooks = sizedSection(section('codebooks'), Float32Array, 'codebooks', sections['codebooks']!.length);
    // A non-finite centroid would make every distance through it NaN: never a usable index.
    const bad = firstNonFinite(codebooks);
    if (bad >= 0) fail('CORRUPT_FILE', `PQ codebooks hold a non-finite value (${codebooks[bad]}) at ${bad}`);
    const pq = ProductQuantizer.fromCodebooks(dim, m, codebooks);
    const codes = sizedSection(section('codes'), Uint8Array, 'codes', sections['codes']!.length);
    return new PqStore(pq, codes, metric);
  },
};

/** m subspaces of dim / m components each, 256 centroids per subspace (all this reader knows). */
function layout(params: Record<string, unknown>): StoreLayout {
  const size = intParam(params, 'size', 1);
  const dim = intParam(params, 'dim', 1);
  const m = intParam(params, 'm', 1, 65535);
  if (dim % m !== 0) fail('CORRUPT_FILE', `index header has PQ m = ${m}, which does not divide the dimension ${dim}`);
  if (params['ksub'] !== PQ_KSUB) fail('UNSUPPORTED_FORMAT', `PQ with ${String(params['ksub'])} centroids per subspace is not supported`);
  return { size, dim, sections: { codebooks: { dtype: 'f32', length: dim * PQ_KSUB }, codes: { dtype: 'u8', length: size * m } } };
}

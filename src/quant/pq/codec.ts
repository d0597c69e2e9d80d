import { fail } from '../../errors.js';
import { intParam, typedSection } from '../codec-checks.js';
import type { StoreCodec } from '../store-kind.js';
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
  decode(params, section, metric) {
    const dim = intParam(params, 'dim');
    const m = intParam(params, 'm');
    if (params['ksub'] !== PQ_KSUB) fail('UNSUPPORTED_FORMAT', `PQ with ${String(params['ksub'])} centroids per subspace is not supported`);
    const pq = ProductQuantizer.fromCodebooks(dim, m, typedSection(section('codebooks'), Float32Array, 'codebooks'));
    const codes = typedSection(section('codes'), Uint8Array, 'codes');
    if (codes.length !== intParam(params, 'size') * m) fail('CORRUPT_FILE', 'PQ codes section does not match size x m');
    return new PqStore(pq, codes, metric);
  },
};

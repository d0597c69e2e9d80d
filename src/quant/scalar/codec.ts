import { fail } from '../../errors.js';
import type { SectionArray } from '../../io/container.js';
import { intParam, typedSection } from '../codec-checks.js';
import type { StoreCodec } from '../store-kind.js';
import { ScalarCodec, type ScalarEncoding } from './scalar-encoding.js';
import { reserveScalarCodes, ScalarStore } from './store.js';

/**
 * f16 or SQ8 codes in an index file: the padded code rows as the kernels read them (so
 * loading is one copy), and SQ8's per-dimension range.
 */
export function scalarCodec(encoding: ScalarEncoding): StoreCodec {
  return {
    kind: encoding,
    encode(store) {
      const s = store as ScalarStore;
      const { mins, scales, rowBytes } = s.codec;
      const sections: Record<string, SectionArray> = { codes: s.codes };
      if (mins && scales) Object.assign(sections, { mins, scales });
      return { params: { size: s.size, dim: s.dim, rowBytes, kernels: s.kernels }, sections };
    },
    decode(params, section, metric) {
      const dim = intParam(params, 'dim');
      const size = intParam(params, 'size');
      const ranges =
        encoding === 'sq8'
          ? [typedSection(section('mins'), Float32Array, 'mins'), typedSection(section('scales'), Float32Array, 'scales')]
          : [null, null];
      const codec = new ScalarCodec(encoding, dim, metric, ranges[0]!, ranges[1]!);
      if (intParam(params, 'rowBytes') !== codec.rowBytes)
        fail('CORRUPT_FILE', `${encoding} rows of ${String(params['rowBytes'])} bytes do not match dimension ${dim}`);
      const codes = typedSection(section('codes'), Uint8Array, 'codes');
      if (codes.length !== size * codec.rowBytes)
        fail('CORRUPT_FILE', `${encoding} codes section holds ${codes.length} bytes, expected ${size} x ${codec.rowBytes}`);
      return ScalarStore.fromCodes(codec, codes, { simd: params['kernels'] !== 'js' });
    },
    sectionBuffer(params, name, byteLength) {
      const dim = params['dim'];
      if (name !== 'codes' || params['kernels'] === 'js' || typeof dim !== 'number' || !Number.isInteger(dim) || dim < 1) return null;
      return reserveScalarCodes(byteLength, Math.ceil(dim / 16) * 16);
    },
  };
}

import { fail } from '../../errors.js';
import type { SectionArray } from '../../io/container.js';
import { intParam, sizedSection } from '../codec-checks.js';
import type { StoreCodec, StoreLayout } from '../store-kind.js';
import { ScalarCodec, type ScalarEncoding } from './scalar-encoding.js';
import { reserveScalarCodes, ScalarStore } from './store.js';

/**
 * f16 or SQ8 codes in an index file: the padded code rows as the kernels read them (so
 * loading is one copy), and SQ8's per-dimension range.
 */
export function scalarCodec(encoding: ScalarEncoding): StoreCodec {
  /** Rows of ceil(dim / 16) x 16 components, 2 bytes each (f16) or 1 (SQ8) plus SQ8's range per dimension. */
  function layout(params: Record<string, unknown>): StoreLayout {
    const size = intParam(params, 'size', 1);
    const dim = intParam(params, 'dim', 1);
    // The padding as the kernels lay rows out (an f16 codec over dim needs no ranges to say it).
    const rowBytes = new ScalarCodec('f16', dim, 'l2', null, null).paddedDim * (encoding === 'f16' ? 2 : 1);
    if (params['rowBytes'] !== rowBytes)
      fail('CORRUPT_FILE', `index header has ${encoding} rows of ${String(params['rowBytes'])} bytes, dimension ${dim} needs ${rowBytes}`);
    const sections: StoreLayout['sections'] =
      encoding === 'sq8'
        ? { codes: { dtype: 'u8', length: size * rowBytes }, mins: { dtype: 'f32', length: dim }, scales: { dtype: 'f32', length: dim } }
        : { codes: { dtype: 'u8', length: size * rowBytes } };
    return { size, dim, sections };
  }
  return {
    kind: encoding,
    encode(store) {
      const s = store as ScalarStore;
      const { mins, scales, rowBytes } = s.codec;
      const sections: Record<string, SectionArray> = { codes: s.codes };
      if (mins && scales) Object.assign(sections, { mins, scales });
      return { params: { size: s.size, dim: s.dim, rowBytes, kernels: s.kernels }, sections };
    },
    layout,
    decode(params, section, metric) {
      const { dim, sections } = layout(params);
      // SQ8's range is checked by the codec: finite minimums, finite non-negative scales.
      const ranges =
        encoding === 'sq8'
          ? [sizedSection(section('mins'), Float32Array, 'mins', dim), sizedSection(section('scales'), Float32Array, 'scales', dim)]
          : [null, null];
      const codec = new ScalarCodec(encoding, dim, metric, ranges[0]!, ranges[1]!);
      const codes = sizedSection(section('codes'), Uint8Array, 'codes', sections['codes']!.length);
      return ScalarStore.fromCodes(codec, codes, { simd: params['kernels'] !== 'js' });
    },
    sectionBuffer(params, name, byteLength) {
      const dim = params['dim'];
      if (name !== 'codes' || params['kernels'] === 'js' || typeof dim !== 'number' || !Number.isInteger(dim) || dim < 1) return null;
      return reserveScalarCodes(byteLength, Math.ceil(dim / 16) * 16);
    },
  };
}

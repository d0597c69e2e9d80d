import { firstNonFinite } from '../../data/dense.js';
import { fail } from '../../errors.js';
import { intParam, sizedSection } from '../codec-checks.js';
import type { StoreCodec, StoreLayout } from '../store-kind.js';
import { FACTORS, QUERY_BITS, RabitqEncoding } from './encoding.js';
import { RABITQ_MIN_DIM } from './quantizer.js';
import { HadamardRotation, paddedDimOf, ROTATION_ROUNDS } from './rotation.js';
import { RabitqStore } from './store.js';
import { RABITQ_MAX_BITS } from './wasm-kernels.js';

/** What the header implies: codes of bits x P / 8 bytes, FACTORS floats per item, the centroid and the rotation's signs. */
function layout(params: Record<string, unknown>): StoreLayout {
  const size = intParam(params, 'size', 1);
  const dim = intParam(params, 'dim', RABITQ_MIN_DIM, 1 << 20);
  const bits = intParam(params, 'bits', 1, RABITQ_MAX_BITS);
  const P = paddedDimOf(dim);
  const eps = params['epsilon0'];
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0)
    fail('CORRUPT_FILE', `index header has an invalid store 'epsilon0' (${JSON.stringify(eps) ?? 'missing'}; expected a positive number)`);
  return {
    size,
    dim,
    sections: {
      codes: { dtype: 'u8', length: (size * bits * P) / 8 },
      factors: { dtype: 'f32', length: size * FACTORS },
      centroid: { dtype: 'f32', length: dim },
      signs: { dtype: 'u8', length: ROTATION_ROUNDS * P },
    },
  };
}

/** RaBitQ codes in an index file: the codes as the kernels read them, the factors, the centroid and the rotation. */
export const rabitqCodec: StoreCodec = {
  kind: 'rabitq',
  encode(store) {
    const s = store as RabitqStore;
    const e = s.encoding;
    return {
      params: { size: s.size, dim: s.dim, bits: e.bits, epsilon0: e.epsilon0, kernels: s.kernels },
      sections: { codes: s.codes, factors: s.factors, centroid: e.centroid, signs: e.rotation.signs },
    };
  },
  layout,
  decode(params, section, metric) {
    const { dim, sections } = layout(params);
    const length = (name: string) => sections[name]!.length;
    const centroid = sizedSection(section('centroid'), Float32Array, 'centroid', length('centroid'));
    const factors = sizedSection(section('factors'), Float32Array, 'factors', length('factors'));
    for (const [name, a] of [
      ['centroid', centroid],
      ['factors', factors],
    ] as const) {
      const bad = firstNonFinite(a);
      if (bad >= 0) fail('CORRUPT_FILE', `RaBitQ ${name} hold a non-finite value (${a[bad]}) at ${bad}`);
    }
    // ob = <o_bar, o> divides every estimate and bound: a code's direction is within 90 degrees of its vector.
    for (let i = 0; i < factors.length; i += FACTORS) {
      const ob = factors[i + 4]!;
      if (!(ob > 0 && ob <= 1.0001) || factors[i + 3]! < 0)
        fail('CORRUPT_FILE', `RaBitQ factors of item ${i / FACTORS} are invalid (|o'| ${factors[i + 3]}, ob ${ob})`);
    }
    const rotation = new HadamardRotation(dim, sizedSection(section('signs'), Uint8Array, 'signs', length('signs')));
    const encoding = new RabitqEncoding(dim, metric, params['bits'] as number, centroid, rotation, params['epsilon0'] as number);
    const codes = sizedSection(section('codes'), Uint8Array, 'codes', length('codes'));
    return RabitqStore.fromCodes(encoding, codes, factors, { simd: params['kernels'] !== 'js' });
  },
  sectionBuffer(params, name, byteLength) {
    if ((name !== 'codes' && name !== 'factors') || params['kernels'] === 'js') return null;
    const { size, dim, sections } = layout(params);
    const rowBytes = sections['codes']!.length! / size;
    const placed = RabitqStore.reserveSection(params, name, size, rowBytes, (QUERY_BITS * paddedDimOf(dim)) / 8);
    return placed !== null && placed.byteLength === byteLength ? placed : null;
  },
};

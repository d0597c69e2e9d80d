import { DenseDataset } from '../data/dense.js';
import { SparseDataset } from '../data/sparse.js';
import { fail } from '../errors.js';
import { PlainDenseStore, reserveDenseRows } from '../quant/dense/store.js';
import { PlainSparseStore } from '../quant/plain.js';
import { PQ_KSUB, PqStore, ProductQuantizer } from '../quant/pq/pq.js';
import { SCALAR_ENCODINGS, ScalarCodec } from '../quant/scalar/scalar-encoding.js';
import { reserveScalarCodes, ScalarStore } from '../quant/scalar/store.js';
import type { Metric, VectorStore } from '../types.js';
import type { SectionArray } from './container.js';

/**
 * How each kind of store goes into and out of an index file. A new quantizer registers its
 * codec here (registerStoreCodec) and needs no change to the file format or to the indexes.
 */
export interface StoreCodec {
  readonly kind: string;
  encode(store: VectorStore): { params: Record<string, unknown>; sections: Record<string, SectionArray> };
  decode(params: Record<string, unknown>, section: (name: string) => SectionArray, metric: Metric): VectorStore;
  /**
   * Optional, for loaders that read sections piecewise: where to read section `name`
   * (`byteLength` bytes) so that decode() can adopt it instead of copying (e.g. straight into
   * the SIMD kernels' memory), or null for plain memory.
   */
  sectionBuffer?(params: Record<string, unknown>, name: string, byteLength: number): Uint8Array | null;
}

const codecs = new Map<string, StoreCodec>();

export function registerStoreCodec(codec: StoreCodec): void {
  codecs.set(codec.kind, codec);
}

export function hasStoreCodec(kind: string): boolean {
  return codecs.has(kind);
}

export function storeCodec(kind: string): StoreCodec {
  const codec = codecs.get(kind);
  if (!codec) return fail('UNSUPPORTED_FORMAT', `index file holds a '${kind}' store, which this build of webannolo cannot read`);
  return codec;
}

function num(params: Record<string, unknown>, key: string): number {
  const v = params[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail('CORRUPT_FILE', `index header has an invalid '${key}'`);
  return v;
}

function typed<T extends SectionArray>(a: SectionArray, ctor: new (...args: never[]) => T, name: string): T {
  if (!(a instanceof ctor)) fail('CORRUPT_FILE', `section '${name}' has the wrong element type`);
  return a as T;
}

registerStoreCodec({
  kind: 'dense',
  encode(store) {
    const s = store as PlainDenseStore;
    return { params: { size: s.size, dim: s.dim, kernels: s.kernels }, sections: { vectors: s.vectors } };
  },
  decode(params, section, metric) {
    const size = num(params, 'size');
    const dim = num(params, 'dim');
    const vectors = typed(section('vectors'), Float32Array, 'vectors');
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
});

registerStoreCodec({
  kind: 'sparse',
  encode(store) {
    const d = (store as PlainSparseStore).data;
    return { params: { size: d.size, dim: d.dim }, sections: { indptr: d.indptr, indices: d.indices, values: d.values } };
  },
  decode(params, section, metric) {
    const dim = num(params, 'dim');
    const data = new SparseDataset(
      typed(section('indptr'), Uint32Array, 'indptr'),
      typed(section('indices'), Uint32Array, 'indices'),
      typed(section('values'), Float32Array, 'values'),
      dim,
    );
    if (data.size !== num(params, 'size')) fail('CORRUPT_FILE', 'sparse store size does not match its header');
    return new PlainSparseStore(data, metric);
  },
});

registerStoreCodec({
  kind: 'pq',
  encode(store) {
    const s = store as PqStore;
    return { params: { size: s.size, dim: s.dim, m: s.pq.m, ksub: PQ_KSUB }, sections: { codebooks: s.pq.codebooks, codes: s.codes } };
  },
  decode(params, section, metric) {
    const dim = num(params, 'dim');
    const m = num(params, 'm');
    if (params['ksub'] !== PQ_KSUB) fail('UNSUPPORTED_FORMAT', `PQ with ${String(params['ksub'])} centroids per subspace is not supported`);
    const pq = ProductQuantizer.fromCodebooks(dim, m, typed(section('codebooks'), Float32Array, 'codebooks'));
    const codes = typed(section('codes'), Uint8Array, 'codes');
    if (codes.length !== num(params, 'size') * m) fail('CORRUPT_FILE', 'PQ codes section does not match size x m');
    return new PqStore(pq, codes, metric);
  },
});

// f16 and SQ8: the padded code rows as the kernels read them (so loading is one copy), and
// SQ8's per-dimension range.
for (const encoding of SCALAR_ENCODINGS) {
  registerStoreCodec({
    kind: encoding,
    encode(store) {
      const s = store as ScalarStore;
      const { mins, scales, rowBytes } = s.codec;
      const sections: Record<string, SectionArray> = { codes: s.codes };
      if (mins && scales) Object.assign(sections, { mins, scales });
      return { params: { size: s.size, dim: s.dim, rowBytes, kernels: s.kernels }, sections };
    },
    decode(params, section, metric) {
      const dim = num(params, 'dim');
      const size = num(params, 'size');
      const ranges =
        encoding === 'sq8'
          ? [typed(section('mins'), Float32Array, 'mins'), typed(section('scales'), Float32Array, 'scales')]
          : [null, null];
      const codec = new ScalarCodec(encoding, dim, metric, ranges[0]!, ranges[1]!);
      if (num(params, 'rowBytes') !== codec.rowBytes)
        fail('CORRUPT_FILE', `${encoding} rows of ${String(params['rowBytes'])} bytes do not match dimension ${dim}`);
      const codes = typed(section('codes'), Uint8Array, 'codes');
      if (codes.length !== size * codec.rowBytes)
        fail('CORRUPT_FILE', `${encoding} codes section holds ${codes.length} bytes, expected ${size} x ${codec.rowBytes}`);
      return ScalarStore.fromCodes(codec, codes, { simd: params['kernels'] !== 'js' });
    },
    sectionBuffer(params, name, byteLength) {
      const dim = params['dim'];
      if (name !== 'codes' || params['kernels'] === 'js' || typeof dim !== 'number' || !Number.isInteger(dim) || dim < 1) return null;
      return reserveScalarCodes(byteLength, Math.ceil(dim / 16) * 16);
    },
  });
}

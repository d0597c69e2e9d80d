import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DenseDataset } from '../src/data/dense.js';
import { SparseDataset } from '../src/data/sparse.js';
import { type ErrorCode, WebannoloError } from '../src/errors.js';
import { readCsr, writeCsr } from '../src/io/csr.js';
import { type DataFormat, formatFromPath, parseDataset } from '../src/io/formats.js';
import { readNpy, writeNpy } from '../src/io/npy.js';
import { readSparseBin, writeSparseBin } from '../src/io/sparse-bin.js';
import { readBvecs, readFvecs, readIvecs, writeBvecs, writeFvecs, writeIvecs } from '../src/io/vecs.js';
import { readDatasetFile, readIvecsFile, writeFileAtomic } from '../src/node/files.js';
import { describeShared, sharedPath } from './helpers/shared-data.js';

// ---------- helpers ----------

/** The error code thrown by fn, or null when it returns; anything but a WebannoloError fails the test. */
function codeOf(fn: () => unknown): ErrorCode | null {
  try {
    fn();
    return null;
  } catch (err) {
    if (!(err instanceof WebannoloError)) throw err;
    return err.code;
  }
}

function expectCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WebannoloError);
    expect((err as WebannoloError).code).toBe(code);
    if (message) expect((err as Error).message).toMatch(message);
    return;
  }
  expect.fail(`expected a WebannoloError ${code}`);
}

/** The same bytes at a shifted, usually unaligned, byteOffset inside a larger buffer. */
function shifted(bytes: Uint8Array, shift: number): Uint8Array {
  const big = new Uint8Array(bytes.length + shift + 3).fill(0xee);
  big.set(bytes, shift);
  return big.subarray(shift, shift + bytes.length);
}

/** Bit-exact equality of typed arrays (so -0 vs 0 and NaN payloads count). */
function sameBits(a: ArrayBufferView, b: ArrayBufferView): boolean {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function expectSameDense(a: DenseDataset, b: DenseDataset): void {
  expect([a.size, a.dim]).toEqual([b.size, b.dim]);
  expect(sameBits(a.data, b.data)).toBe(true);
}

function expectSameSparse(a: SparseDataset, b: SparseDataset): void {
  expect([a.size, a.dim, a.nnz]).toEqual([b.size, b.dim, b.nnz]);
  expect(sameBits(a.indptr, b.indptr)).toBe(true);
  expect(sameBits(a.indices, b.indices)).toBe(true);
  expect(sameBits(a.values, b.values)).toBe(true);
}

const finiteF32 = fc.float({ noNaN: true, noDefaultInfinity: true });

const denseArb = fc
  .record({ rows: fc.integer({ min: 1, max: 8 }), dim: fc.integer({ min: 1, max: 10 }) })
  .chain(({ rows, dim }) =>
    fc.array(finiteF32, { minLength: rows * dim, maxLength: rows * dim }).map((v) => new DenseDataset(Float32Array.from(v), dim)),
  );

const byteDenseArb = fc
  .record({ rows: fc.integer({ min: 1, max: 8 }), dim: fc.integer({ min: 1, max: 10 }) })
  .chain(({ rows, dim }) =>
    fc
      .array(fc.integer({ min: 0, max: 255 }), { minLength: rows * dim, maxLength: rows * dim })
      .map((v) => new DenseDataset(Float32Array.from(v), dim)),
  );

const ivecsArb = fc
  .record({ rows: fc.integer({ min: 1, max: 8 }), dim: fc.integer({ min: 1, max: 10 }) })
  .chain(({ rows, dim }) =>
    fc
      .array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: rows * dim, maxLength: rows * dim })
      .map((v) => ({ rows, dim, data: Int32Array.from(v) })),
  );

const sparseArb = fc.integer({ min: 1, max: 300 }).chain((dim) =>
  fc
    .array(
      fc.uniqueArray(fc.integer({ min: 0, max: dim - 1 }), { maxLength: Math.min(dim, 12) }).chain((ids) =>
        fc.array(finiteF32, { minLength: ids.length, maxLength: ids.length }).map((vals) => {
          ids.sort((a, b) => a - b);
          return { indices: Uint32Array.from(ids), values: Float32Array.from(vals) };
        }),
      ),
      { minLength: 1, maxLength: 8 },
    )
    .map((rows) => SparseDataset.fromRows(rows, dim)),
);

const shiftArb = fc.integer({ min: 0, max: 7 });

// ---------- round trips ----------

describe('round trips (write then read gives identical data, at any byte offset)', () => {
  it('fvecs', () => {
    fc.assert(
      fc.property(denseArb, shiftArb, (ds, s) => {
        const bytes = writeFvecs(ds);
        const back = readFvecs(shifted(bytes, s));
        expectSameDense(back, ds);
        expect(sameBits(writeFvecs(back), bytes)).toBe(true);
      }),
    );
  });

  it('bvecs', () => {
    fc.assert(fc.property(byteDenseArb, shiftArb, (ds, s) => expectSameDense(readBvecs(shifted(writeBvecs(ds), s)), ds)));
  });

  it('ivecs', () => {
    fc.assert(
      fc.property(ivecsArb, shiftArb, ({ rows, dim, data }, s) => {
        const back = readIvecs(shifted(writeIvecs(rows, dim, data), s));
        expect([back.rows, back.dim]).toEqual([rows, dim]);
        expect(sameBits(back.data, data)).toBe(true);
      }),
    );
  });

  it('npy', () => {
    fc.assert(fc.property(denseArb, shiftArb, (ds, s) => expectSameDense(readNpy(shifted(writeNpy(ds), s)), ds)));
  });

  it('csr', () => {
    fc.assert(fc.property(sparseArb, shiftArb, (ds, s) => expectSameSparse(readCsr(shifted(writeCsr(ds), s)), ds)));
  });

  it('sparse .bin (dim given, since the format does not store it)', () => {
    fc.assert(fc.property(sparseArb, shiftArb, (ds, s) => expectSameSparse(readSparseBin(shifted(writeSparseBin(ds), s), ds.dim), ds)));
  });

  it('limit keeps exactly the first rows', () => {
    fc.assert(
      fc.property(denseArb, sparseArb, fc.integer({ min: 1, max: 10 }), (dense, sparse, limit) => {
        const nd = Math.min(limit, dense.size);
        const ns = Math.min(limit, sparse.size);
        expectSameDense(readFvecs(writeFvecs(dense), limit), dense.slice(0, nd));
        expectSameDense(readNpy(writeNpy(dense), limit), dense.slice(0, nd));
        expectSameSparse(readCsr(writeCsr(sparse), limit), sparse.slice(0, ns));
        expectSameSparse(readSparseBin(writeSparseBin(sparse), sparse.dim, limit), sparse.slice(0, ns));
      }),
    );
  });
});

// ---------- truncation and foreign bytes ----------

describe('truncation: a cut file is an error, never a shorter dataset (except on a row boundary of headerless vecs)', () => {
  /** Every proper prefix of `bytes`: EMPTY_DATA at 0, else TRUNCATED_FILE or (vecs) the row prefix. */
  function checkAllCuts(bytes: Uint8Array, read: (b: Uint8Array) => unknown, rowBytes?: number): void {
    for (let cut = 0; cut < bytes.length; cut++) {
      const part = bytes.subarray(0, cut);
      if (cut === 0) expect(codeOf(() => read(part))).toBe('EMPTY_DATA');
      else if (rowBytes !== undefined && cut % rowBytes === 0) expect(codeOf(() => read(part))).toBe(null);
      else
        expect(
          codeOf(() => read(part)),
          `cut at ${cut} of ${bytes.length}`,
        ).toBe('TRUNCATED_FILE');
    }
  }

  it('fvecs / bvecs / ivecs', () => {
    fc.assert(
      fc.property(denseArb, byteDenseArb, (ds, bs) => {
        checkAllCuts(writeFvecs(ds), (b) => readFvecs(b), 4 + 4 * ds.dim);
        checkAllCuts(writeIvecs(ds.size, ds.dim, new Int32Array(ds.size * ds.dim)), (b) => readIvecs(b), 4 + 4 * ds.dim);
        checkAllCuts(writeBvecs(bs), (b) => readBvecs(b), 4 + bs.dim);
        // A row-boundary cut reads as the prefix rows.
        const rowBytes = 4 + 4 * ds.dim;
        expectSameDense(readFvecs(writeFvecs(ds).subarray(0, rowBytes)), ds.slice(0, 1));
      }),
      { numRuns: 40 },
    );
  });

  it('npy, csr and sparse .bin (their headers announce the size)', () => {
    fc.assert(
      fc.property(denseArb, sparseArb, (ds, sp) => {
        checkAllCuts(writeNpy(ds), (b) => readNpy(b));
        checkAllCuts(writeCsr(sp), (b) => readCsr(b));
        checkAllCuts(writeSparseBin(sp), (b) => readSparseBin(b));
      }),
      { numRuns: 40 },
    );
  });

  it('a cut is reported even when limit needs only the first rows', () => {
    const ds = DenseDataset.fromRows([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const sp = SparseDataset.fromRows(
      [
        { indices: Uint32Array.of(1), values: Float32Array.of(2) },
        { indices: Uint32Array.of(0, 3), values: Float32Array.of(1, 1) },
      ],
      4,
    );
    const cut = (b: Uint8Array) => b.subarray(0, b.length - 1);
    expectCode(() => readFvecs(cut(writeFvecs(ds)), 1), 'TRUNCATED_FILE', /row 2/);
    expectCode(() => readNpy(cut(writeNpy(ds)), 1), 'TRUNCATED_FILE');
    expectCode(() => readCsr(cut(writeCsr(sp)), 1), 'TRUNCATED_FILE', /implies/);
    expectCode(() => readSparseBin(cut(writeSparseBin(sp)), undefined, 1), 'TRUNCATED_FILE', /vector 1/);
  });
});

describe('foreign bytes give a clear WebannoloError, never a crash', () => {
  const readers: Record<string, (b: Uint8Array) => unknown> = {
    fvecs: (b) => readFvecs(b),
    bvecs: (b) => readBvecs(b),
    ivecs: (b) => readIvecs(b),
    npy: (b) => readNpy(b),
    csr: (b) => readCsr(b),
    bin: (b) => readSparseBin(b),
  };

  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        for (const read of Object.values(readers)) codeOf(() => read(bytes)); // throws on any other error
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes behind a valid npy magic, or a random csr header', () => {
    const magic = Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 3 }), (rest, major) => {
        const npy = new Uint8Array(8 + rest.length);
        npy.set(magic);
        npy[6] = major;
        npy.set(rest, 8);
        codeOf(() => readNpy(npy));
        codeOf(() => readCsr(rest));
      }),
      { numRuns: 300 },
    );
  });

  it('a text file is recognised as foreign', () => {
    const text = new TextEncoder().encode('this is a plain text file, certainly not a set of vectors\n');
    expectCode(() => readFvecs(text), 'FOREIGN_FILE', /not a \.fvecs file/);
    expectCode(() => readBvecs(text), 'FOREIGN_FILE');
    expectCode(() => readNpy(text), 'FOREIGN_FILE', /\\x93NUMPY/);
    expectCode(() => readCsr(text), 'FOREIGN_FILE', /not a \.csr file/);
    // A headerless stream of lengths cannot tell "cut short" from "not ours": the message names both.
    const code = codeOf(() => readSparseBin(text));
    expect(['FOREIGN_FILE', 'TRUNCATED_FILE']).toContain(code);
    expectCode(() => readSparseBin(text), code!, /not a kANNolo\/Seismic \.bin file/);
  });
});

// ---------- format-specific checks ----------

/** Rows of an fvecs file given as [d, ...values] with free d, to build malformed files. */
function rawVecs(rows: number[][]): Uint8Array {
  const out = new Uint8Array(rows.reduce((s, r) => s + 4 * r.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const [d, ...vals] of rows) {
    view.setInt32(at, d!, true);
    at += 4;
    for (const v of vals) {
      view.setFloat32(at, v, true);
      at += 4;
    }
  }
  return out;
}

describe('vecs', () => {
  it('rejects NaN and Infinity with NON_FINITE', () => {
    expectCode(
      () =>
        readFvecs(
          rawVecs([
            [2, 1, 2],
            [2, 3, NaN],
          ]),
        ),
      'NON_FINITE',
      /vector 1/,
    );
    expectCode(() => readFvecs(rawVecs([[2, Infinity, 2]])), 'NON_FINITE');
  });

  it('rejects ragged rows, naming the row', () => {
    expectCode(
      () =>
        readFvecs(
          rawVecs([
            [2, 1, 2],
            [2, 1, 2],
            [3, 1, 2, 3],
          ]),
        ),
      'DIMENSION_MISMATCH',
      /row 2 has dimension 3, expected 2/,
    );
  });

  it('rejects a zero, negative or absurd dimension as a foreign file', () => {
    expectCode(() => readFvecs(rawVecs([[0]])), 'FOREIGN_FILE');
    expectCode(() => readFvecs(rawVecs([[-3, 1, 2, 3]])), 'FOREIGN_FILE', /-3/);
    expectCode(() => readIvecs(rawVecs([[2 ** 30, 1]])), 'FOREIGN_FILE');
  });

  it('validates limit and writer arguments', () => {
    const bytes = writeFvecs(DenseDataset.fromRows([[1]]));
    expectCode(() => readFvecs(bytes, 0), 'INVALID_ARGUMENT');
    expectCode(() => readFvecs(bytes, 1.5), 'INVALID_ARGUMENT');
    expectCode(() => writeIvecs(2, 3, new Int32Array(5)), 'INVALID_ARGUMENT', /2 x 3/);
    expectCode(() => writeBvecs(DenseDataset.fromRows([[1, 256]])), 'INVALID_ARGUMENT', /component 1/);
    expectCode(() => writeBvecs(DenseDataset.fromRows([[0.5]])), 'INVALID_ARGUMENT');
  });

  it('writes the documented layout', () => {
    const bytes = writeFvecs(DenseDataset.fromRows([[1.5, -2]]));
    const view = new DataView(bytes.buffer);
    expect([bytes.length, view.getInt32(0, true), view.getFloat32(4, true), view.getFloat32(8, true)]).toEqual([12, 2, 1.5, -2]);
    expect([...writeBvecs(DenseDataset.fromRows([[7, 255]]))]).toEqual([2, 0, 0, 0, 7, 255]);
  });
});

/** A .npy file with a hand-written header dict. */
function rawNpy(dict: string, data: Uint8Array, major = 1): Uint8Array {
  const pre = major === 1 ? 10 : 12;
  const header = `${dict}${' '.repeat((64 - ((pre + dict.length + 1) % 64)) % 64)}\n`;
  const out = new Uint8Array(pre + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(new TextEncoder().encode(header), pre);
  out.set(data, pre + header.length);
  return out;
}

describe('npy', () => {
  const f32 = new Uint8Array(Float32Array.of(1, 2, 3, 4, 5, 6).buffer);

  it('writes version 1.0 with the data on a 64-byte boundary, as numpy does', () => {
    const bytes = writeNpy(
      DenseDataset.fromRows([
        [1, 2, 3],
        [4, 5, 6],
      ]),
    );
    const headerLen = new DataView(bytes.buffer).getUint16(8, true);
    expect([bytes[6], bytes[7], (10 + headerLen) % 64, bytes[10 + headerLen - 1]]).toEqual([1, 0, 0, 0x0a]);
    const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLen));
    expect(header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/);
  });

  it('reads version 2.0 headers', () => {
    expectSameDense(
      readNpy(rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f32, 2)),
      DenseDataset.fromRows([
        [1, 2, 3],
        [4, 5, 6],
      ]),
    );
  });

  it("converts '<f8' to float32", () => {
    const f64 = new Uint8Array(Float64Array.of(0.1, 2, 3, 4).buffer);
    const ds = readNpy(rawNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", f64));
    expect([...ds.data]).toEqual([Math.fround(0.1), 2, 3, 4]);
  });

  it('refuses Fortran order, other dtypes, other ranks and unknown versions clearly', () => {
    expectCode(() => readNpy(rawNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", f32)), 'UNSUPPORTED_FORMAT', /Fortran/);
    expectCode(() => readNpy(rawNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", f32)), 'UNSUPPORTED_FORMAT', /'>f4'/);
    expectCode(() => readNpy(rawNpy("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", f32)), 'UNSUPPORTED_FORMAT', /'<i8'/);
    expectCode(() => readNpy(rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", f32)), 'UNSUPPORTED_FORMAT', /2-D/);
    expectCode(() => readNpy(rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", new Uint8Array(0))), 'EMPTY_DATA');
    expectCode(
      () => readNpy(rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }", f32)),
      'FOREIGN_FILE',
      /unexpected bytes/,
    );
    const v9 = rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f32);
    v9[6] = 9;
    expectCode(() => readNpy(v9), 'UNSUPPORTED_VERSION');
  });

  it('rejects NaN with NON_FINITE', () => {
    const bytes = writeNpy(new DenseDataset(Float32Array.of(1, 2, 3, 4), 2));
    new DataView(bytes.buffer).setFloat32(bytes.length - 4, NaN, true);
    expectCode(() => readNpy(bytes), 'NON_FINITE', /vector 1/);
  });
});

describe('csr', () => {
  const sp = SparseDataset.fromRows(
    [
      { indices: Uint32Array.of(0, 2, 5), values: Float32Array.of(1, 2, 3) },
      { indices: Uint32Array.of(), values: Float32Array.of() },
      { indices: Uint32Array.of(1, 4), values: Float32Array.of(4, 5) },
    ],
    6,
  );
  const bytes = writeCsr(sp);
  const idsAt = 24 + 8 * 4;
  const patch = (f: (v: DataView) => void) => {
    const b = bytes.slice();
    f(new DataView(b.buffer));
    return b;
  };

  it('writes the big-ann-benchmarks layout', () => {
    const v = new DataView(bytes.buffer);
    const int64s = [0, 1, 2, 3, 4, 5, 6].map((i) => Number(v.getBigInt64(8 * i, true)));
    expect(int64s).toEqual([3, 6, 5, 0, 3, 3, 5]); // nrow, ncol, nnz, indptr
    expect([0, 1, 2, 3, 4].map((i) => v.getInt32(idsAt + 4 * i, true))).toEqual([0, 2, 5, 1, 4]);
    expect(v.getFloat32(idsAt + 20 + 16, true)).toBe(5);
    expect(bytes.length).toBe(idsAt + 40);
  });

  it('lets SparseDataset report unsorted and duplicate ids (BAD_SPARSE_ROW)', () => {
    expectCode(() => readCsr(patch((v) => v.setInt32(idsAt, 3, true))), 'BAD_SPARSE_ROW', /row 0 has unsorted/);
    expectCode(() => readCsr(patch((v) => v.setInt32(idsAt + 4, 0, true))), 'BAD_SPARSE_ROW', /duplicate/);
    expectCode(() => readCsr(patch((v) => v.setInt32(idsAt + 12, -1, true))), 'BAD_SPARSE_ROW', /negative/);
  });

  it('reports size mismatches and corrupt indptr with the sizes', () => {
    expectCode(
      () => readCsr(Uint8Array.of(...bytes, 0)),
      'FOREIGN_FILE',
      new RegExp(`${bytes.length + 1} bytes .* implies ${bytes.length}`),
    );
    expectCode(() => readCsr(patch((v) => v.setBigInt64(24 + 16, 9n, true))), 'CORRUPT_FILE', /indptr\[2\]/);
    expectCode(() => readCsr(patch((v) => v.setFloat32(idsAt + 20, NaN, true))), 'NON_FINITE');
  });
});

describe('sparse .bin (kANNolo / Seismic)', () => {
  /** u32 n_vecs, then per vector: u32 n, n u32 ids, n f32 values (as Seismic's Python writer). */
  function handMade(rows: Array<[number[], number[]]>, trailing = 0): Uint8Array {
    const words: Array<['u' | 'f', number]> = [['u', rows.length]];
    for (const [ids, vals] of rows) {
      words.push(['u', ids.length], ...ids.map((c): ['u', number] => ['u', c]), ...vals.map((x): ['f', number] => ['f', x]));
    }
    const out = new Uint8Array(4 * words.length + trailing);
    const view = new DataView(out.buffer);
    for (const [i, [t, x]] of words.entries()) {
      if (t === 'u') view.setUint32(4 * i, x, true);
      else view.setFloat32(4 * i, x, true);
    }
    return out;
  }

  it('reads the layout verified in the Rust readers, dim = max id + 1', () => {
    const ds = readSparseBin(
      handMade([
        [
          [3, 70000],
          [0.5, 1.5],
        ],
        [[], []],
        [[2], [-1]],
      ]),
    );
    expect([ds.size, ds.dim, [...ds.indptr], [...ds.indices], [...ds.values]]).toEqual([
      3,
      70001,
      [0, 2, 2, 3],
      [3, 70000, 2],
      [0.5, 1.5, -1],
    ]);
    expect(readSparseBin(handMade([[[1], [1]]]), 10).dim).toBe(10);
    expect(
      sameBits(
        writeSparseBin(ds),
        handMade([
          [
            [3, 70000],
            [0.5, 1.5],
          ],
          [[], []],
          [[2], [-1]],
        ]),
      ),
    ).toBe(true);
  });

  it('reports bad rows, trailing bytes and an empty set', () => {
    expectCode(
      () =>
        readSparseBin(
          handMade([
            [
              [5, 2],
              [1, 1],
            ],
          ]),
        ),
      'BAD_SPARSE_ROW',
      /unsorted/,
    );
    expectCode(() => readSparseBin(handMade([[[5], [1]]]), 5), 'BAD_SPARSE_ROW', />= dim 5/);
    expectCode(() => readSparseBin(handMade([[[5], [NaN]]])), 'NON_FINITE');
    expectCode(() => readSparseBin(handMade([[[5], [1]]], 4)), 'FOREIGN_FILE', /4 unexpected bytes/);
    expectCode(() => readSparseBin(handMade([])), 'EMPTY_DATA');
  });
});

describe('formats', () => {
  it('maps extensions, overrides and MNIST names', () => {
    const cases: Array<[string, DataFormat]> = [
      ['a/b/base.fvecs', 'fvecs'],
      ['C:\\data\\X.BVECS', 'bvecs'],
      ['emb.npy', 'npy'],
      ['queries.csr', 'csr'],
      ['base.bin', 'bin'],
      ['mnist/train-images-idx3-ubyte', 'idx'],
      ['t10k-images.idx3-ubyte', 'idx'],
      ['https://host/x/base.fvecs?token=a.b#frag', 'fvecs'],
    ];
    for (const [path, format] of cases) expect(formatFromPath(path), path).toBe(format);
    expect(formatFromPath('whatever.dat', 'CSR')).toBe('csr');
    expect(formatFromPath('whatever', '.npy')).toBe('npy');
  });

  it('refuses unknown formats, listing the known ones', () => {
    expectCode(() => formatFromPath('x.parquet'), 'UNSUPPORTED_FORMAT', /'\.parquet'.*fvecs.*bvecs.*npy.*csr.*bin.*idx3-ubyte/);
    expectCode(() => formatFromPath('noext'), 'UNSUPPORTED_FORMAT', /no extension/);
    expectCode(() => formatFromPath('gt.ivecs'), 'UNSUPPORTED_FORMAT', /ground truth/);
    expectCode(() => formatFromPath('base.fvecs.gz'), 'UNSUPPORTED_FORMAT', /compressed/);
    expectCode(() => formatFromPath('x.fvecs', 'hdf5'), 'UNSUPPORTED_FORMAT', /'hdf5'/);
  });

  it('parseDataset dispatches to every reader', () => {
    const dense = DenseDataset.fromRows([
      [1, 2],
      [3, 4],
    ]);
    const sparse = SparseDataset.fromRows([{ indices: Uint32Array.of(1), values: Float32Array.of(2) }], 2);
    expectSameDense(parseDataset(writeFvecs(dense), 'fvecs') as DenseDataset, dense);
    expectSameDense(parseDataset(writeBvecs(dense), 'bvecs', 1) as DenseDataset, dense.slice(0, 1));
    expectSameDense(parseDataset(writeNpy(dense), 'npy') as DenseDataset, dense);
    expectSameSparse(parseDataset(writeCsr(sparse), 'csr') as SparseDataset, sparse);
    expectSameSparse(parseDataset(writeSparseBin(sparse), 'bin') as SparseDataset, sparse);
    const idx = Uint8Array.of(0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 10, 20, 30, 40);
    expectSameDense(
      parseDataset(idx, 'idx') as DenseDataset,
      DenseDataset.fromRows([
        [10, 20],
        [30, 40],
      ]),
    );
  });
});

// ---------- Node file helpers ----------

describe('node files', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'webannolo-io-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes atomically, overwrites, and leaves no temporary file', async () => {
    const ds = DenseDataset.fromRows([[1, 2, 3]]);
    const path = join(dir, 'a.fvecs');
    await writeFile(path, 'old content');
    await writeFileAtomic(path, writeFvecs(ds));
    expectSameDense((await readDatasetFile(path)) as DenseDataset, ds);
    expect(await readdir(dir)).toEqual(['a.fvecs']);
    await writeFileAtomic(join(dir, 'gt.ivecs'), writeIvecs(1, 2, Int32Array.of(7, 8)));
    expect([...(await readIvecsFile(join(dir, 'gt.ivecs'))).data]).toEqual([7, 8]);
    expectSameDense(
      (await readDatasetFile(join(dir, 'gt.ivecs'), { format: 'fvecs' })) as DenseDataset,
      new DenseDataset(new Float32Array(new Int32Array([7, 8]).buffer), 2),
    );
  });

  it('removes the temporary file and rethrows when the rename fails', async () => {
    const sub = join(dir, 'sub');
    await mkdir(join(sub, 'target'), { recursive: true });
    await writeFile(join(sub, 'target', 'keep'), 'x');
    await expect(writeFileAtomic(join(sub, 'target'), Uint8Array.of(1, 2, 3))).rejects.toThrow();
    expect(await readdir(sub)).toEqual(['target']);
    expect(await readFile(join(sub, 'target', 'keep'), 'utf8')).toBe('x');
  });

  it('reports a missing file as INVALID_ARGUMENT', async () => {
    const path = join(dir, 'missing.fvecs');
    await expect(readDatasetFile(path)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: `cannot read ${path}: no such file` });
    await expect(readIvecsFile(path)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(readDatasetFile(join(dir, 'x.unknown'))).rejects.toMatchObject({ code: 'UNSUPPORTED_FORMAT' });
  });
});

// ---------- the real shared datasets ----------

describeShared('shared datasets (../shared/data)', () => {
  const read = (rel: string) => new Uint8Array(readFileSync(sharedPath(rel)));

  it('bge-base-beir/queries.fvecs: 97 unit vectors of 768-d, byte-exact round trip', async () => {
    const bytes = read('bge-base-beir/queries.fvecs');
    const ds = readFvecs(bytes);
    expect([ds.size, ds.dim]).toEqual([97, 768]);
    for (let i = 0; i < ds.size; i++) {
      const norm = Math.hypot(...ds.get(i));
      expect(norm).toBeCloseTo(1, 3);
    }
    expect(sameBits(writeFvecs(ds), bytes)).toBe(true);
    expectSameDense(readFvecs(shifted(bytes, 3)), ds);
    expectSameDense(readFvecs(bytes, 10), ds.slice(0, 10));
    expectSameDense((await readDatasetFile(sharedPath('bge-base-beir/queries.fvecs'), { limit: 5 })) as DenseDataset, ds.slice(0, 5));
    expectSameDense(readNpy(writeNpy(ds)), ds);
  });

  it('bge-base-beir/groundtruth.ivecs: 97 x 100 ids of the 10,747 base rows', async () => {
    const bytes = read('bge-base-beir/groundtruth.ivecs');
    const gt = readIvecs(bytes);
    expect([gt.rows, gt.dim]).toEqual([97, 100]);
    expect(gt.data.every((id) => id >= 0 && id < 10747)).toBe(true);
    expect(new Set(gt.data.subarray(0, 100)).size).toBe(100);
    expect(sameBits(writeIvecs(gt.rows, gt.dim, gt.data), bytes)).toBe(true);
    expect((await readIvecsFile(sharedPath('bge-base-beir/groundtruth.ivecs'))).rows).toBe(97);
  });

  it('splade-pp-ed/queries.csr: 6980 rows over a 24,726 vocabulary, byte-exact round trips', async () => {
    const bytes = read('splade-pp-ed/queries.csr');
    const ds = readCsr(bytes);
    expect([ds.size, ds.dim]).toEqual([6980, 24726]);
    const avg = ds.nnz / ds.size;
    expect(avg).toBeGreaterThan(20);
    expect(avg).toBeLessThan(80);
    expect(ds.values.every((v) => v > 0)).toBe(true);
    expect(sameBits(writeCsr(ds), bytes)).toBe(true);
    expectSameSparse(readSparseBin(writeSparseBin(ds), ds.dim), ds);
    expectSameSparse(readCsr(shifted(bytes, 5), 100), ds.slice(0, 100));
    expectSameSparse((await readDatasetFile(sharedPath('splade-pp-ed/queries.csr'))) as SparseDataset, ds);
  });
});

import { closeSync as closeFd, fstatSync, mkdtempSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DenseDataset,
  deserializeIndex,
  FlatIndex,
  HnswIndex,
  ProductQuantizer,
  SparseDataset,
  serializeIndex,
  WebannoloError,
} from '../src/index.js';
import { loadIndexFile, saveIndexFile } from '../src/node/index.js';
import { Rng } from '../src/util/rng.js';
import { layOut, parseFile } from './helpers/file-mutations.js';

const rng = new Rng(3);
const dense = new DenseDataset(
  Float32Array.from({ length: 600 * 24 }, () => rng.nextOpenUnit()),
  24,
);
const sparse = SparseDataset.fromRows(
  Array.from({ length: 400 }, (_, i) => ({
    indices: Uint32Array.of(i % 13, 20 + (i % 17), 50 + (i % 29)),
    values: Float32Array.of(1, rng.nextOpenUnit(), 2),
  })),
  100,
);
const hnswDense = HnswIndex.build(dense, { metric: 'l2', m: 8, efConstruction: 50, seed: 5 });
const hnswSparse = HnswIndex.build(sparse, { metric: 'ip', m: 8, efConstruction: 50 });
const bytes = serializeIndex(hnswDense);

function errorCode(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (!(e instanceof WebannoloError)) throw e;
    return e.code;
  }
}

describe('index files', () => {
  it('round-trip dense HNSW, sparse HNSW and flat indexes with identical results', async () => {
    for (const index of [hnswDense, hnswSparse, FlatIndex.build(dense, { metric: 'ip' })]) {
      const copy = deserializeIndex(serializeIndex(index));
      expect(copy.constructor).toBe(index.constructor);
      const queries = index === hnswSparse ? sparse.slice(0, 40) : dense.slice(0, 40);
      const a = await index.searchBatch(queries, 5);
      const b = await copy.searchBatch(queries, 5);
      expect(Array.from(b.ids)).toEqual(Array.from(a.ids));
      expect(Array.from(b.scores)).toEqual(Array.from(a.scores));
    }
  });

  it('loads from an ArrayBuffer and from unaligned bytes', () => {
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const fromUnaligned = deserializeIndex(shifted.subarray(1)) as HnswIndex;
    const fromBuffer = deserializeIndex(bytes.slice().buffer) as HnswIndex;
    expect(fromUnaligned.search(dense.get(1), 3).ids).toEqual(hnswDense.search(dense.get(1), 3).ids);
    expect(fromBuffer.graph.entryPoint).toBe(hnswDense.graph.entryPoint);
  });

  it('rejects foreign, truncated, damaged and newer-version files clearly', () => {
    expect(errorCode(() => deserializeIndex(new TextEncoder().encode('hello world, not an index')))).toBe('FOREIGN_FILE');
    expect(errorCode(() => deserializeIndex(bytes.subarray(0, 10)))).toBe('TRUNCATED_FILE');
    expect(errorCode(() => deserializeIndex(bytes.subarray(0, bytes.length - 100)))).toBe('TRUNCATED_FILE');
    const flipped = bytes.slice();
    flipped[bytes.length - 200]! ^= 0x10;
    expect(errorCode(() => deserializeIndex(flipped))).toBe('CORRUPT_FILE');
    const newer = bytes.slice();
    new DataView(newer.buffer).setUint32(8, 99, true);
    expect(errorCode(() => deserializeIndex(newer))).toBe('UNSUPPORTED_VERSION');
    expect(() => deserializeIndex(newer)).toThrow(/version 99 is not supported/);
  });

  it('property: any truncation or single bit flip is detected, never a crash or a wrong index', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 0, max: 7 }), fc.boolean(), (at, bit, truncate) => {
        const damaged = truncate ? bytes.subarray(0, at) : bytes.slice();
        if (!truncate) damaged[at]! ^= 1 << bit;
        expect(errorCode(() => deserializeIndex(damaged))).not.toBeNull();
      }),
      { numRuns: 300 },
    );
  });

  it('saves atomically to disk and loads back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webannolo-'));
    const path = join(dir, 'index.wann');
    await saveIndexFile(hnswDense, path);
    expect(readdirSync(dir)).toEqual(['index.wann']);
    const loaded = (await loadIndexFile(path)) as HnswIndex;
    expect(loaded.search(dense.get(7), 4).ids).toEqual(hnswDense.search(dense.get(7), 4).ids);
    writeFileSync(path, readFileSync(path).subarray(0, 100));
    await expect(loadIndexFile(path)).rejects.toThrow(/truncated/);
  });
});

describe('format 1 files (before keys, labels and removed items)', () => {
  it('still load, and search like a fresh build of the same points', () => {
    const bytes = new Uint8Array(readFileSync(new URL('./fixtures/format-1.wann', import.meta.url)));
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true)).toBe(1);
    const old = deserializeIndex(bytes) as HnswIndex;
    // The points the fixture was built from (written by webannolo 3139cb1, format 1).
    const data = new Float32Array(64 * 8);
    let s = 12345;
    for (let i = 0; i < data.length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      data[i] = (s >>> 8) / 16777216 - 0.5;
    }
    const fresh = HnswIndex.build(new DenseDataset(data, 8), { metric: 'l2', m: 4, efConstruction: 32, seed: 7 });
    expect(old.size).toBe(64);
    expect(old.keys).toBeNull();
    expect(old.removed.count).toBe(0);
    for (let q = 0; q < 64; q += 7) {
      const query = data.subarray(q * 8, q * 8 + 8);
      expect(Array.from(old.search(query, 5).ids)).toEqual(Array.from(fresh.search(query, 5).ids));
    }
    // And it can change: the first change copies it into a living index.
    old.add([new Float32Array(8).fill(0.25)]);
    expect(old.size).toBe(65);
    expect(new DataView(serializeIndex(old).buffer).getUint32(8, true)).toBe(2); // no item order: still a version-2 file
  });
});

describe('streamed loading holds dense vectors once', () => {
  it('a store over reserved rows adopts their memory; any other array is copied', async () => {
    const { reserveDenseRows, PlainDenseStore: Store } = await import('../src/quant/dense/store.js');
    const { DenseDataset: Dataset } = await import('../src/data/dense.js');
    const rows = reserveDenseRows(50, 8)!;
    rows.set(Float32Array.from({ length: 400 }, (_, i) => i / 7));
    const adopted = new Store(new Dataset(rows, 8), 'l2');
    expect(adopted.vectors.buffer).toBe(rows.buffer);
    expect(adopted.vectors).toEqual(rows);
    // Only once: a second store over the same view makes its own copy.
    const second = new Store(new Dataset(rows, 8), 'l2');
    expect(second.vectors.buffer).not.toBe(rows.buffer);
    const plain = Float32Array.from(rows);
    expect(new Store(new Dataset(plain, 8), 'l2').vectors.buffer).not.toBe(plain.buffer);
  });
});

describe('crafted files with a valid checksum: one CORRUPT_FILE naming the field', () => {
  const withKeys = HnswIndex.build(dense.slice(0, 300), {
    metric: 'l2',
    m: 6,
    efConstruction: 30,
    keys: Array.from({ length: 300 }, (_, i) => i + 10),
  });
  withKeys.remove([12]);
  const keyed = serializeIndex(withKeys);
  const pq = serializeIndex(hnswDense.quantize(new ProductQuantizer({ m: 6, maxIterations: 2 })));
  const edited = (file: Uint8Array, edit: (h: Record<string, unknown>) => void, version?: number) => {
    const p = parseFile(file);
    if (version !== undefined) p.version = version;
    return layOut(p, (h) => {
      edit(h);
      return h;
    });
  };
  type Table = { name: string; dtype: string; offset: number; length: number }[];
  const table = (h: Record<string, unknown>) => h['sections'] as Table;
  const section = (h: Record<string, unknown>, name: string) => table(h).find((e) => e.name === name)!;
  const cases: [string, Uint8Array, RegExp][] = [
    [
      'graph m',
      edited(bytes, (h) => Object.assign(h['graph'] as object, { m: 2 ** 40 })),
      /invalid graph 'm' \(1099511627776; expected an integer in \[2, 255\]\)/,
    ],
    ['graph m0', edited(bytes, (h) => Object.assign(h['graph'] as object, { m0: 0 })), /invalid graph 'm0'/],
    ['graph n', edited(bytes, (h) => Object.assign(h['graph'] as object, { n: 601 })), /graph of 601 nodes for 600 stored items/],
    [
      'efConstruction',
      edited(bytes, (h) => Object.assign(h['graph'] as object, { efConstruction: 1.5 })),
      /invalid graph 'efConstruction'/,
    ],
    ['entry point', edited(bytes, (h) => Object.assign(h['graph'] as object, { entryPoint: 600 })), /invalid graph 'entryPoint'/],
    [
      'store size',
      edited(serializeIndex(FlatIndex.build(dense, { metric: 'l2' })), (h) => Object.assign(h['store'] as object, { size: 2 ** 40 })),
      /section 'store.vectors' holds 14400 values, its header implies/,
    ],
    ['store dim', edited(bytes, (h) => Object.assign(h['store'] as object, { dim: '24' })), /invalid store 'dim' \("24"/],
    ['sections not a list', edited(bytes, (h) => void (h['sections'] = { length: 3 })), /'sections' is not a list of sections/],
    ['a section twice', edited(bytes, (h) => void table(h).push({ ...table(h)[0]! })), /section 'store.vectors' is listed twice/],
    [
      'overlapping sections',
      edited(bytes, (h) => void (table(h)[1]!.offset = table(h)[0]!.offset)),
      /inside the header or an earlier section/,
    ],
    ['unknown section', edited(bytes, (h) => void (table(h)[2]!.name = 'graph.extra')), /unknown section 'graph.extra'/],
    [
      'section type',
      edited(bytes, (h) => void (section(h, 'graph.level0').dtype = 'f32')),
      /'graph.level0' holds f32 values, expected u32/,
    ],
    ['section past the end', edited(bytes, (h) => void (table(h).at(-1)!.length += 2 ** 30)), /truncated/],
    ['missing section', edited(bytes, (h) => void table(h).splice(1, 1)), /lacks its 'graph.levels' section/],
    ['sparse dim', edited(serializeIndex(hnswSparse), (h) => Object.assign(h['store'] as object, { dim: 2 ** 32 })), /invalid store 'dim'/],
    [
      'sparse dim far beyond the file',
      edited(serializeIndex(hnswSparse), (h) => Object.assign(h['store'] as object, { dim: 2 ** 30 })),
      /dimension 1073741824, far beyond/,
    ],
    ['PQ m', edited(pq, (h) => Object.assign(h['store'] as object, { m: 5 })), /PQ m = 5, which does not divide the dimension 24/],
    [
      're-ranking dim',
      edited(pq, (h) => Object.assign(h['rerank'] as object, { dim: 12 })),
      /section 'rerank.vectors'|re-ranking store of dimension 12/,
    ],
    ['keys kind', edited(keyed, (h) => Object.assign(h['items'] as object, { keys: 'float' })), /keys of unknown kind "float"/],
    ['removed count', edited(keyed, (h) => Object.assign(h['items'] as object, { removed: 2 })), /marks 1 slots, its header says 2/],
    ['item order in a version-2 file', edited(keyed, () => {}, 2), /format 2 index file cannot hold an item order/],
    [
      'header not an object',
      edited(bytes, () => {})
        .fill(0x20, 16, 20)
        .fill(0x5b, 16, 17),
      /not valid JSON|not a JSON object/,
    ],
  ];
  for (const [what, file, message] of cases) {
    it(what, async () => {
      let error: unknown = null;
      try {
        deserializeIndex(file);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(WebannoloError);
      expect((error as WebannoloError).message).toMatch(message);
      expect(['CORRUPT_FILE', 'TRUNCATED_FILE']).toContain((error as WebannoloError).code);
      const dir = mkdtempSync(join(tmpdir(), 'webannolo-crafted-'));
      writeFileSync(join(dir, 'x.wann'), file);
      await expect(loadIndexFile(join(dir, 'x.wann'), { stream: true })).rejects.toMatchObject({ code: (error as WebannoloError).code });
    });
  }

  it('a disk re-ranking store made before the load fails is closed with its finalizer dropped (it never closes a reused descriptor)', async () => {
    const keyedPq = HnswIndex.build(dense.slice(0, 300), { metric: 'l2', m: 6, keys: Array.from({ length: 300 }, (_, i) => i) }).quantize(
      new ProductQuantizer({ m: 6, maxIterations: 2 }),
    );
    const p = parseFile(serializeIndex(keyedPq));
    // Two items with the same key: refused after the re-ranking store was made.
    const keys = p.sections.find((x) => x.name === 'keys.f64')!;
    keys.bytes = keys.bytes.slice();
    keys.bytes.copyWithin(8, 0, 8);
    const dir = mkdtempSync(join(tmpdir(), 'webannolo-disk-'));
    writeFileSync(join(dir, 'dup.wann'), layOut(p));
    writeFileSync(join(dir, 'other'), 'other file');
    await expect(loadIndexFile(join(dir, 'dup.wann'), { rerank: 'disk' })).rejects.toMatchObject({ code: 'CORRUPT_FILE', message: /keys/ });
    // The freed descriptor number goes to the next file opened; a stale finalizer would close it.
    const fd = openSync(join(dir, 'other'), 'r');
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(fstatSync(fd).size).toBe(10);
    closeFd(fd);
  });
});

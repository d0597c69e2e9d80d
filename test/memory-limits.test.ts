import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DenseDataset,
  deserializeIndex,
  HnswIndex,
  PlainSparseStore,
  ProductQuantizer,
  ScalarQuantizer,
  SparseDataset,
  serializeIndex,
  WebannoloError,
} from '../src/index.js';
import { loadIndexFile } from '../src/node/index-files.js';
import { loadMnist } from '../src/node/mnist.js';
import { WasmArena } from '../src/quant/wasm/arena.js';
import type { Vector } from '../src/types.js';

// The SIMD kernels keep a store in one 32-bit WebAssembly memory (4 GiB). A store that would
// not fit it fails with one clear line, at build, at load and when an add would cross it,
// instead of silently falling back to the slower JS kernels; a failed add changes nothing.
// WasmArena.maxBytes stands in for the 4 GiB (lowered for a test, restored after it).

const REAL_LIMIT = WasmArena.maxBytes;
afterEach(() => {
  WasmArena.maxBytes = REAL_LIMIT;
});

const N0 = 600; // built
const A = 50; // an add that fits
const B = 600; // an add that crosses the limit
const { train, test } = loadMnist(N0 + A + B, 12);
const DIM = 784;
const rowsOf = (from: number, to: number) => new DenseDataset(train.data.slice(from * DIM, to * DIM), DIM);
const keysOf = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `img-${from + i}`);

/** MNIST rows as sparse vectors (their non-zero pixels): about 150 non-zeros each. */
function sparseOf(d: DenseDataset): SparseDataset {
  const rows = [];
  for (let i = 0; i < d.size; i++) {
    const v = d.get(i);
    const indices: number[] = [];
    const values: number[] = [];
    for (let j = 0; j < DIM; j++)
      if (v[j] !== 0) {
        indices.push(j);
        values.push(v[j]!);
      }
    rows.push({ indices: Uint32Array.from(indices), values: Float32Array.from(values) });
  }
  return SparseDataset.fromRows(rows, DIM);
}

const sparseAll = sparseOf(rowsOf(0, N0 + A + B));
const sparseRows = (from: number, to: number) =>
  SparseDataset.fromRows(
    Array.from({ length: to - from }, (_, i) => sparseAll.get(from + i)),
    DIM,
  );
const nnzOf = (to: number) => sparseAll.indptr[to]!;

const align = (bytes: number) => Math.ceil(bytes / 16) * 16;
/** Lowers the limit so that exactly a store whose arena reserves `reserve` bytes still fits. */
const limitTo = (reserve: number) => {
  WasmArena.maxBytes = align(reserve) + 256 * 1024;
};

interface Kind {
  name: string;
  make(): HnswIndex;
  rows(from: number, to: number): DenseDataset | SparseDataset;
  queries: readonly Vector[];
  /** The bytes the store kind's arena reserves for the first `rows` items (its own formula). */
  reserve(rows: number): number;
  /** The limit's error. */
  error: RegExp;
}

const denseQueries = Array.from({ length: test.size }, (_, i) => test.get(i));
const build = (data: DenseDataset | SparseDataset) =>
  HnswIndex.build(data, { metric: 'l2', m: 8, efConstruction: 60, keys: keysOf(0, data.size) });

const KINDS: Kind[] = [
  {
    name: 'dense f32',
    make: () => build(rowsOf(0, N0)),
    rows: rowsOf,
    queries: denseQueries,
    reserve: (n) => (n + 64) * DIM * 4,
    error: /vectors of dimension 784 take .* GiB; the SIMD kernels' WebAssembly memory holds at most \d+ of them/,
  },
  {
    name: 'sparse',
    make: () => build(sparseRows(0, N0)),
    rows: sparseRows,
    queries: Array.from({ length: test.size }, (_, i) => sparseOf(test).get(i)),
    reserve: (n) => (n + 1) * 4 + nnzOf(n) * 8 + 8 * DIM * 4 + 64,
    error: /sparse vectors with \d+ non-zeros take .* GiB; the SIMD kernels' WebAssembly memory holds .* about \d+ vectors/,
  },
  ...(['f16', 'sq8'] as const).map(
    (encoding): Kind => ({
      name: encoding,
      make: () => build(rowsOf(0, N0)).quantize(new ScalarQuantizer(encoding), { keepPlain: false }),
      rows: rowsOf,
      queries: denseQueries,
      reserve: (n) => (encoding === 'f16' ? n * DIM * 2 + 64 * DIM * 4 : n * DIM + 64 * DIM * 8),
      error: new RegExp(
        `${encoding} vectors of dimension 784 take .* GiB; the SIMD kernels' WebAssembly memory holds at most \\d+ of them`,
      ),
    }),
  ),
  {
    name: 'PQ',
    make: () => build(rowsOf(0, N0)).quantize(new ProductQuantizer({ m: 16, maxIterations: 4, seed: 1 }), { keepPlain: false }),
    rows: rowsOf,
    queries: denseQueries,
    reserve: (n) => n * 16 + DIM * 256 * 4 + 64 * 16 * 256 * 4,
    error: /PQ codes of 16 bytes take .* GiB; the SIMD kernels' WebAssembly memory holds at most \d+ of them/,
  },
];

/** Everything a caller can see of an index: its file bytes, size, keys and search results. */
function seen(index: HnswIndex, queries: readonly Vector[]) {
  const results = queries.map((q) => index.search(q, 10, { ef: 64 }));
  return {
    size: index.size,
    capacity: index.capacity,
    // A digest: comparing megabytes element by element in toEqual takes seconds.
    file: createHash('sha256').update(serializeIndex(index)).digest('hex'),
    ids: results.map((r) => Array.from(r.ids)),
    scores: results.map((r) => Array.from(r.scores)),
    keys: results.map((r) => r.keys),
    crossing: keysOf(N0 + A, N0 + A + B).filter((k) => index.has(k)).length,
  };
}

function expectLimitError(e: unknown, pattern: RegExp, codes: readonly string[] = ['INVALID_ARGUMENT']): void {
  expect(e).toBeInstanceOf(WebannoloError);
  expect(codes).toContain((e as WebannoloError).code);
  expect((e as Error).message).toMatch(pattern);
  expect((e as Error).message).not.toContain('\n');
}

function failure(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return expect.fail('expected the add to fail');
}

describe('an add that crosses the WebAssembly memory limit fails and changes nothing', () => {
  for (const kind of KINDS) {
    it(`${kind.name}: on a fresh and on an already changed index, add and addAsync`, async () => {
      const index = kind.make();
      const crossing = () => kind.rows(N0 + A, N0 + A + B);
      const crossingKeys = keysOf(N0 + A, N0 + A + B);
      // Room for the built items and the first add (and a few more), not for the second.
      limitTo(kind.reserve(N0 + A + 10));

      // Fresh: the index shares its memory with nobody but has not changed yet (copies).
      let before = seen(index, kind.queries);
      expectLimitError(
        failure(() => index.add(kind.rows(N0, N0 + A + B), keysOf(N0, N0 + A + B))),
        kind.error,
      );
      expect(seen(index, kind.queries)).toEqual(before);

      // An add that fits still works under the lowered limit; the index now owns its memory
      // (a dense store then writes in place, into spare room).
      expect(index.add(kind.rows(N0, N0 + A), keysOf(N0, N0 + A))).toHaveLength(A);
      expect(index.size).toBe(N0 + A);
      before = seen(index, kind.queries);

      expectLimitError(
        failure(() => index.add(crossing(), crossingKeys)),
        kind.error,
      );
      expect(seen(index, kind.queries)).toEqual(before);
      let rejected: unknown = null;
      await index.addAsync(crossing(), crossingKeys, { threads: 1 }).catch((e: unknown) => (rejected = e));
      expectLimitError(rejected, kind.error);
      expect(seen(index, kind.queries)).toEqual(before);

      // The same add succeeds with room for it.
      WasmArena.maxBytes = REAL_LIMIT;
      index.add(crossing(), crossingKeys);
      expect(index.size).toBe(N0 + A + B);
      expect(crossingKeys.every((k) => index.has(k))).toBe(true);
      expect(index.search(kind.queries[0]!, 1).keys).toHaveLength(1);
    });
  }

  it('PQ with f32 re-ranking vectors: the codes fit, the plain rows do not; neither store changes', () => {
    const index = build(rowsOf(0, N0)).quantize(new ProductQuantizer({ m: 16, maxIterations: 4, seed: 1 }));
    index.add(rowsOf(N0, N0 + A), keysOf(N0, N0 + A));
    const before = seen(index, denseQueries);
    limitTo((N0 + A + 10 + 64) * DIM * 4);
    expectLimitError(
      failure(() => index.add(rowsOf(N0 + A, N0 + A + B), keysOf(N0 + A, N0 + A + B))),
      /vectors of dimension 784 take/,
    );
    expect(seen(index, denseQueries)).toEqual(before);
  });
});

describe('stores that do not fit the WebAssembly memory fail clearly at build and at load', () => {
  for (const kind of KINDS) {
    it(`${kind.name}: loading a file too large for the lowered limit`, async () => {
      const file = serializeIndex(kind.make());
      limitTo(kind.reserve(N0 - 100));
      let e: unknown = null;
      try {
        deserializeIndex(file);
      } catch (err) {
        e = err;
      }
      // A valid file over the limit is not a corrupt one: the loaders pass the limit's own
      // error through (MemoryLimitError), not CORRUPT_FILE.
      const loadCodes = ['INVALID_ARGUMENT'];
      expectLimitError(e, kind.error, loadCodes);
      if (kind.name !== 'sparse') return;
      // The streamed loader too (what a file over 1 GiB takes).
      const dir = await mkdtemp(join(tmpdir(), 'webannolo-limits-'));
      try {
        await writeFile(join(dir, 'sparse.wann'), file);
        e = await loadIndexFile(join(dir, 'sparse.wann'), { stream: true }).catch((err: unknown) => err);
        expectLimitError(e, kind.error, loadCodes);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  it('sparse: a build says what fits; { simd: false } takes the JS kernels knowingly', () => {
    const data = sparseRows(0, N0);
    limitTo((N0 + 1) * 4 + nnzOf(N0) * 8 + 8 * DIM * 4 + 64 - 4096);
    expectLimitError(
      failure(() => HnswIndex.build(data, { metric: 'ip', m: 8 })),
      /600 sparse vectors with \d+ non-zeros take .* about 5\d\d vectors of \d+\.\d non-zeros: split the items over several indexes, .*\{ simd: false \}/,
    );
    expect(new PlainSparseStore(data, 'ip', { simd: false }).kernels).toBe('js');
    WasmArena.maxBytes = REAL_LIMIT;
    expect(new PlainSparseStore(data, 'ip').kernels).toBe('wasm');
  });
});

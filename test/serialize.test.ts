import fc from 'fast-check';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DenseDataset, FlatIndex, HnswIndex, SparseDataset, WebannoloError, deserializeIndex, serializeIndex } from '../src/index.js';
import { loadIndexFile, saveIndexFile } from '../src/node/index.js';
import { Rng } from '../src/util/rng.js';

const rng = new Rng(3);
const dense = new DenseDataset(Float32Array.from({ length: 600 * 24 }, () => rng.nextOpenUnit()), 24);
const sparse = SparseDataset.fromRows(
  Array.from({ length: 400 }, (_, i) => ({ indices: Uint32Array.of(i % 13, 20 + (i % 17), 50 + (i % 29)), values: Float32Array.of(1, rng.nextOpenUnit(), 2) })),
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

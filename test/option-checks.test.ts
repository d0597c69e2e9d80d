import { describe, expect, it } from 'vitest';
import { DenseDataset, FlatIndex, GPU_MAX_K, HnswIndex, QueryBatcher, ScalarQuantizer, WebannoloError } from '../src/index.js';

// Options the library does not know, and limits it did not say, fail with INVALID_ARGUMENT and
// a message that names the mistake (a misspelt option used to be ignored without a word).

const DIM = 4;
const data = new DenseDataset(
  Float32Array.from({ length: 300 * DIM }, (_, i) => Math.sin(i * 0.37) + Math.cos(i * 0.11)),
  DIM,
);
const query = data.get(7);
const index = HnswIndex.build(data, { metric: 'l2', m: 6, efConstruction: 40 });
const keyed = HnswIndex.build(data, {
  metric: 'l2',
  m: 6,
  efConstruction: 40,
  keys: Array.from({ length: data.size }, (_, i) => i + 1000),
});

/** The WebannoloError `fn` throws (or the promise it returns rejects with). */
async function errorOf(fn: () => unknown): Promise<WebannoloError> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(WebannoloError);
    return e as WebannoloError;
  }
  throw new Error('expected a WebannoloError');
}

async function expectUnknown(fn: () => unknown, name: string, valid: string[]): Promise<WebannoloError> {
  const e = await errorOf(fn);
  expect(e.code).toBe('INVALID_ARGUMENT');
  expect(e.message).toContain(`unknown option '${name}'`);
  for (const v of valid) expect(e.message).toContain(v);
  return e;
}

describe('unknown options are refused with the valid names', () => {
  it('search and searchBatch params', async () => {
    const e = await expectUnknown(() => index.search(query, 10, { efSearch: 64 } as never), 'efSearch', [
      'ef',
      'rerank',
      'filter',
      'lambda',
    ]);
    expect(e.message).toContain("did you mean 'ef'?");
    await expectUnknown(() => index.searchBatch([query], 10, { efSearch: 64 } as never), 'efSearch', [
      'ef',
      'batchSize',
      'threads',
      'backend',
    ]);
    await expectUnknown(() => FlatIndex.build(data, { metric: 'l2' }).searchBatch([query], 10, { efSearch: 64 } as never), 'efSearch', [
      'backend',
      'gpu',
    ]);
    // Known options, and none at all, still work.
    expect(index.search(query, 5).ids[0]).toBe(7);
    expect(index.search(query, 5, { ef: 32, lambda: 0.5 }).ids[0]).toBe(7);
    expect((await index.searchBatch([query], 5, { ef: 32, threads: 1 })).ids[0]).toBe(7);
  });

  it('build options', async () => {
    await expectUnknown(() => HnswIndex.build(data, { metric: 'l2', ef_construction: 40 } as never), 'ef_construction', [
      'efConstruction',
      'metric',
      'keys',
    ]);
    await expectUnknown(() => HnswIndex.build(data, { metric: 'l2', M: 8 } as never), 'M', ['m']);
    await expectUnknown(() => HnswIndex.buildAsync(data, { metric: 'l2', workers: 2 } as never), 'workers', ['threads', 'signal']);
    const store = new ScalarQuantizer('f16').encode(data, 'l2');
    await expectUnknown(() => HnswIndex.buildOnStore(store, { metric: 'l2' } as never), 'metric', ['m', 'efConstruction', 'seed']);
    await expectUnknown(() => HnswIndex.buildOnStoreAsync(store, { efconstruction: 8 } as never), 'efconstruction', ['threads']);
    await expectUnknown(() => FlatIndex.build(data, { metric: 'l2', m: 4 } as never), 'm', ['metric']);
  });

  it('add, addAsync, update and compact options', async () => {
    const one = [data.get(1)];
    await expectUnknown(() => keyed.add(one, [1], { upsrt: true } as never), 'upsrt', ['labels', 'upsert']);
    await expectUnknown(() => keyed.addAsync(one, [1], { upsrt: true } as never), 'upsrt', ['threads', 'signal']);
    await expectUnknown(() => keyed.update(one, [1000], { upsert: true } as never), 'upsert', ['labels']);
    await expectUnknown(() => keyed.compact({ thread: 1 } as never), 'thread', ['threads', 'signal']);
    // Nothing was added by the refused calls.
    expect(keyed.size).toBe(data.size);
    expect(keyed.has(1)).toBe(false);
  });

  it('QueryBatcher options and its batchParams', async () => {
    await expectUnknown(() => new QueryBatcher(index, { maxBatchSize: 8 } as never), 'maxBatchSize', ['maxBatch', 'maxWaitMs']);
    await expectUnknown(() => new QueryBatcher(index, { batchParams: { thread: 1 } } as never), 'thread', ['threads', 'backend']);
    // The per-call parameters keep their own message.
    expect((await errorOf(() => new QueryBatcher(index, { batchParams: { ef: 8 } } as never))).message).toMatch(/per-call parameter/);
    // And each call's parameters.
    const batcher = new QueryBatcher(index);
    await expectUnknown(() => batcher.search(query, 5, { efSearch: 32 } as never), 'efSearch', ['ef', 'filter']);
    await batcher.close();
  });
});

describe('rerank above ef', () => {
  const sq8 = index.quantize(new ScalarQuantizer('sq8'));
  it('is an error when ef is given, and raises the default ef otherwise', async () => {
    const e = await errorOf(() => sq8.search(query, 10, { ef: 20, rerank: 50 }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/rerank = 50 is larger than ef = 20/);
    expect((await errorOf(() => sq8.searchBatch([query], 10, { ef: 20, rerank: 50 }))).message).toMatch(
      /rerank = 50 is larger than ef = 20/,
    );
    // ef is raised to k first: ef 5, k 10, rerank 10 is fine.
    expect(sq8.search(query, 10, { ef: 5, rerank: 10 }).ids[0]).toBe(7);
    // Without ef, the beam is wide enough for the re-ranking asked for (default max(k, 64, rerank)).
    expect(sq8.search(query, 10, { rerank: 100 }).ids[0]).toBe(7);
  });
});

describe('clear messages for common mistakes', () => {
  it('add(Float32Array, [key]) says a flat array is not a list of vectors', async () => {
    const e = await errorOf(() => keyed.add(data.get(3) as never, [5]));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/flat Float32Array .* is not a list of vectors: wrap one vector as \[vector\], or pass new DenseDataset/);
    expect(e.message).not.toMatch(/undefined/);
    expect((await errorOf(() => index.searchBatch(data.get(3) as never, 5))).message).toMatch(/not a list of vectors/);
  });

  it('labels outside [0, 2^32 - 1] name the range', async () => {
    for (const bad of [-1, 2 ** 32, 1.5]) {
      const e = await errorOf(() =>
        HnswIndex.build(data, { metric: 'l2', labels: Array.from({ length: data.size }, (_, i) => (i === 4 ? bad : 0)) }),
      );
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toContain(`item 4: a label must be an integer in [0, 2^32 - 1]`);
    }
  });

  it('exact GPU search with k above GPU_MAX_K is INVALID_ARGUMENT naming GPU_MAX_K, not NO_GPU', async () => {
    const big = new DenseDataset(
      Float32Array.from({ length: (GPU_MAX_K + 10) * 2 }, (_, i) => Math.sin(i)),
      2,
    );
    const flat = FlatIndex.build(big, { metric: 'l2' });
    const e = await errorOf(() => flat.searchBatch([big.get(0)], GPU_MAX_K + 1, { backend: 'gpu' }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toContain(`GPU_MAX_K (${GPU_MAX_K})`);
    // 'auto' and 'cpu' serve it on the CPU.
    expect((await flat.searchBatch([big.get(0)], GPU_MAX_K + 1, { backend: 'auto' })).ids[0]).toBe(0);
  });

  it('k larger than the index is an error that says how many items there are', async () => {
    const e = await errorOf(() => index.search(query, data.size + 1));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/k = 301 is larger than the index \(300 items\)/);
  });
});

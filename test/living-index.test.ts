import { beforeAll, describe, expect, it } from 'vitest';
import {
  DenseDataset,
  deserializeIndex,
  HnswIndex,
  ProductQuantizer,
  SparseDataset,
  serializeIndex,
  type WebannoloError,
} from '../src/index.js';
import { loadMnist } from '../src/node/mnist.js';
import { WorkerPool } from '../src/parallel/pool.js';
import { exactFiltered, recallAgainst } from './helpers/filtered-truth.js';

// A living index on real data (MNIST, 784-d, L2): add, remove, update, compact by key.
const N = 8_000;
const NQ = 100;
const K = 10;
const BUILD = { metric: 'l2', m: 16, efConstruction: 100, seed: 1 } as const;

function rows(d: DenseDataset, ids: readonly number[]): DenseDataset {
  const out = new Float32Array(ids.length * d.dim);
  for (const [i, id] of ids.entries()) out.set(d.get(id), i * d.dim);
  return new DenseDataset(out, d.dim);
}

/** Byte equality of two index files (toEqual on megabytes is slow). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** Recall@K of `index` (keys = MNIST row numbers) against exact search over the live rows. */
function liveRecall(index: HnswIndex, base: DenseDataset, queries: DenseDataset, live: Set<number>): number {
  const truth = exactFiltered(base, queries, K, (id) => live.has(id));
  const got: (number | string | null)[] = [];
  for (let q = 0; q < queries.size; q++) got.push(...index.search(queries.get(q), K, { ef: 64 }).keys!);
  return recallAgainst(got, Array.from(truth), K);
}

describe('a living index on MNIST', () => {
  let base: DenseDataset;
  let queries: DenseDataset;
  let digits: Uint8Array;

  beforeAll(() => {
    const m = loadMnist(N, NQ);
    base = m.train;
    queries = m.test;
    digits = m.trainLabels;
  });

  it('build half, add half, remove 10 %, add back 5 %: recall within 0.01 of a fresh build, removed keys never returned', async () => {
    const half = N / 2;
    const index = HnswIndex.build(rows(base, range(0, half)), { ...BUILD, keys: range(0, half) });
    expect(index.add(rows(base, range(half, N)), range(half, N))).toEqual(range(half, N));
    expect(index.size).toBe(N);
    const removed = range(0, N).filter((i) => i % 10 === 3);
    index.remove(removed);
    expect(index.size).toBe(N - removed.length);
    expect(index.capacity).toBe(N);
    const back = removed.filter((_, i) => i % 2 === 0);
    index.add(rows(base, back), back);
    // Added back into freed slots: the index did not grow.
    expect(index.capacity).toBe(N);
    const live = new Set(range(0, N));
    for (const id of removed) live.delete(id);
    for (const id of back) live.add(id);
    const gone = new Set(removed.filter((id) => !live.has(id)));
    for (let q = 0; q < NQ; q++) {
      for (const key of index.search(queries.get(q), K, { ef: 64 }).keys!) expect(gone.has(key as number)).toBe(false);
    }
    const batch = await index.searchBatch(queries, K, { ef: 64, threads: 2 });
    expect(batch.threads).toBe(2);
    for (const key of batch.keys!) expect(gone.has(key as number)).toBe(false);
    // Workers see the changed index (they re-attach after every change).
    const serial = await index.searchBatch(queries, K, { ef: 64, threads: 1 });
    expect(Array.from(batch.ids)).toEqual(Array.from(serial.ids));

    const liveIds = [...live].sort((a, b) => a - b);
    const fresh = HnswIndex.build(rows(base, liveIds), { ...BUILD, keys: liveIds });
    const rLiving = liveRecall(index, base, queries, live);
    const rFresh = liveRecall(fresh, base, queries, live);
    console.log(`MNIST ${N}: recall@10 living ${rLiving.toFixed(4)}, fresh build ${rFresh.toFixed(4)}`);
    expect(rLiving).toBeGreaterThanOrEqual(rFresh - 0.01);
  });

  it('adds on worker threads (addAsync): same recall as a serial add; a cancelled add changes nothing', async () => {
    const first = range(0, 3000);
    const more = range(3000, 6000);
    const serial = HnswIndex.build(rows(base, first), { ...BUILD, keys: first });
    serial.add(rows(base, more), more);
    const parallel = HnswIndex.build(rows(base, first), { ...BUILD, keys: first });
    parallel.remove([5, 6]);
    const tasks = WorkerPool.shared().tasksFinished;
    expect(await parallel.addAsync(rows(base, [5, 6, ...more]), [5, 6, ...more], { threads: 2 })).toEqual([5, 6, ...more]);
    expect(WorkerPool.shared().tasksFinished - tasks, 'tasks run on worker threads').toBeGreaterThanOrEqual(4);
    expect(parallel.size).toBe(6000);
    expect(parallel.capacity).toBe(6000);
    const live = new Set(range(0, 6000));
    const rSerial = liveRecall(serial, base, queries, live);
    const rParallel = liveRecall(parallel, base, queries, live);
    expect(rParallel).toBeGreaterThanOrEqual(rSerial - 0.01);
    const before = serializeIndex(parallel);
    const controller = new AbortController();
    controller.abort();
    await expect(
      parallel.addAsync(rows(base, range(6000, 7000)), range(6000, 7000), { threads: 2, signal: controller.signal }),
    ).rejects.toThrow(/cancelled/);
    expect(sameBytes(serializeIndex(parallel), before)).toBe(true);
  });

  it('two addAsync started together both land; changes made meanwhile come before them, none refused', async () => {
    const index = HnswIndex.build(rows(base, range(0, 2000)), { ...BUILD, keys: range(0, 2000) });
    const first = index.addAsync(rows(base, range(2000, 2600)), range(2000, 2600), { threads: 2 });
    const second = index.addAsync(rows(base, range(2600, 3000)), range(2600, 3000), { threads: 1 });
    const batch = index.searchBatch(queries, K, { ef: 64, threads: 2 });
    // Synchronous changes while both are queued or running, and a batch is in flight.
    index.remove([1, 2, 3]);
    index.add(rows(base, [3000]), [3000]);
    index.update(rows(base, [3001]), [4]);
    expect(index.has(3000)).toBe(true);
    expect(await first).toEqual(range(2000, 2600));
    expect(await second).toEqual(range(2600, 3000));
    await batch;
    expect(index.size).toBe(2000 - 3 + 600 + 400 + 1);
    const live = new Set([...range(0, 3001)].filter((k) => k < 1 || k > 3));
    for (const key of live) expect(index.has(key)).toBe(true);
    expect(index.search(base.get(3001), 1).keys).toEqual([4]);
    // Item 4 now holds row 3001's vector: the reference for recall does the same.
    const truthRows = [...live].map((k) => (k === 4 ? 3001 : k));
    const truth = exactFiltered(rows(base, truthRows), queries, K, () => true);
    const got: (number | string | null)[] = [];
    for (let q = 0; q < NQ; q++) got.push(...index.search(queries.get(q), K, { ef: 64 }).keys!);
    const keyOfRow = [...live];
    expect(
      recallAgainst(
        got,
        Array.from(truth, (r) => (r < 0 ? -1 : keyOfRow[r]!)),
        K,
      ),
    ).toBeGreaterThanOrEqual(0.95);
  });

  it('changes in place, but never into memory another index shares (withStore, quantize)', () => {
    const index = HnswIndex.build(rows(base, range(0, 1000)), { ...BUILD, keys: range(0, 1000) });
    index.add(rows(base, [1000]), [1000]); // the first change copies; later ones may write in place
    const sibling = index.withStore(index.store);
    const before = serializeIndex(sibling);
    index.remove([5, 6]);
    index.add(rows(base, [2000, 2001, 2002]), [2000, 2001, 2002]); // two reused slots, one appended
    index.add(rows(base, [2003]), [2003]);
    expect(sameBytes(serializeIndex(sibling), before)).toBe(true);
    expect(index.search(base.get(2000), 1).keys).toEqual([2000]);
    expect(sibling.search(base.get(5), 1).keys).toEqual([5]);
    expect(index.memory.storeBytes).toBeGreaterThan(index.capacity * 784 * 4 - 1); // spare room counted
  });

  it('updates an item in place of its key, keeping its labels', () => {
    const index = HnswIndex.build(rows(base, range(0, 2000)), {
      ...BUILD,
      keys: range(0, 2000).map((i) => `k${i}`),
      labels: range(0, 2000).map((i) => digits[i]!),
    });
    // Item k5 now holds the vector of row 3000: searching that vector finds k5 first.
    index.update(rows(base, [3000]), ['k5']);
    const r = index.search(base.get(3000), 1);
    expect(r.keys).toEqual(['k5']);
    expect(r.scores[0]).toBe(0);
    expect(index.search(base.get(3000), 1, { filter: { label: digits[5]! } }).keys).toEqual(['k5']);
    expect(index.size).toBe(2000);
    // upsert: an existing key is replaced, a new one added.
    index.add(rows(base, [3001, 3002]), ['k6', 'new'], { upsert: true, labels: [1, 2] });
    expect(index.size).toBe(2001);
    expect(index.search(base.get(3001), 1, { filter: { label: 1 } }).keys).toEqual(['k6']);
    expect(index.search(base.get(3002), 1).keys).toEqual(['new']);
  });

  it('rejects bad changes in one line and leaves the index unchanged', () => {
    const index = HnswIndex.build(rows(base, range(0, 1000)), {
      ...BUILD,
      keys: range(0, 1000),
      labels: range(0, 1000).map((i) => digits[i]!),
    });
    const before = serializeIndex(index);
    const nan = rows(base, [1500]);
    nan.data[17] = Number.NaN;
    const cases: [() => unknown, RegExp][] = [
      [() => index.remove([5, 123456]), /key 123456 is not in the index/],
      [() => index.add([new Float32Array(10)], [5000]), /dimension 10, the index has 784/],
      [() => index.add(nan, [5000]), /new item 0: .*non-finite/],
      [() => index.add(rows(base, [1500]), [7]), /key 7 is already in the index/],
      [() => index.add(rows(base, [1500, 1501]), [9000, 9000]), /appears twice/],
      [() => index.add(rows(base, [1500]), ['s']), /non-negative integers/],
      [() => index.add(rows(base, [1500]), [9000], { labels: [1, 2] }), /2 label rows for 1 items/],
      [() => index.add(rows(base, [1500])), /give one key per new item/],
      [() => index.update(rows(base, [1500]), [424242]), /key 424242 is not in the index/],
    ];
    for (const [call, message] of cases) {
      let error: WebannoloError | undefined;
      try {
        call();
      } catch (e) {
        error = e as WebannoloError;
      }
      expect(error, String(message)).toBeDefined();
      expect(error!.message).toMatch(message);
      expect(error!.message).not.toContain('\n');
      expect(sameBytes(serializeIndex(index), before)).toBe(true);
    }
  });

  it('saves and loads mid-sequence without changing a result, tombstones included', () => {
    const index = HnswIndex.build(rows(base, range(0, 2000)), { ...BUILD, keys: range(0, 2000).map((i) => `id-${i}`) });
    index.remove(
      range(0, 2000)
        .filter((i) => i % 7 === 0)
        .map((i) => `id-${i}`),
    );
    const loaded = deserializeIndex(serializeIndex(index)) as HnswIndex;
    expect(loaded.size).toBe(index.size);
    expect(loaded.removed.count).toBe(index.removed.count);
    for (let q = 0; q < 20; q++) expect(loaded.search(queries.get(q), K).keys).toEqual(index.search(queries.get(q), K).keys);
    // Both go on identically: the loaded index reuses the same slots.
    index.add(rows(base, [4000, 4001]), ['a', 'b']);
    loaded.add(rows(base, [4000, 4001]), ['a', 'b']);
    expect(sameBytes(serializeIndex(loaded), serializeIndex(index))).toBe(true);
  });

  it('compacts: same live items and keys, no removed slots, recall kept', async () => {
    const index = HnswIndex.build(rows(base, range(0, 3000)), {
      ...BUILD,
      keys: range(0, 3000),
      labels: range(0, 3000).map((i) => digits[i]!),
    });
    const removed = range(0, 3000).filter((i) => i % 3 !== 0);
    index.remove(removed);
    await index.compact({ threads: 1 });
    expect(index.capacity).toBe(1000);
    expect(index.size).toBe(1000);
    expect(index.removed.count).toBe(0);
    const live = new Set(range(0, 3000).filter((i) => i % 3 === 0));
    expect(liveRecall(index, base, queries, live)).toBeGreaterThanOrEqual(0.95);
    const r = index.search(queries.get(0), K, { filter: { label: 4 } });
    for (const key of r.keys!) expect(digits[key as number]).toBe(4);
  });

  it('empties and refills, and works without keys (ids, slots reused)', () => {
    const index = HnswIndex.build(rows(base, range(0, 50)), BUILD);
    index.remove(range(0, 50));
    expect(index.size).toBe(0);
    expect(Array.from(index.search(queries.get(0), 3).ids)).toEqual([-1, -1, -1]);
    const again = deserializeIndex(serializeIndex(index)) as HnswIndex;
    expect(again.add(rows(base, [60, 61, 62]))).toEqual([0, 1, 2]);
    expect(Array.from(again.search(base.get(61), 1).ids)).toEqual([1]);
    expect(() => again.remove([7])).toThrow(/id 7 is not in the index/);
  });

  it('adds to PQ and sparse indexes', () => {
    const train = rows(base, range(0, 2000));
    const pqIndex = HnswIndex.build(train, { ...BUILD, keys: range(0, 2000) }).quantize(new ProductQuantizer({ m: 16, seed: 1 }));
    pqIndex.add(rows(base, [5000, 5001]), [5000, 5001]);
    expect(pqIndex.search(base.get(5000), 1, { rerank: 50 }).keys).toEqual([5000]);
    expect(pqIndex.store.size).toBe(2002);

    const sparseRows = Array.from({ length: 300 }, (_, i) => ({
      indices: Uint32Array.from([i % 50, 50 + (i % 37), 100 + (i % 11)]),
      values: Float32Array.from([1 + (i % 5), 2, 0.5 + i / 300]),
    }));
    const sparse = HnswIndex.build(SparseDataset.fromRows(sparseRows.slice(0, 200), 128), { metric: 'ip' });
    sparse.add(sparseRows.slice(200));
    sparse.remove([0, 1, 2]);
    expect(sparse.size).toBe(297);
    const r = sparse.search(sparseRows[250]!, 5);
    expect(r.ids.every((id) => id > 2)).toBe(true);
    expect(() => sparse.add([{ indices: Uint32Array.from([500]), values: Float32Array.from([1]) }])).toThrow(/new item 0/);
  });
});

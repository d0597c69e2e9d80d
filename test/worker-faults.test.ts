import type { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeWorkers, DenseDataset, HnswIndex, PlainQuantizer, ProductQuantizer, trainPqParallel, WorkerPool } from '../src/index.js';
import { loadMnist } from '../src/node/mnist.js';
import type { PoolWorker, Task } from '../src/parallel/pool.js';

// Worker threads that die: by process.exit, an uncaught error, a kill, a reply that cannot be
// read, the pool's close. Every call ends (never hangs) with a typed error, the pool replaces
// the worker, and a batched search loses no results. The fault tasks (src/parallel/fault-tasks.ts)
// exist in workers started with this variable set: it must be set before the pool starts them.
process.env.WEBANNOLO_FAULT_TASKS = '1';

/** Rejects with 'hung' if `p` has not settled after `ms`: a call that never ends fails fast. */
function within<T>(p: Promise<T>, ms = 30_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hung: no answer after ${ms} ms`)), ms);
  });
  return Promise.race([p, hung]).finally(() => clearTimeout(timer));
}

/**
 * Watches `w` for its nth task of `op` and then runs `act` (by default: kills the worker), at
 * one of two moments. `until`: once `until(task)` holds, polled between event-loop turns
 * while the task runs (at most 5 s). `first`: just before the task is posted, so the thread
 * is already stopping when the task reaches it and the task cannot finish, however short it
 * is (early build batches are one node). Resolves with the task once `act` is done.
 */
function during(
  w: PoolWorker,
  op: string,
  options: { nth?: number; until?: (task: Task) => boolean; first?: boolean; act?: () => Promise<void> } = {},
): Promise<Task> {
  const original = w.run.bind(w);
  const act = options.act ?? (() => w.kill());
  let seen = 0;
  return within(
    new Promise((resolve, reject) => {
      w.run = (task: Task) => {
        if (task.op !== op || ++seen !== (options.nth ?? 1)) return original(task);
        w.run = original;
        if (options.first) {
          const acting = act();
          const call = original(task);
          acting.then(() => resolve(task), reject);
          return call;
        }
        const call = original(task);
        const started = performance.now();
        const poll = (): void => {
          if (options.until && !options.until(task) && performance.now() - started < 5000) setImmediate(poll);
          else act().then(() => resolve(task), reject);
        };
        poll();
        return call;
      };
    }),
  );
}

/** Queries the workers of a batched search have taken so far (their shared counter). */
const taken = (task: Task): number => Atomics.load(task.next as Int32Array, 0);

function graphBytes(index: HnswIndex): Buffer[] {
  const g = index.graph;
  return [Buffer.from(g.level0.slice().buffer), Buffer.from(g.upperPool.slice().buffer), Buffer.from([g.entryPoint & 0xff, g.maxLevel])];
}

describe('a worker that dies ends its calls with a typed error, and the pool replaces it', () => {
  let pool: WorkerPool;
  beforeAll(() => {
    pool = new WorkerPool();
  });
  afterAll(async () => {
    await pool.close();
  });

  it('an exit without an error event (process.exit): the running and the queued call end with WORKER_FAILED', async () => {
    const [w0, w1] = await pool.ensure(2);
    const sleeping = w0!.run({ op: 'faultSleep', ms: 50 });
    const exiting = w0!.run({ op: 'faultExit', code: 3 });
    const queued = w0!.run({ op: 'faultSleep', ms: 1 });
    expect(await within(sleeping)).toBe(50);
    await expect(within(exiting)).rejects.toMatchObject({ name: 'WebannoloError', code: 'WORKER_FAILED', message: /exited \(code 3\)/ });
    await expect(within(queued)).rejects.toMatchObject({ code: 'WORKER_FAILED' });
    await expect(w0!.run({ op: 'faultSleep', ms: 1 })).rejects.toMatchObject({ code: 'WORKER_FAILED' });
    expect(pool.workersLost).toBe(1);
    // The next task gets a fresh worker in the dead one's place; the other one is kept.
    const again = await pool.ensure(2);
    expect(again).not.toContain(w0);
    expect(again).toContain(w1);
    expect(await within(pool.runEach(2, () => ({ op: 'faultSleep', ms: 1 })))).toEqual([1, 1]);
  });

  it('an uncaught error (error event): its call ends with WORKER_FAILED naming the error', async () => {
    const [w0] = await pool.ensure(2);
    const lostBefore = pool.workersLost;
    await expect(within(w0!.run({ op: 'faultUncaught', message: 'fault 42 thrown outside any handler' }))).rejects.toMatchObject({
      code: 'WORKER_FAILED',
      message: /fault 42 thrown outside any handler/,
    });
    expect(pool.workersLost).toBe(lostBefore + 1);
    expect(await within(pool.runEach(2, () => ({ op: 'faultSleep', ms: 1 })))).toEqual([1, 1]);
  });

  it('a kill while a task runs: the call ends with WORKER_FAILED at once', async () => {
    const [w0] = await pool.ensure(1);
    const t = performance.now();
    const long = w0!.run({ op: 'faultSleep', ms: 20_000 });
    await new Promise((r) => setTimeout(r, 50));
    await w0!.kill();
    await expect(within(long)).rejects.toMatchObject({ code: 'WORKER_FAILED' });
    expect(performance.now() - t).toBeLessThan(10_000);
    expect(await within(pool.runEach(1, () => ({ op: 'faultSleep', ms: 1 })))).toEqual([1]);
  });

  it('a message that cannot be read (messageerror): every call of that worker ends with WORKER_FAILED, once its thread stopped', async () => {
    const [w0] = await pool.ensure(1);
    const long = w0!.run({ op: 'faultSleep', ms: 20_000 });
    // What Node emits when a message from the worker cannot be deserialized on this side.
    (w0!.thread as EventEmitter).emit('messageerror', new Error('could not deserialize'));
    await expect(within(long, 10_000)).rejects.toMatchObject({
      code: 'WORKER_FAILED',
      message: /could not be read \(could not deserialize\)/,
    });
    expect(w0!.dead).not.toBeNull();
    expect(await within(pool.runEach(1, () => ({ op: 'faultSleep', ms: 1 })))).toEqual([1]);
  });

  it('a reply that cannot be cloned: its call ends with WORKER_FAILED; the worker is alive and keeps serving', async () => {
    const [w0] = await pool.ensure(1);
    await expect(within(w0!.run({ op: 'faultUnclonable' }))).rejects.toMatchObject({ code: 'WORKER_FAILED', message: /could not be sent/ });
    expect(w0!.dead).toBeNull();
    expect(await within(w0!.run({ op: 'faultSleep', ms: 2 }))).toBe(2);
  });

  it('an error a handler throws ends only its call, as thrown; the worker stays', async () => {
    const [w0] = await pool.ensure(1);
    const lostBefore = pool.workersLost;
    await expect(within(w0!.run({ op: 'noSuchTask' }))).rejects.toThrow(/unknown worker task 'noSuchTask'/);
    expect(w0!.dead).toBeNull();
    expect(pool.workersLost).toBe(lostBefore);
    expect(await within(w0!.run({ op: 'faultSleep', ms: 2 }))).toBe(2);
  });

  it('close() ends pending calls with CLOSED, and the pool refuses new tasks', async () => {
    const own = new WorkerPool();
    const [w0] = await own.ensure(1);
    const long = w0!.run({ op: 'faultSleep', ms: 20_000 });
    await own.close();
    await expect(within(long, 10_000)).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(own.ensure(1)).rejects.toMatchObject({ code: 'CLOSED' });
    expect(own.workersLost).toBe(0);
  });
});

describe('index work on workers that die', () => {
  const NQ = 1200;
  let base: DenseDataset;
  let queries: DenseDataset;
  let index: HnswIndex;
  const search = { ef: 200, threads: 2 };
  let one: Awaited<ReturnType<HnswIndex['searchBatch']>>;

  beforeAll(async () => {
    await closeWorkers();
    const mnist = loadMnist(2500, NQ / 4);
    base = mnist.train;
    // Each test row four times: a batch long enough to kill its workers while it runs.
    queries = new DenseDataset(new Float32Array(NQ * base.dim), base.dim);
    for (let i = 0; i < 4; i++) queries.data.set(mnist.test.data, (i * NQ * base.dim) / 4);
    index = HnswIndex.build(base, { metric: 'l2', m: 12, efConstruction: 60 });
    one = await index.searchBatch(queries, 10, { ...search, threads: 1 });
  });
  afterAll(async () => {
    await closeWorkers();
  });

  it('a worker killed mid-search: the batch completes, equal to one thread', async () => {
    const pool = WorkerPool.shared();
    const [, w1] = await pool.ensure(2);
    const lostBefore = pool.workersLost;
    let atKill = -1;
    const killed = during(w1!, 'hnswSearch', {
      until: (task) => (atKill = taken(task)) >= NQ / 8,
    });
    const r = await within(index.searchBatch(queries, 10, search));
    await killed;
    expect(atKill).toBeGreaterThanOrEqual(NQ / 8);
    expect(atKill).toBeLessThan(NQ);
    expect(pool.workersLost).toBe(lostBefore + 1);
    expect(r.ids).toEqual(one.ids);
    expect(r.scores).toEqual(one.scores);
    // The surviving worker, plus this thread if the dead one left queries unfinished.
    expect(r.threads).toBeGreaterThanOrEqual(1);
    expect(r.threads).toBeLessThanOrEqual(2);
  });

  it('every worker killed mid-search: this thread finishes the batch (threads 1), equal to one thread', async () => {
    const pool = WorkerPool.shared();
    const [w0, w1] = await pool.ensure(2);
    let atKill = -1;
    const until = (task: Task) => (atKill = taken(task)) >= NQ / 8;
    const killed = Promise.all([during(w0!, 'hnswSearch', { until }), during(w1!, 'hnswSearch', { until })]);
    const r = await within(index.searchBatch(queries, 10, search));

    await killed;
    expect(atKill).toBeLessThan(NQ);
    expect(r.threads).toBe(1);
    expect(r.ids).toEqual(one.ids);
    expect(r.scores).toEqual(one.scores);
    // Fresh workers serve the next batch.
    const again = await within(index.searchBatch(queries, 10, search));
    expect(again.threads).toBe(2);
    expect(again.ids).toEqual(one.ids);
  });

  it('the pool closed mid-search: this thread finishes the batch', async () => {
    const [w0] = await WorkerPool.shared().ensure(2);
    const closing = during(w0!, 'hnswSearch', { until: (task) => taken(task) >= NQ / 8, act: () => closeWorkers() });
    const r = await within(index.searchBatch(queries, 10, search));
    await closing;
    expect(r.threads).toBe(1);
    expect(r.ids).toEqual(one.ids);
    expect(r.scores).toEqual(one.scores);
  });

  it('a worker that died while idle is replaced and attached before the next batch', async () => {
    const pool = WorkerPool.shared();
    await within(index.searchBatch(queries, 10, search));
    const [w0] = await pool.ensure(2);
    await w0!.kill();
    const r = await within(index.searchBatch(queries, 10, search));
    expect(r.threads).toBe(2);
    expect(r.ids).toEqual(one.ids);
  });

  it('a worker killed mid-build: buildAsync and buildOnStoreAsync fail with WORKER_FAILED; the pool builds the same graph afterwards', async () => {
    const data = new DenseDataset(base.data.subarray(0, 2000 * base.dim), base.dim);
    const params = { metric: 'l2' as const, m: 12, efConstruction: 60, seed: 3, threads: 2 };
    const reference = await within(HnswIndex.buildAsync(data, params));
    const pool = WorkerPool.shared();

    let [, w1] = await pool.ensure(2);
    const killed = during(w1!, 'hnswSelect', { nth: 10, first: true });
    await expect(within(HnswIndex.buildAsync(data, params))).rejects.toMatchObject({ name: 'WebannoloError', code: 'WORKER_FAILED' });
    await killed;
    expect(graphBytes(await within(HnswIndex.buildAsync(data, params)))).toEqual(graphBytes(reference));

    const store = new PlainQuantizer().encode(data, 'l2');
    // The store carries the metric: buildOnStoreAsync takes the graph's parameters only.
    const { metric: _metric, ...graphParams } = params;
    const onStore = await within(HnswIndex.buildOnStoreAsync(store, graphParams));
    [, w1] = await pool.ensure(2);
    const killedInLink = during(w1!, 'hnswLink', { nth: 5, first: true });
    await expect(within(HnswIndex.buildOnStoreAsync(store, graphParams))).rejects.toMatchObject({ code: 'WORKER_FAILED' });
    await killedInLink;
    expect(graphBytes(await within(HnswIndex.buildOnStoreAsync(store, graphParams)))).toEqual(graphBytes(onStore));
  });

  it('a worker killed mid-addAsync: the add fails with WORKER_FAILED; a later add works', async () => {
    const first = Array.from({ length: 1500 }, (_, i) => i);
    const more = Array.from({ length: 1000 }, (_, i) => 1500 + i);
    const rowsOf = (keys: number[]) => new DenseDataset(base.data.slice(keys[0]! * base.dim, (keys.at(-1)! + 1) * base.dim), base.dim);
    const living = HnswIndex.build(rowsOf(first), { metric: 'l2', m: 12, efConstruction: 60, keys: first });
    const [, w1] = await WorkerPool.shared().ensure(2);
    const killed = during(w1!, 'hnswSelect', { nth: 2, first: true });
    await expect(within(living.addAsync(rowsOf(more), more, { threads: 2 }))).rejects.toMatchObject({ code: 'WORKER_FAILED' });
    await killed;
    expect(living.size).toBe(1500);
    expect(await within(living.addAsync(rowsOf(more), more, { threads: 2 }))).toEqual(more);
    expect(living.size).toBe(2500);
  });

  it('a worker killed mid-training: PQ k-means assigns its slice here and gives the one-thread codebooks', async () => {
    const one = new ProductQuantizer({ m: 49, trainSample: 1000, maxIterations: 3 });
    one.train(base);
    const many = new ProductQuantizer({ m: 49, trainSample: 1000, maxIterations: 3 });
    const pool = WorkerPool.shared();
    const [, w1] = await pool.ensure(2);
    const lostBefore = pool.workersLost;
    const killed = during(w1!, 'kmeansAssign', { nth: 3, first: true });
    await within(trainPqParallel(many, base, 2));
    await killed;
    expect(pool.workersLost).toBe(lostBefore + 1);
    expect(many.codebooks).toEqual(one.codebooks);
  });
});

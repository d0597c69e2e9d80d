import { expect, it } from 'vitest';
import {
  type BatchSearchResult,
  type Dataset,
  FlatIndex,
  type GpuContext,
  HnswIndex,
  type PlainDenseStore,
  requestGpu,
  WebannoloError,
} from '../src/index.js';
import { denseData } from '../src/quant/dense/gpu-pairs.js';
import { loadMnistWithTruth } from './helpers/data.js';
import { describeGpu, gpu } from './helpers/gpu.js';
import { expectSameIdsPerQuery } from './helpers/per-query.js';

/**
 * GPU work belongs to the call (src/gpu/call.ts, fenced() in src/gpu/dispatch.ts): two
 * searches running at once on one device each report their own traffic, and a fault in one
 * is handled in that one while the other finishes on the GPU with its own results.
 */

const trafficOf = (r: BatchSearchResult) => ({ roundTrips: r.roundTrips, bytesUp: r.bytesUp, bytesDown: r.bytesDown });

/** Counts the submits on `ctx`'s device until restored. */
function watchSubmits(ctx: GpuContext): { readonly count: number; restore(): void } {
  const queue = ctx.device.queue;
  const submit = queue.submit;
  let count = 0;
  queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
    count++;
    submit.call(queue, buffers);
  };
  return {
    get count() {
      return count;
    },
    restore: () => {
      queue.submit = submit;
    },
  };
}

type Search = () => Promise<BatchSearchResult>;

/**
 * Runs `a` and `b` alone (after a warm-up that uploads their stores and graphs), then both at
 * once: each must report the traffic and ids (k per query) it reports alone, and `b` must have
 * submitted work while `a` ran (else the calls did not overlap and the test proves nothing).
 */
async function expectOwnCounters(a: Search, b: Search, kA: number, kB: number): Promise<void> {
  await a();
  await b();
  const [aloneA, aloneB] = [await a(), await b()];
  const watch = watchSubmits(gpu!);
  let submitsWhenAEnded = 0;
  try {
    const [onA, onB] = await Promise.all([
      a().then((r) => {
        submitsWhenAEnded = watch.count;
        return r;
      }),
      b(),
    ]);
    // The calls overlapped: `b` submitted while `a` was running (each submit is one round trip here).
    expect(submitsWhenAEnded).toBeGreaterThan(aloneA.roundTrips);
    expect(watch.count).toBe(aloneA.roundTrips + aloneB.roundTrips);
    for (const [together, alone, k, what] of [
      [onA, aloneA, kA, 'a'],
      [onB, aloneB, kB, 'b'],
    ] as const) {
      expect(together.backend, what).toBe(alone.backend);
      expect(together.gpuMode, what).toBe(alone.gpuMode);
      expect(trafficOf(together), what).toEqual(trafficOf(alone));
      expect(together.roundTrips, what).toBeGreaterThan(0);
      expect(together.hostMs, what).toBeGreaterThan(0);
      expectSameIdsPerQuery(together, alone, k, `${what} together vs alone`);
    }
  } finally {
    watch.restore();
  }
}

async function mnist() {
  const { base, queries } = await loadMnistWithTruth(20_000, 1_000);
  return { base: base.slice(0, 3000), queries: queries.slice(0, 200) };
}

/** Indexes the tests share (each built once): 3000 and 1500 MNIST items. */
const built = new Map<number, HnswIndex>();
async function mnistIndex(n: 3000 | 1500): Promise<HnswIndex> {
  let index = built.get(n);
  if (!index) {
    const { base } = await mnist();
    index = HnswIndex.build(base.slice(0, n), { metric: 'l2', m: 8, efConstruction: 40 });
    built.set(n, index);
  }
  return index;
}

describeGpu('concurrent searches on one device', () => {
  it('a resident batch and a hybrid batch of other sizes each report the counters they report alone', async () => {
    const { queries } = await mnist();
    const index = await mnistIndex(3000);
    const a = () => index.searchBatch(queries.slice(0, 50), 10, { ef: 40, backend: 'gpu' });
    const b = () => index.searchBatch(queries.slice(50, 150), 10, { ef: 40, backend: 'gpu', gpuMode: 'hybrid', batchSize: 64 });
    await expectOwnCounters(a, b, 10, 10);
    expect((await a()).gpuMode).toBe('resident');
    expect((await b()).gpuMode).toBe('hybrid');
  });

  it('two hybrid batches (one on two lanes) on different stores each report their own counters', async () => {
    const { queries } = await mnist();
    const [small, large] = [await mnistIndex(1500), await mnistIndex(3000)];
    const a = () => small.searchBatch(queries.slice(0, 40), 10, { ef: 32, backend: 'gpu', gpuMode: 'hybrid' });
    const b = () =>
      large.searchBatch(queries.slice(40, 120), 10, { ef: 40, backend: 'gpu', gpuMode: 'hybrid', hybridLanes: 2, batchSize: 40 });
    await expectOwnCounters(a, b, 10, 10);
  });

  it("FlatIndex's exact searches of different sizes each report their own counters", async () => {
    const { base, queries } = await mnist();
    const flat = FlatIndex.build(base, { metric: 'l2' });
    const a = () => flat.searchBatch(queries.slice(0, 30), 10, { backend: 'gpu' });
    const b = () => flat.searchBatch(queries.slice(30, 120), 20, { backend: 'gpu' });
    await expectOwnCounters(a, b, 10, 20);
    expect((await b()).gpuMode).toBe('exact');
  });
});

/** A search that will fault on `ctx` (its store's device copy is destroyed) and what it must return. */
interface Faulting {
  readonly run: (onFallback: (e: unknown) => void) => Promise<BatchSearchResult>;
  /** The same search on the CPU: the faulting call finishes there, so its results are these. */
  readonly reference: () => Promise<BatchSearchResult>;
  readonly k: number;
}

/**
 * Runs `faulting` and a healthy hybrid batch at once on `ctx`. The fault (a real WebGPU
 * validation error: a destroyed buffer bound in a submit) must be reported to the faulting
 * call alone, which finishes on the CPU with the CPU's results; the healthy call goes on
 * submitting after the fault and returns what it returns alone, with the same counters.
 */
async function expectFaultStaysInItsCall(ctx: GpuContext, store: PlainDenseStore, faulting: Faulting): Promise<void> {
  const { queries } = await mnist();
  const healthyIndex = await mnistIndex(3000);
  const healthyQueries: Dataset = queries.slice(40, 140);
  const healthy = (onFallback?: (e: unknown) => void) =>
    healthyIndex.searchBatch(healthyQueries, 10, { ef: 40, backend: 'gpu', gpu: ctx, gpuMode: 'hybrid', batchSize: 64, onFallback });
  await healthy();
  const alone = await healthy();
  const reference = await faulting.reference();
  // The faulting store's device copy: every submit that binds it is invalid.
  for (const chunk of denseData(ctx, store).chunks) chunk.destroy();

  const watch = watchSubmits(ctx);
  const faults: unknown[] = [];
  const healthyFaults: unknown[] = [];
  let submitsAtFault = -1;
  try {
    const [good, bad] = await Promise.all([
      healthy((e) => healthyFaults.push(e)),
      faulting.run((e) => {
        faults.push(e);
        submitsAtFault = watch.count;
      }),
    ]);
    expect(faults).toHaveLength(1);
    expect(faults[0]).toBeInstanceOf(WebannoloError);
    expect((faults[0] as WebannoloError).code).toBe('GPU_FAILURE');
    expect(String((faults[0] as Error).message)).toMatch(/dense rows 0\+/); // the destroyed buffer, by its label
    expect(bad.backend).toBe('gpu+cpu');
    expectSameIdsPerQuery(bad, reference, faulting.k, 'the faulting call vs the CPU');

    expect(healthyFaults).toEqual([]);
    expect(good.backend).toBe('gpu');
    expect(good.gpuMode).toBe('hybrid');
    expect(trafficOf(good)).toEqual(trafficOf(alone));
    expectSameIdsPerQuery(good, alone, 10, 'the healthy call vs alone');
    // The healthy call kept submitting after the fault was handled.
    expect(submitsAtFault).toBeGreaterThanOrEqual(0);
    expect(watch.count).toBeGreaterThan(submitsAtFault);
  } finally {
    watch.restore();
  }
  // The fault retired the context for later calls.
  expect(ctx.usable).toBe(false);
}

describeGpu('a fault in one of two concurrent searches', () => {
  it('resident: the faulting call finishes on the CPU, the other on the GPU with its own results', async () => {
    const { queries } = await mnist();
    const index = await mnistIndex(1500);
    const q = queries.slice(0, 40);
    await expectFaultStaysInItsCall(gpu!, index.store as PlainDenseStore, {
      run: (onFallback) => index.searchBatch(q, 10, { ef: 40, backend: 'gpu', gpu: gpu!, onFallback }),
      reference: () => index.searchBatch(q, 10, { ef: 40 }),
      k: 10,
    });
    expect(await requestGpu()).toBeNull();
  });

  it('hybrid on two lanes: reported once, finished by the CPU controller; the other call is untouched', async () => {
    const ctx = (await requestGpu({ renew: true }))!;
    const { queries } = await mnist();
    const index = await mnistIndex(1500);
    const q = queries.slice(0, 80);
    const lanes = { ef: 40, hybridLanes: 2, batchSize: 40 } as const;
    await expectFaultStaysInItsCall(ctx, index.store as PlainDenseStore, {
      run: (onFallback) => index.searchBatch(q, 10, { ...lanes, backend: 'gpu', gpu: ctx, gpuMode: 'hybrid', onFallback }),
      // Integer pixels: the CPU's distances equal the GPU's, so the controller's results match either way.
      reference: () => index.searchBatch(q, 10, { ...lanes, evaluator: index.store.batchEvaluator() }),
      k: 10,
    });
  });

  it("FlatIndex's exact search: the faulting call finishes on the CPU", async () => {
    const ctx = (await requestGpu({ renew: true }))!;
    const { base, queries } = await mnist();
    const flat = FlatIndex.build(base.slice(0, 2000), { metric: 'l2' });
    const q = queries.slice(0, 30);
    await expectFaultStaysInItsCall(ctx, flat.store as PlainDenseStore, {
      run: (onFallback) => flat.searchBatch(q, 10, { backend: 'gpu', gpu: ctx, onFallback }),
      reference: () => flat.searchBatch(q, 10),
      k: 10,
    });
    expect(await requestGpu({ renew: true })).not.toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { decideAuto } from '../src/gpu/auto.js';
import { maxResidentEf, residentLayout } from '../src/gpu/resident/layout.js';
import {
  type BatchEvaluator,
  type BatchSearchResult,
  FlatIndex,
  GpuDenseEvaluator,
  type GroundTruth,
  HnswIndex,
  type PlainDenseStore,
  ProductQuantizer,
  recallAtK,
  requestGpu,
  ScalarQuantizer,
} from '../src/index.js';
import { loadBge, loadMnistWithTruth, loadSplade } from './helpers/data.js';
import { describeGpu, gpu } from './helpers/gpu.js';
import {
  describeStats,
  exactDistances,
  expectPerQueryBound,
  expectSameIdsPerQuery,
  NEAR_TIES,
  PQ_TIES,
  SPARSE_TIES,
} from './helpers/per-query.js';
import { describeShared } from './helpers/shared-data.js';
import { idsOfSlots, slotOfId } from './helpers/slots.js';

const mnist = async (n: number, nq: number) => {
  const { base, queries, gt } = await loadMnistWithTruth(20_000, 1_000);
  const q = queries.slice(0, nq);
  return {
    base: base.slice(0, n),
    queries: q,
    gt: { ...gt, rows: nq, data: gt.data.subarray(0, nq * gt.dim), scores: gt.scores?.subarray(0, nq * gt.dim) } as GroundTruth,
  };
};

/** Recall against ground truth computed on a subset (MNIST's cached truth is for 20k items). */
async function truthFor(index: HnswIndex, queries: Parameters<FlatIndex['searchBatch']>[0], k: number): Promise<GroundTruth> {
  const exact = await new FlatIndex(index.rerankStore ?? index.store).searchBatch(queries, k);
  return { rows: exact.count, dim: k, data: idsOfSlots(index, exact.ids), scores: exact.scores };
}

function expectCounters(r: BatchSearchResult, mode: string) {
  expect(r.gpuMode).toBe(mode);
  expect(r.roundTrips).toBeGreaterThan(0);
  expect(r.bytesUp).toBeGreaterThan(0);
  expect(r.bytesDown).toBeGreaterThan(0);
  expect(r.hostMs).toBeGreaterThan(0);
}

describeGpu('GPU-resident HNSW search (MNIST)', () => {
  it('a living index: the GPU searches the changed graph, never returns a removed item; narrow filters run on the CPU, wide ones on the resident kernel', async () => {
    const { base, queries } = await mnist(3000, 100);
    const index = HnswIndex.build(base.slice(0, 2500), {
      metric: 'l2',
      m: 12,
      efConstruction: 80,
      labels: Array.from({ length: 2500 }, (_, i) => i % 4),
    });
    await index.searchBatch(queries, 10, { ef: 48, backend: 'gpu' }); // uploads the first graph
    const gone = Array.from({ length: 2500 }, (_, i) => i).filter((i) => i % 5 === 0);
    index.remove(gone);
    index.add(base.slice(2500, 3000), undefined, { labels: Array.from({ length: 500 }, (_, i) => i % 4) });
    expect(index.capacity).toBe(2500); // the 500 new items took the 500 freed slots
    const all = index.capacity;
    const truth = await new FlatIndex(index.store).searchBatch(queries, all);
    truth.ids.set(idsOfSlots(index, truth.ids));
    const live = (id: number) => id >= 0 && index.has(id);
    const labelOf = (id: number) => index.labels!.of(slotOfId(index, id))[0];
    const exact = new Int32Array(100 * 10);
    for (let q = 0; q < 100; q++)
      exact.set(
        Array.from(truth.ids.subarray(q * all, (q + 1) * all))
          .filter(live)
          .slice(0, 10),
        q * 10,
      );
    const gpuRun = await index.searchBatch(queries, 10, { ef: 48, backend: 'gpu' });
    expect(gpuRun.gpuMode).toBe('resident');
    for (const id of gpuRun.ids) expect(live(id)).toBe(true);
    expect(recallAtK(gpuRun.ids, 10, { rows: 100, dim: 10, data: exact })).toBeGreaterThan(0.95);
    const filtered = await index.searchBatch(queries, 10, { ef: 48, backend: 'gpu', filter: { label: 2 } });
    expect(filtered.filtered).toBe(true);
    expect(filtered.backend).toBe('cpu');
    for (const id of filtered.ids) {
      expect(live(id)).toBe(true);
      expect(Array.from(index.labels!.of(slotOfId(index, id)))).toEqual([2]);
    }
    // A filter that lets most items through runs on the resident kernel (beam widened to
    // ef / share, allowed items kept on the host), with the CPU's filtered recall.
    const most = { labels: [0, 1, 3] };
    const onGpu = await index.searchBatch(queries, 10, { ef: 48, backend: 'gpu', filter: most });
    const onCpu = await index.searchBatch(queries, 10, { ef: 48, filter: most });
    expect(onGpu.filtered).toBe(true);
    expect(onGpu.gpuMode).toBe('resident');
    expect(onGpu.backend.startsWith('gpu')).toBe(true);
    const allowedExact = new Int32Array(100 * 10);
    for (let q = 0; q < 100; q++) {
      const row = Array.from(truth.ids.subarray(q * all, (q + 1) * all)).filter((id) => live(id) && labelOf(id) !== 2);
      allowedExact.set(row.slice(0, 10), q * 10);
    }
    for (const id of onGpu.ids) expect(labelOf(id)).not.toBe(2);
    const rGpu = recallAtK(onGpu.ids, 10, { rows: 100, dim: 10, data: allowedExact });
    const rCpu = recallAtK(onCpu.ids, 10, { rows: 100, dim: 10, data: allowedExact });
    console.log(
      `filtered (75 %) recall@10: resident ${rGpu.toFixed(4)} (${onGpu.roundTrips} round trip(s), backend ${onGpu.backend}), CPU ${rCpu.toFixed(4)}`,
    );
    expect(onGpu.roundTrips).toBe(1);
    expect(rGpu).toBeGreaterThanOrEqual(rCpu - 0.02);
    expect(rGpu).toBeGreaterThan(0.95);
    // Per query: the widened beam's allowed items against the CPU's filtered search.
    const exactOf = exactDistances(base, 'l2');
    console.log(
      describeStats('filtered resident', expectPerQueryBound(onGpu, onCpu, 10, queries, exactOf, NEAR_TIES, 'filtered resident')),
    );
  });

  it('dense L2: resident and hybrid recall within 0.01 of the CPU; one round trip; counters', async () => {
    const { base, queries } = await mnist(6000, 200);
    const index = HnswIndex.build(base, { metric: 'l2', m: 12, efConstruction: 80 });
    const truth = await truthFor(index, queries, 10);
    const cpu = await index.searchBatch(queries, 10, { ef: 48 });
    expect(cpu.gpuMode).toBe('none');
    expect(cpu.roundTrips).toBe(0);
    const resident = await index.searchBatch(queries, 10, { ef: 48, backend: 'gpu' });
    const hybrid = await index.searchBatch(queries, 10, { ef: 48, backend: 'gpu', gpuMode: 'hybrid' });
    expectCounters(resident, 'resident');
    expectCounters(hybrid, 'hybrid');
    expect(resident.backend).toBe('gpu');
    expect(resident.roundTrips).toBe(1);
    expect(hybrid.roundTrips).toBeGreaterThan(10);
    const rc = recallAtK(cpu.ids, 10, truth);
    expect(rc).toBeGreaterThan(0.95);
    expect(Math.abs(recallAtK(resident.ids, 10, truth) - rc)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(recallAtK(hybrid.ids, 10, truth) - rc)).toBeLessThanOrEqual(0.01);
    // Per query. On integer pixels every distance is exact in f32 on both sides, so the
    // resident kernel returns the CPU's ids (as the chunked-store test in gpu.test.ts argues),
    // and the hybrid path those of the same lockstep controller on the CPU; the hybrid path
    // against the CPU's single-query search (another traversal): a bound.
    expectSameIdsPerQuery(resident, cpu, 10, 'resident vs the CPU');
    const lockstepCpu = await index.searchBatch(queries, 10, { ef: 48, evaluator: index.store.batchEvaluator() });
    expectSameIdsPerQuery(hybrid, lockstepCpu, 10, 'hybrid vs the CPU lockstep controller');
    const exactOf = exactDistances(base, 'l2');
    console.log(describeStats('dense hybrid', expectPerQueryBound(hybrid, cpu, 10, queries, exactOf, NEAR_TIES, 'dense hybrid')));
    // Scores are the natural ones, best first.
    for (let q = 0; q < 200; q++) {
      for (let i = 1; i < 10; i++) expect(resident.scores[q * 10 + i]!).toBeGreaterThanOrEqual(resident.scores[q * 10 + i - 1]!);
    }
  });

  it('a forced small workgroup memory still gives correct results; ef beyond capacity is an error or hybrid', async () => {
    const { base, queries } = await mnist(3000, 60);
    const index = HnswIndex.build(base, { metric: 'l2', m: 8, efConstruction: 60 });
    const truth = await truthFor(index, queries, 10);
    const reference = await index.searchBatch(queries, 10, { ef: 40, backend: 'gpu', width: 1 });
    const saved = gpu!.limits.maxComputeWorkgroupStorageSize;
    gpu!.limits.maxComputeWorkgroupStorageSize = 2048; // a tiny visited hash: it is forgotten and refilled often
    try {
      const layout = residentLayout(2048, 40, 1, 16, 8);
      expect('error' in layout).toBe(false);
      const small = await index.searchBatch(queries, 10, { ef: 40, backend: 'gpu', width: 1 });
      expect(small.gpuMode).toBe('resident');
      expect(Math.abs(recallAtK(small.ids, 10, truth) - recallAtK(reference.ids, 10, truth))).toBeLessThanOrEqual(0.01);
      const exactOf = exactDistances(base, 'l2');
      console.log(describeStats('small hash', expectPerQueryBound(small, reference, 10, queries, exactOf, NEAR_TIES, 'small hash')));
      for (let q = 0; q < 60; q++) expect(new Set(small.ids.subarray(q * 10, q * 10 + 10)).size).toBe(10); // no duplicates
      const cap = maxResidentEf(2048, 1, 16, 8);
      await expect(index.searchBatch(queries, 10, { ef: cap + 1, backend: 'gpu', gpuMode: 'resident', width: 1 })).rejects.toThrow(
        /exceeds the resident kernel's capacity.*gpuMode 'hybrid'/,
      );
      const fallback = await index.searchBatch(queries, 10, { ef: cap + 1, backend: 'gpu', width: 1 });
      expect(fallback.gpuMode).toBe('hybrid');
      expect(recallAtK(fallback.ids, 10, truth)).toBeGreaterThanOrEqual(recallAtK(reference.ids, 10, truth) - 0.01);
      console.log(
        describeStats('hybrid fallback', expectPerQueryBound(fallback, reference, 10, queries, exactOf, NEAR_TIES, 'hybrid fallback')),
      );
    } finally {
      gpu!.limits.maxComputeWorkgroupStorageSize = saved;
    }
  });

  it('a store chunked over several bindings gives the same results', async () => {
    const { base, queries } = await mnist(3000, 40);
    const index = HnswIndex.build(base, { metric: 'l2', m: 8, efConstruction: 60 });
    const whole = await index.searchBatch(queries, 10, { ef: 40, backend: 'gpu' });
    const saved = gpu!.limits.maxStorageBufferBindingSize;
    gpu!.limits.maxStorageBufferBindingSize = 1100 * 784 * 4; // 3 chunks
    try {
      const chunked = await index.searchBatch(queries, 10, { ef: 40, backend: 'gpu' });
      expect(chunked.gpuMode).toBe('resident');
      expect(Array.from(chunked.ids)).toEqual(Array.from(whole.ids));
      gpu!.limits.maxStorageBufferBindingSize = 300 * 784 * 4; // 10 chunks: more than it can bind
      const tooMany = await index.searchBatch(queries, 10, { ef: 40, backend: 'gpu' });
      expect(tooMany.gpuMode).toBe('hybrid');
      await expect(index.searchBatch(queries, 10, { ef: 40, backend: 'gpu', gpuMode: 'resident' })).rejects.toThrow(/bindings/);
    } finally {
      gpu!.limits.maxStorageBufferBindingSize = saved;
    }
  });

  it('PQ codes: resident recall within 0.01 of the CPU, with and without re-ranking', async () => {
    const { base, queries } = await mnist(4000, 100);
    const plain = HnswIndex.build(base, { metric: 'l2', m: 12, efConstruction: 60 });
    const index = plain.quantize(new ProductQuantizer({ m: 49, trainSample: 2000, maxIterations: 4 }));
    const truth = await truthFor(plain, queries, 10);
    const exactOf = exactDistances(base, 'l2');
    for (const rerank of [0, 40]) {
      const cpu = await index.searchBatch(queries, 10, { ef: 48, rerank });
      const onGpu = await index.searchBatch(queries, 10, { ef: 48, rerank, backend: 'gpu' });
      expect(onGpu.gpuMode).toBe('resident');
      expect(Math.abs(recallAtK(onGpu.ids, 10, truth) - recallAtK(cpu.ids, 10, truth))).toBeLessThanOrEqual(0.01);
      const what = `PQ resident, rerank ${rerank}`;
      console.log(describeStats(what, expectPerQueryBound(onGpu, cpu, 10, queries, exactOf, rerank === 0 ? PQ_TIES : NEAR_TIES, what)));
    }
  });

  it('f16 and SQ8 codes (l2 and ip): resident recall within 0.01 of the CPU, one round trip, codes decoded in the shader', async () => {
    const { base, queries } = await mnist(2000, 60);
    for (const metric of ['l2', 'ip'] as const) {
      const plain = HnswIndex.build(base, { metric, m: 12, efConstruction: 60 });
      const truth = await truthFor(plain, queries, 10);
      for (const encoding of ['f16', 'sq8'] as const) {
        const index = plain.quantize(new ScalarQuantizer(encoding));
        const rerank = encoding === 'sq8' ? 40 : 0;
        const cpu = await index.searchBatch(queries, 10, { ef: 48, rerank });
        const onGpu = await index.searchBatch(queries, 10, { ef: 48, rerank, backend: 'gpu' });
        expect(onGpu.gpuMode).toBe('resident');
        expect(onGpu.roundTrips).toBe(1);
        const [rc, rg] = [recallAtK(cpu.ids, 10, truth), recallAtK(onGpu.ids, 10, truth)];
        console.log(`resident ${encoding} ${metric}: recall@10 GPU ${rg.toFixed(4)}, CPU ${rc.toFixed(4)}`);
        expect(rc).toBeGreaterThan(0.85);
        expect(Math.abs(rg - rc)).toBeLessThanOrEqual(0.01);
        const what = `${encoding} ${metric} resident`;
        // f16 holds the integer pixels exactly and L2 sums stay exact in f32: the CPU's ids.
        // Inner products may pass 2^24 and SQ8 decodes to fractions: a bound.
        if (encoding === 'f16' && metric === 'l2') expectSameIdsPerQuery(onGpu, cpu, 10, what);
        else console.log(describeStats(what, expectPerQueryBound(onGpu, cpu, 10, queries, exactDistances(base, metric), NEAR_TIES, what)));
      }
    }
  });

  it('a device lost mid-batch: the CPU finishes every query, results complete and correct', async () => {
    const { base, queries } = await mnist(3000, 100);
    const index = HnswIndex.build(base, { metric: 'l2', m: 8, efConstruction: 40 });
    const reference = await index.searchBatch(queries, 10, { ef: 40 });
    const doomed = (await requestGpu({ renew: true }))!;
    const queue = doomed.device.queue;
    const submit = queue.submit.bind(queue);
    queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
      submit(buffers);
      doomed.device.destroy(); // lost while the batch is on the device
    };
    const warnings: unknown[] = [];
    const r = await index.searchBatch(queries, 10, { ef: 40, backend: 'gpu', gpu: doomed, onFallback: (e) => warnings.push(e) });
    expect(warnings).toHaveLength(1);
    expect(r.backend).toBe('gpu+cpu');
    expect(Array.from(r.ids)).toEqual(Array.from(reference.ids));
    expect(await requestGpu({ renew: true })).not.toBeNull();
  });
});

describeGpu('hybrid path: neighbours gathered on the GPU', () => {
  it('gives the same results as host-built pairs, chunked or not, and survives a lost device', async () => {
    const { base, queries } = await mnist(3000, 80);
    const index = HnswIndex.build(base, { metric: 'l2', m: 8, efConstruction: 60 });
    const gathered = await index.searchBatch(queries, 10, { ef: 40, backend: 'gpu', gpuMode: 'hybrid' });
    expect(gathered.gpuMode).toBe('hybrid');
    const twoLanes = await index.searchBatch(queries, 10, { ef: 40, backend: 'gpu', gpuMode: 'hybrid', hybridLanes: 2, batchSize: 40 });
    expect(twoLanes.roundTrips).toBeGreaterThan(gathered.roundTrips); // two batches, each its own rounds
    expect(Array.from(twoLanes.ids)).toEqual(Array.from(gathered.ids)); // each query's beam is its own
    // The same evaluator without its neighbour gather: the controller sends (slot, item) pairs.
    const inner = new GpuDenseEvaluator(gpu!, index.store as PlainDenseStore);
    const pairsOnly: BatchEvaluator = {
      backend: 'gpu',
      setQueries: (ds, start, count) => inner.setQueries(ds, start, count),
      distances: (sl, ids, count, out) => inner.distances(sl, ids, count, out),
    };
    const byPairs = await index.searchBatch(queries, 10, { ef: 40, evaluator: pairsOnly });
    expect(Array.from(gathered.ids)).toEqual(Array.from(byPairs.ids));
    expect(gathered.bytesUp).toBeGreaterThan(0);

    const saved = gpu!.limits.maxStorageBufferBindingSize;
    gpu!.limits.maxStorageBufferBindingSize = 1100 * 784 * 4; // 3 chunks: pairs come from the host
    try {
      const chunked = await index.searchBatch(queries, 10, { ef: 40, backend: 'gpu', gpuMode: 'hybrid' });
      expect(Array.from(chunked.ids)).toEqual(Array.from(gathered.ids));
    } finally {
      gpu!.limits.maxStorageBufferBindingSize = saved;
    }

    const reference = await index.searchBatch(queries, 10, { ef: 40 });
    const doomed = (await requestGpu({ renew: true }))!;
    const queue = doomed.device.queue;
    const submit = queue.submit.bind(queue);
    let submits = 0;
    queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
      submit(buffers);
      if (++submits === 6) doomed.device.destroy(); // lost in the middle of the level-0 rounds
    };
    const warnings: unknown[] = [];
    // Two lanes (batches of 40) in flight: both see the loss, it is reported once.
    const r = await index.searchBatch(queries, 10, {
      ef: 40,
      backend: 'gpu',
      gpuMode: 'hybrid',
      hybridLanes: 2,
      batchSize: 40,
      gpu: doomed,
      onFallback: (e) => warnings.push(e),
    });
    expect(warnings).toHaveLength(1);
    expect(r.backend).toBe('gpu+cpu');
    expect(r.ids.every((id) => id >= 0)).toBe(true);
    expect(
      Math.abs(recallAtK(r.ids, 10, await truthFor(index, queries, 10)) - recallAtK(reference.ids, 10, await truthFor(index, queries, 10))),
    ).toBeLessThanOrEqual(0.01);
    const lost = expectPerQueryBound(r, reference, 10, queries, exactDistances(base, 'l2'), NEAR_TIES, 'hybrid after a lost device');
    console.log(describeStats('hybrid after a lost device', lost));
    expect(await requestGpu({ renew: true })).not.toBeNull();
  });
});

describe("backend 'auto' decides by measurement", () => {
  const base = { cpuMsPerQuery: 0.5, roundTripMs: 0.5, software: false, gpuMsPerQuery: 0.01, queriesPerSubmit: 16384 };
  it('small batches and slow round trips stay on the CPU', () => {
    expect(decideAuto({ ...base, remaining: 1 })).toBe('cpu');
    expect(decideAuto({ ...base, remaining: 100, roundTripMs: 100 })).toBe('cpu'); // a polling browser
    expect(decideAuto({ ...base, remaining: 10_000, software: true })).toBe('cpu');
  });
  it('large batches go to a measured-faster GPU, never to a measured-slower one', () => {
    expect(decideAuto({ ...base, remaining: 1000 })).toBe('gpu');
    expect(decideAuto({ ...base, remaining: 1000, gpuMsPerQuery: 1 })).toBe('cpu');
  });
  it('an unmeasured GPU is probed only when the batch is large', () => {
    expect(decideAuto({ ...base, remaining: 5000, gpuMsPerQuery: null })).toBe('probe');
    expect(decideAuto({ ...base, remaining: 50, gpuMsPerQuery: null })).toBe('cpu');
  });
});

describeGpu('GPU-resident search on the shared real data', () => {
  describeShared('bge-base-beir and splade-pp-ed', () => {
    it('bge dense IP and PQ: resident recall within 0.01 of the CPU, at most 4 round trips', async () => {
      const { base, queries, gt } = loadBge();
      const index = HnswIndex.build(base, { metric: 'ip' });
      const cpu = await index.searchBatch(queries, 10, { ef: 100 });
      const onGpu = await index.searchBatch(queries, 10, { ef: 100, backend: 'gpu' });
      expect(onGpu.gpuMode).toBe('resident');
      expect(onGpu.roundTrips).toBeLessThanOrEqual(4);
      expect(Math.abs(recallAtK(onGpu.ids, 10, gt) - recallAtK(cpu.ids, 10, gt))).toBeLessThanOrEqual(0.01);
      const exactOf = exactDistances(base, 'ip');
      console.log(describeStats('bge resident', expectPerQueryBound(onGpu, cpu, 10, queries, exactOf, NEAR_TIES, 'bge resident')));

      const pqIndex = index.quantize(new ProductQuantizer({ m: 96, trainSample: 2000, maxIterations: 4 }));
      const pqCpu = await pqIndex.searchBatch(queries, 10, { ef: 100, rerank: 100 });
      const pqGpu = await pqIndex.searchBatch(queries, 10, { ef: 100, rerank: 100, backend: 'gpu' });
      expect(pqGpu.gpuMode).toBe('resident');
      expect(Math.abs(recallAtK(pqGpu.ids, 10, gt) - recallAtK(pqCpu.ids, 10, gt))).toBeLessThanOrEqual(0.01);
      console.log(describeStats('bge PQ resident', expectPerQueryBound(pqGpu, pqCpu, 10, queries, exactOf, NEAR_TIES, 'bge PQ resident')));
    });

    it('splade sparse IP: resident recall within 0.01 of the CPU', async () => {
      const { base, queries } = loadSplade(100);
      const sub = base.slice(0, 8000);
      const index = HnswIndex.build(sub, { metric: 'ip', m: 12, efConstruction: 64 });
      const truth = await truthFor(index, queries, 10);
      const cpu = await index.searchBatch(queries, 10, { ef: 64 });
      const onGpu = await index.searchBatch(queries, 10, { ef: 64, backend: 'gpu' });
      expect(onGpu.gpuMode).toBe('resident');
      const r = (x: BatchSearchResult) => recallAtK(x.ids, 10, truth, { scores: x.scores });
      expect(Math.abs(r(onGpu) - r(cpu))).toBeLessThanOrEqual(0.01);
      const exactOf = exactDistances(sub, 'ip');
      console.log(describeStats('splade resident', expectPerQueryBound(onGpu, cpu, 10, queries, exactOf, SPARSE_TIES, 'splade resident')));
    });
  });
});

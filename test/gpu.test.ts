import { describe, expect, it } from 'vitest';
import {
  type BatchEvaluator,
  type Dataset,
  FlatIndex,
  GpuDenseEvaluator,
  GpuPqEvaluator,
  GpuScalarEvaluator,
  GpuSparseEvaluator,
  gpuAssigner,
  HnswIndex,
  type PlainDenseStore,
  type PqStore,
  ProductQuantizer,
  recallAtK,
  requestGpu,
  ScalarQuantizer,
  type ScalarStore,
  type VectorStore,
} from '../src/index.js';
import { assignPoints } from '../src/quant/pq/kmeans.js';
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
import { idsOfSlots } from './helpers/slots.js';

/** Pairs spread over slots and items, deterministic. */
function pairs(count: number, slots: number, items: number) {
  const s = new Uint32Array(count);
  const ids = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    s[i] = i % slots;
    ids[i] = (i * 7919 + 13) % items;
  }
  return { s, ids };
}

/** GPU and CPU batch evaluators agree on every pair (relative error <= tolerance); returns the worst. */
async function expectSameDistances(
  gpuEv: BatchEvaluator,
  store: VectorStore,
  queries: Dataset,
  nq: number,
  count = 4000,
  tolerance = 1e-4,
): Promise<number> {
  const cpuEv = store.batchEvaluator();
  await gpuEv.setQueries(queries, 0, nq);
  cpuEv.setQueries(queries, 0, nq);
  const { s, ids } = pairs(count, nq, store.size);
  const a = new Float32Array(count);
  const b = new Float32Array(count);
  await gpuEv.distances(s, ids, count, a);
  cpuEv.distances(s, ids, count, b);
  let worst = 0;
  for (let i = 0; i < count; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1e-3, Math.abs(b[i]!)));
  expect(worst).toBeLessThanOrEqual(tolerance);
  return worst;
}

describeGpu('WebGPU on MNIST (always available data)', () => {
  it('reports a real adapter', () => {
    expect(gpu!.description.length).toBeGreaterThan(0);
  });

  it('dense L2 pairs, exact search and HNSW searchBatch match the CPU', async () => {
    const { base, queries, gt } = await loadMnistWithTruth(20_000, 1_000);
    const small = base.slice(0, 4000);
    const index = HnswIndex.build(small, { metric: 'l2', m: 12, efConstruction: 80 });
    await expectSameDistances(new GpuDenseEvaluator(gpu!, index.store as PlainDenseStore), index.store, queries, 64);

    const q = queries.slice(0, 40);
    const cpuExact = await FlatIndex.build(small, { metric: 'l2' }).searchBatch(q, 10);
    const gpuExact = await FlatIndex.build(small, { metric: 'l2' }).searchBatch(q, 10, { backend: 'gpu' });
    expect(gpuExact.backend).toBe('gpu');
    expect(Array.from(gpuExact.ids)).toEqual(Array.from(cpuExact.ids)); // integer pixels: exact in f32

    const truth = { rows: 40, dim: 10, data: cpuExact.ids, scores: cpuExact.scores };
    const cpu = await index.searchBatch(q, 10, { ef: 64 });
    const onGpu = await index.searchBatch(q, 10, { ef: 64, backend: 'gpu', gpuMode: 'hybrid', width: 2 });
    const cpuW = await index.searchBatch(q, 10, { ef: 64, width: 2 });
    expect(onGpu.backend).toBe('gpu');
    expect(onGpu.device).toBe(gpu!.description);
    expect(Math.abs(recallAtK(onGpu.ids, 10, truth) - recallAtK(cpuW.ids, 10, truth))).toBeLessThanOrEqual(0.005);
    expect(recallAtK(cpu.ids, 10, truth)).toBeGreaterThanOrEqual(0.95);
    // Per query: integer pixels make every distance exact in f32, so the GPU's hybrid path
    // matches the same lockstep controller (width 2) on the CPU id for id.
    const lockstepCpu = await index.searchBatch(q, 10, { ef: 64, width: 2, evaluator: index.store.batchEvaluator() });
    expectSameIdsPerQuery(onGpu, lockstepCpu, 10, 'hybrid vs the CPU lockstep controller');
    const exactOf = exactDistances(small, 'l2');
    console.log(describeStats('dense hybrid w2', expectPerQueryBound(onGpu, cpu, 10, q, exactOf, NEAR_TIES, 'dense hybrid w2')));
    void gt;
  });

  it("backend 'auto' keeps small batches on the CPU, and everything on a software adapter; 'cpu' never touches the GPU", async () => {
    const { base, queries } = await loadMnistWithTruth(20_000, 1_000);
    const index = HnswIndex.build(base.slice(0, 2000), { metric: 'l2', m: 8, efConstruction: 40 });
    expect((await index.searchBatch(queries.slice(0, 8), 5, { backend: 'auto' })).backend).toBe('cpu');
    const big = await index.searchBatch(queries.slice(0, 300), 5, { backend: 'auto' });
    expect(big.backend).toBe(gpu!.software ? 'cpu' : 'gpu');
    expect((await index.searchBatch(queries.slice(0, 70), 5, { backend: 'cpu' })).backend).toBe('cpu');
  });

  it('f16 and SQ8 codes on the hybrid path: the pair kernel matches the CPU, and so do the results', async () => {
    const { base, queries } = await loadMnistWithTruth(20_000, 1_000);
    const q = queries.slice(0, 40);
    for (const metric of ['l2', 'ip'] as const) {
      const plain = HnswIndex.build(base.slice(0, 3000), { metric, m: 12, efConstruction: 60 });
      for (const encoding of ['f16', 'sq8'] as const) {
        const index = plain.quantize(new ScalarQuantizer(encoding), { keepPlain: false });
        const worst = await expectSameDistances(new GpuScalarEvaluator(gpu!, index.store as ScalarStore), index.store, queries, 32, 2000);
        const cpu = await index.searchBatch(q, 10, { ef: 48 });
        const onGpu = await index.searchBatch(q, 10, { ef: 48, backend: 'gpu', gpuMode: 'hybrid' });
        expect(onGpu.backend).toBe('gpu');
        expect(onGpu.gpuMode).toBe('hybrid');
        let same = 0;
        for (let i = 0; i < cpu.ids.length; i++) if (onGpu.ids[i] === cpu.ids[i]) same++;
        console.log(
          `hybrid ${encoding} ${metric}: worst pair error ${worst.toExponential(1)}, ${same} of ${cpu.ids.length} results as on the CPU`,
        );
        expect(same / cpu.ids.length).toBeGreaterThanOrEqual(0.97);
        if (encoding === 'f16' && metric === 'l2') {
          // f16 holds the integer pixels exactly and the L2 sums stay exact in f32 (pair error 0
          // above): the same lockstep controller on the CPU returns the same ids.
          const lockstep = await index.searchBatch(q, 10, { ef: 48, evaluator: index.store.batchEvaluator() });
          expectSameIdsPerQuery(onGpu, lockstep, 10, 'f16 l2 hybrid vs the CPU lockstep controller');
        }
        const what = `hybrid ${encoding} ${metric}`;
        console.log(
          describeStats(what, expectPerQueryBound(onGpu, cpu, 10, q, exactDistances(base.slice(0, 3000), metric), NEAR_TIES, what)),
        );
      }
    }
  });

  it('a store larger than the binding limit is chunked correctly', async () => {
    const { base, queries } = await loadMnistWithTruth(20_000, 1_000);
    const small = base.slice(0, 3000);
    const index = HnswIndex.build(small, { metric: 'l2', m: 8, efConstruction: 40 });
    const saved = gpu!.limits.maxStorageBufferBindingSize;
    gpu!.limits.maxStorageBufferBindingSize = 700 * 784 * 4 + 100; // 700 rows a chunk: 5 chunks
    try {
      await expectSameDistances(new GpuDenseEvaluator(gpu!, index.store as PlainDenseStore), index.store, queries, 32);
      const q = queries.slice(0, 16);
      const exactGpu = await new FlatIndex(index.store).searchBatch(q, 10, { backend: 'gpu' });
      const exactCpu = await new FlatIndex(index.store).searchBatch(q, 10);
      expect(exactGpu.backend).toBe('gpu');
      expect(Array.from(exactGpu.ids)).toEqual(Array.from(exactCpu.ids));
      const a = await index.searchBatch(q, 10, { ef: 40, backend: 'gpu' });
      const b = await index.searchBatch(q, 10, { ef: 40 });
      expect(Array.from(a.ids)).toEqual(Array.from(b.ids));
    } finally {
      gpu!.limits.maxStorageBufferBindingSize = saved;
    }
  });

  it('exact GPU search keeps up to k = 1024 (segments of 2048 above 512) and matches the CPU', async () => {
    const { base, queries } = await loadMnistWithTruth(20_000, 1_000);
    const flat = FlatIndex.build(base.slice(0, 5000), { metric: 'l2' });
    const q = queries.slice(0, 6);
    for (const k of [513, 1024]) {
      const onGpu = await flat.searchBatch(q, k, { backend: 'gpu' });
      const onCpu = await flat.searchBatch(q, k);
      expect(onGpu.backend).toBe('gpu');
      expect(onGpu.gpuMode).toBe('exact');
      expect(Array.from(onGpu.ids)).toEqual(Array.from(onCpu.ids)); // integer pixels: exact in f32
    }
    await expect(flat.searchBatch(q, 1025, { backend: 'gpu' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/above GPU_MAX_K \(1024\)/),
    });
  });

  it('k-means assignment on the GPU matches the CPU', async () => {
    const { base } = await loadMnistWithTruth(20_000, 1_000);
    const points = base.data.subarray(0, 3000 * 8); // 3000 points of 8 dims
    const centroids = base.data.slice(50_000, 50_000 + 256 * 8);
    const a = new Int32Array(3000).fill(-1);
    const d = new Float64Array(3000);
    const changed = await gpuAssigner(gpu!)(points, 8, centroids, a, d);
    const a2 = new Int32Array(3000).fill(-1);
    const d2 = new Float64Array(3000);
    assignPoints(points, 8, centroids, 256, a2, d2);
    expect(changed).toBe(3000);
    let same = 0;
    for (let i = 0; i < 3000; i++) {
      if (a[i] === a2[i]) same++;
      expect(Math.abs(d[i]! - d2[i]!)).toBeLessThanOrEqual(1e-4 * Math.max(1, d2[i]!));
    }
    expect(same).toBeGreaterThanOrEqual(2990); // only exact ties may differ
  });

  it('a device lost mid-batch still returns complete, correct results (one warning)', async () => {
    const { base, queries } = await loadMnistWithTruth(20_000, 1_000);
    const index = HnswIndex.build(base.slice(0, 3000), { metric: 'l2', m: 8, efConstruction: 40 });
    const q = queries.slice(0, 100);
    const reference = await index.searchBatch(q, 10, { ef: 40, batchSize: 50 });
    const doomed = (await requestGpu({ renew: true }))!;
    const inner = new GpuDenseEvaluator(doomed, index.store as PlainDenseStore);
    let calls = 0;
    const evaluator: BatchEvaluator = {
      backend: 'gpu',
      setQueries: (ds, start, count) => inner.setQueries(ds, start, count),
      distances: (s, ids, count, out) => {
        if (++calls === 5) doomed.device.destroy(); // the device goes away mid-batch
        return inner.distances(s, ids, count, out);
      },
    };
    const warnings: unknown[] = [];
    const r = await index.searchBatch(q, 10, { ef: 40, batchSize: 50, evaluator, onFallback: (e) => warnings.push(e) });
    expect(warnings).toHaveLength(1);
    expect(r.backend).toBe('gpu+cpu');
    expect(Array.from(r.ids)).toEqual(Array.from(reference.ids));
    // A retired or lost context is not handed out again until renewed.
    expect(await requestGpu()).toBeNull();
    expect(await requestGpu({ renew: true })).not.toBeNull();
  });
});

describeGpu('WebGPU kernels on the shared real data', () => {
  describeShared('bge-base-beir and splade-pp-ed', () => {
    it('exact GPU search reproduces the shipped bge ground truth', async () => {
      const { base, queries, gt } = loadBge();
      const q = queries.slice(0, 24);
      const r = await FlatIndex.build(base, { metric: 'ip' }).searchBatch(q, 100, { backend: 'gpu' });
      expect(r.backend).toBe('gpu');
      let compared = 0;
      for (let i = 0; i < r.ids.length; i++) {
        const s = gt.scores![i]!;
        expect(Math.abs(r.scores[i]! - s)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(s)));
        const prev = i % 100 > 0 ? gt.scores![i - 1]! : Number.NaN;
        const next = i % 100 < 99 ? gt.scores![i + 1]! : Number.NaN;
        if (Math.abs(prev - s) > 1e-5 && Math.abs(next - s) > 1e-5) {
          expect(r.ids[i]).toBe(gt.data[i]);
          compared++;
        }
      }
      expect(compared).toBeGreaterThan(r.ids.length * 0.9);
    });

    it('dense IP and PQ on bge: kernels match, GPU recall equals CPU recall', async () => {
      const { base, queries, gt } = loadBge();
      const index = HnswIndex.build(base, { metric: 'ip' });
      await expectSameDistances(new GpuDenseEvaluator(gpu!, index.store as PlainDenseStore), index.store, queries, 32);
      const q = queries.slice(0, 24);
      const g48 = { ...gt, rows: 24, data: gt.data.subarray(0, 2400), scores: gt.scores!.subarray(0, 2400) };
      const cpu = await index.searchBatch(q, 10, { ef: 100 });
      const onGpu = await index.searchBatch(q, 10, { ef: 100, backend: 'gpu', gpuMode: 'hybrid' });
      expect(Math.abs(recallAtK(onGpu.ids, 10, g48) - recallAtK(cpu.ids, 10, g48))).toBeLessThanOrEqual(0.005);
      const exactOf = exactDistances(base, 'ip');
      console.log(describeStats('bge hybrid', expectPerQueryBound(onGpu, cpu, 10, q, exactOf, NEAR_TIES, 'bge hybrid')));

      const pqIndex = index.quantize(new ProductQuantizer({ m: 96, trainSample: 2000, maxIterations: 4 }));
      await expectSameDistances(new GpuPqEvaluator(gpu!, pqIndex.store as PqStore), pqIndex.store, queries, 32);
      const pqCpu = await pqIndex.searchBatch(q, 10, { ef: 100, rerank: 100 });
      const pqGpu = await pqIndex.searchBatch(q, 10, { ef: 100, rerank: 100, backend: 'gpu', gpuMode: 'hybrid' });
      expect(pqGpu.backend).toBe('gpu');
      expect(Math.abs(recallAtK(pqGpu.ids, 10, g48) - recallAtK(pqCpu.ids, 10, g48))).toBeLessThanOrEqual(0.005);
      console.log(describeStats('bge PQ hybrid', expectPerQueryBound(pqGpu, pqCpu, 10, q, exactOf, NEAR_TIES, 'bge PQ hybrid')));
      const flatGpu = await new FlatIndex(pqIndex.store).searchBatch(q, 10, { backend: 'gpu' });
      const flatCpu = await new FlatIndex(pqIndex.store).searchBatch(q, 10);
      let same = 0;
      for (let i = 0; i < flatGpu.ids.length; i++) if (flatGpu.ids[i] === flatCpu.ids[i]) same++;
      expect(same / flatGpu.ids.length).toBeGreaterThanOrEqual(0.99);
      // FlatIndex over the index's store answers slots; the exact distances are by item id.
      const [gpuIds, cpuIds] = [{ ids: idsOfSlots(pqIndex, flatGpu.ids) }, { ids: idsOfSlots(pqIndex, flatCpu.ids) }];
      console.log(describeStats('bge PQ exact', expectPerQueryBound(gpuIds, cpuIds, 10, q, exactOf, PQ_TIES, 'bge PQ exact')));
    });

    it('sparse IP on splade: kernel matches, GPU recall equals CPU recall', async () => {
      const { base, queries } = loadSplade(200);
      const sub = base.slice(0, 8000);
      const index = HnswIndex.build(sub, { metric: 'ip', m: 12, efConstruction: 64 });
      await expectSameDistances(new GpuSparseEvaluator(gpu!, index.store as never), index.store, queries, 64);
      const q = queries.slice(0, 64);
      const exact = await FlatIndex.build(sub, { metric: 'ip' }).searchBatch(q, 10);
      const truth = { rows: 64, dim: 10, data: exact.ids, scores: exact.scores };
      const cpu = await index.searchBatch(q, 10, { ef: 64, width: 2 });
      const onGpu = await index.searchBatch(q, 10, { ef: 64, width: 2, backend: 'gpu', gpuMode: 'hybrid' });
      expect(onGpu.backend).toBe('gpu');
      expect(
        Math.abs(recallAtK(onGpu.ids, 10, truth, { scores: onGpu.scores }) - recallAtK(cpu.ids, 10, truth, { scores: cpu.scores })),
      ).toBeLessThanOrEqual(0.005);
      const exactOf = exactDistances(sub, 'ip');
      console.log(describeStats('splade hybrid', expectPerQueryBound(onGpu, cpu, 10, q, exactOf, SPARSE_TIES, 'splade hybrid')));
    });
  });
});

describe('backend errors', () => {
  it("'gpu' without an adapter is an error; 'auto' falls back", async () => {
    const { base } = await loadMnistWithTruth(20_000, 1_000);
    const index = HnswIndex.build(base.slice(0, 500), { metric: 'l2', m: 8, efConstruction: 20 });
    const q = base.slice(0, 80);
    await expect(index.searchBatch(q, 5, { backend: 'gpu', gpu: null })).rejects.toThrow(/no WebGPU adapter/);
    expect((await index.searchBatch(q, 5, { backend: 'auto', gpu: null })).backend).toBe('cpu');
    await expect(index.searchBatch(q, 5, { backend: 'fast' as never })).rejects.toThrow(/backend must be/);
  });
});

import { expect, it } from 'vitest';
import { DenseDataset, FlatIndex, type GroundTruth, HnswIndex, type Metric, RabitqQuantizer, recallAtK } from '../src/index.js';
import { loadMnist } from '../src/node/mnist.js';
import { FACTORS } from '../src/quant/rabitq/encoding.js';
import { GpuRabitqEvaluator, gpuRowWords } from '../src/quant/rabitq/gpu-pairs.js';
import type { RabitqStore } from '../src/quant/rabitq/store.js';
import { Rng } from '../src/util/rng.js';
import { loadBge } from './helpers/data.js';
import { describeGpu, gpu } from './helpers/gpu.js';
import { describeStats, exactDistances, expectPerQueryBound, NEAR_TIES } from './helpers/per-query.js';
import { describeShared } from './helpers/shared-data.js';
import { idsOfSlots, slotOfId } from './helpers/slots.js';

/**
 * Checks the GPU's pair estimates against the CPU's, for `nq` queries and `per` items each:
 * S is recomputed here from the unpacked code and the query's levels (plain integer sums), and
 * the GPU's estimate must lie within a small fraction of one unit of S (|sign * rescale * step|)
 * of the CPU's formula on that S, so an S off by one cannot pass; and within float tolerance
 * of the CPU evaluator's own estimate. Returns the worst error in units of S.
 */
async function expectCpuEstimates(store: RabitqStore, queries: DenseDataset, nq: number, per: number): Promise<number> {
  const enc = store.encoding;
  const { factors } = store;
  const ev = new GpuRabitqEvaluator(gpu!, store);
  await ev.setQueries(queries, 0, nq);
  const count = nq * per;
  const slots = new Uint32Array(count);
  const ids = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    slots[i] = Math.floor(i / per);
    ids[i] = (i * 7919 + slots[i]! * 31) % store.size;
  }
  ids[count - 1] = 0xffffffff; // an empty neighbour slot scores far
  const out = new Float32Array(count);
  await ev.distances(slots, ids, count, out);
  ev.dispose();
  expect(out[count - 1]).toBeGreaterThan(1e38);
  const codes = store.codes;
  let worstUnits = 0;
  for (let q = 0; q < nq; q++) {
    const query = queries.get(q) as Float32Array;
    const p = enc.prepareQuery(query);
    const cpu = store.queryEvaluator(query);
    for (let i = q * per; i < (q + 1) * per && i < count - 1; i++) {
      const id = ids[i]!;
      const xu = enc.unpackCode(codes, id);
      let s = 0;
      for (let c = 0; c < enc.paddedDim; c++) s += xu[c]! * p.levels[c]!;
      const exact = enc.estimate(p, s, factors, id * FACTORS);
      const unit = Math.abs(enc.sign * factors[id * FACTORS + 1]! * p.step);
      const err = Math.abs(out[i]! - exact);
      if (unit > 0) worstUnits = Math.max(worstUnits, err / unit);
      expect(err, `query ${q}, item ${id}: GPU ${out[i]} vs CPU ${exact}`).toBeLessThan(unit > 0 ? 0.05 * unit : 1e-3);
      const magnitude = Math.abs(factors[id * FACTORS]!) + Math.abs(p.constant) + Math.abs(exact);
      expect(Math.abs(out[i]! - cpu.distance(id))).toBeLessThanOrEqual(1e-5 * magnitude);
    }
    cpu.release?.();
  }
  return worstUnits;
}

/** Ground truth over the plain vectors of `index` (ids as the index gives them). */
async function truthFor(index: HnswIndex, queries: DenseDataset, k: number): Promise<GroundTruth> {
  const exact = await new FlatIndex(index.rerankStore!).searchBatch(queries, k);
  return { rows: exact.count, dim: k, data: idsOfSlots(index, exact.ids), scores: exact.scores };
}

/** Queries whose k ids are the same set on both sides. */
function sameSets(a: Int32Array, b: Int32Array, k: number): number {
  let same = 0;
  for (let q = 0; q < a.length / k; q++) {
    const theirs = new Set(b.subarray(q * k, (q + 1) * k));
    if (Array.from(a.subarray(q * k, (q + 1) * k)).every((id) => theirs.has(id))) same++;
  }
  return same;
}

/**
 * Resident and hybrid searchBatch against the CPU's on one RaBitQ index at ef 48, without and
 * with re-ranking: recall@10 within 0.01, the same ids for most queries, every differing id a
 * near-tie; and the resident kernel's scores (its estimates) are the CPU's to float tolerance.
 */
async function expectGpuSearchLikeCpu(index: HnswIndex, base: DenseDataset, queries: DenseDataset, metric: Metric, what: string) {
  const truth = await truthFor(index, queries, 10);
  const exactOf = exactDistances(base, metric);
  const store = index.store as RabitqStore;
  for (const rerank of [0, 40]) {
    const cpu = await index.searchBatch(queries, 10, { ef: 48, rerank });
    const rc = recallAtK(cpu.ids, 10, truth);
    for (const gpuMode of ['resident', 'hybrid'] as const) {
      const onGpu = await index.searchBatch(queries, 10, { ef: 48, rerank, backend: 'gpu', gpuMode });
      expect(onGpu.backend).toBe('gpu');
      expect(onGpu.gpuMode).toBe(gpuMode);
      if (gpuMode === 'resident') expect(onGpu.roundTrips).toBe(1);
      const rg = recallAtK(onGpu.ids, 10, truth);
      const same = sameSets(onGpu.ids, cpu.ids, 10);
      const line = `${what} ${gpuMode}, rerank ${rerank}: recall@10 GPU ${rg.toFixed(4)}, CPU ${rc.toFixed(4)}; ${same}/${queries.size} queries with the CPU's ids`;
      console.log(line);
      expect(Math.abs(rg - rc), line).toBeLessThanOrEqual(0.01);
      // The resident beam is another traversal than the CPU's, over estimates with near-ties.
      expect(same / queries.size, line).toBeGreaterThanOrEqual(0.8);
      const tag = `${what} ${gpuMode} rerank ${rerank}`;
      console.log(describeStats(tag, expectPerQueryBound(onGpu, cpu, 10, queries, exactOf, NEAR_TIES, tag)));
      if (rerank === 0 && gpuMode === 'resident') {
        // The kernel's estimates for what it returns: the CPU's, within a small part of one unit of S.
        for (let q = 0; q < queries.size; q++) {
          const query = queries.get(q) as Float32Array;
          const p = store.encoding.prepareQuery(query);
          const ev = store.queryEvaluator(query);
          for (let r = 0; r < 10; r++) {
            const slot = slotOfId(index, onGpu.ids[q * 10 + r]!);
            const score = metric === 'ip' ? -onGpu.scores[q * 10 + r]! : onGpu.scores[q * 10 + r]!;
            const unit = Math.abs(store.encoding.sign * store.factors[slot * FACTORS + 1]! * p.step);
            expect(Math.abs(score - ev.distance(slot)), `${tag}: query ${q} slot ${slot}`).toBeLessThan(0.05 * unit);
          }
          ev.release?.();
        }
      }
    }
  }
}

describeGpu('RaBitQ on the GPU (MNIST, l2)', () => {
  it.each([1, 4])(
    '%i bit(s): pair estimates are the CPU estimates; resident and hybrid search like the CPU, with and without re-ranking',
    async (bits) => {
      const { train: base, test: queries } = loadMnist(3000, 60);
      const plain = HnswIndex.build(base, { metric: 'l2', m: 12, efConstruction: 60 });
      const index = plain.quantize(new RabitqQuantizer({ bits }), { keepPlain: true });
      const store = index.store as RabitqStore;
      const units = await expectCpuEstimates(store, queries, 16, 200);
      console.log(`rabitq ${bits} bit(s) l2: worst GPU pair error ${units.toExponential(2)} of one unit of S`);
      // Bytes of store data one GPU distance reads: the code and three factors.
      expect(gpuRowWords(store.encoding) * 4).toBe(store.encoding.rowBytes + 12);
      await expectGpuSearchLikeCpu(index, base, queries, 'l2', `rabitq ${bits}b l2`);
    },
  );

  it('a store chunked over several bindings: the same estimates and results', async () => {
    const { train: base, test: queries } = loadMnist(3000, 30);
    const index = HnswIndex.build(base, { metric: 'l2', m: 8, efConstruction: 40 }).quantize(new RabitqQuantizer({ bits: 2 }));
    const store = index.store as RabitqStore;
    const whole = await index.searchBatch(queries, 10, { ef: 40, backend: 'gpu' });
    const saved = gpu!.limits.maxStorageBufferBindingSize;
    gpu!.limits.maxStorageBufferBindingSize = 1100 * gpuRowWords(store.encoding) * 4; // 3 chunks
    try {
      await expectCpuEstimates(store, queries, 8, 300);
      const chunked = await index.searchBatch(queries, 10, { ef: 40, backend: 'gpu' });
      expect(chunked.gpuMode).toBe('resident');
      expect(Array.from(chunked.ids)).toEqual(Array.from(whole.ids));
      const hybrid = await index.searchBatch(queries, 10, { ef: 40, backend: 'gpu', gpuMode: 'hybrid' });
      expect(sameSets(hybrid.ids, whole.ids, 10)).toBeGreaterThanOrEqual(27);
    } finally {
      gpu!.limits.maxStorageBufferBindingSize = saved;
    }
  });
});

describeGpu('RaBitQ on the GPU: where S may pass 2^24', () => {
  it('8 bits beyond 4096 rotated components: the resident kernel declines (its f32 team sums would round S), the hybrid path searches', async () => {
    // Synthetic: only the size matters here (8 bits x 15 x 8192 components > 2^24).
    const rng = new Rng(5);
    const dim = 4100;
    const data = new Float32Array(40 * dim);
    for (let i = 0; i < data.length; i++) data[i] = rng.nextOpenUnit() - 0.5;
    const base = new DenseDataset(data, dim);
    const index = HnswIndex.build(base, { metric: 'l2', m: 8, efConstruction: 20 }).quantize(new RabitqQuantizer({ bits: 8 }));
    const queries = base.slice(0, 5);
    await expect(index.searchBatch(queries, 5, { ef: 20, backend: 'gpu', gpuMode: 'resident' })).rejects.toThrow(/rabitq/);
    const onGpu = await index.searchBatch(queries, 5, { ef: 20, backend: 'gpu' });
    expect(onGpu.gpuMode).toBe('hybrid');
    const cpu = await index.searchBatch(queries, 5, { ef: 20 });
    expect(sameSets(onGpu.ids, cpu.ids, 5)).toBe(5);
  });
});

describeGpu('RaBitQ on the GPU (inner product)', () => {
  describeShared('bge-base (768-d, ip)', () => {
    it('2 bits: pair estimates are the CPU estimates; resident and hybrid search like the CPU', async () => {
      const { base: all, queries: allQ } = loadBge();
      const base = all.slice(0, 3000);
      const queries = allQ.slice(0, 60);
      const plain = HnswIndex.build(base, { metric: 'ip', m: 12, efConstruction: 60 });
      const index = plain.quantize(new RabitqQuantizer({ bits: 2 }), { keepPlain: true });
      const units = await expectCpuEstimates(index.store as RabitqStore, queries, 16, 200);
      console.log(`rabitq 2 bits ip: worst GPU pair error ${units.toExponential(2)} of one unit of S`);
      await expectGpuSearchLikeCpu(index, base, queries, 'ip', 'rabitq 2b bge ip');
    });
  });
});

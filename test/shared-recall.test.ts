import { expect, it } from 'vitest';
import { FlatIndex, HnswIndex, RabitqQuantizer, type RabitqStore, recallAtK } from '../src/index.js';
import { loadBge, loadSplade } from './helpers/data.js';
import { describeShared } from './helpers/shared-data.js';

describeShared('recall on the shared real datasets', () => {
  it('bge-base-beir (768-d dense, IP): FlatIndex reproduces the shipped ground truth', async () => {
    const { base, queries, gt } = loadBge();
    const r = await FlatIndex.build(base, { metric: 'ip' }).searchBatch(queries, 100);
    expectSameRanking(r.ids, r.scores, gt.data, gt.scores!);
  });

  it('bge-base-beir: HNSW recall@10 at M=16, efConstruction=200', async () => {
    const { base, queries, gt } = loadBge();
    const index = HnswIndex.build(base, { metric: 'ip', m: 16, efConstruction: 200 });
    const at100 = await index.searchBatch(queries, 10, { ef: 100 });
    const at200 = await index.searchBatch(queries, 10, { ef: 200 });
    const r100 = recallAtK(at100.ids, 10, gt, { scores: at100.scores });
    const r200 = recallAtK(at200.ids, 10, gt, { scores: at200.scores });
    console.log(`bge-base-beir: recall@10 = ${r100.toFixed(4)} at ef=100, ${r200.toFixed(4)} at ef=200`);
    // hnswlib-node reaches 0.949 at ef=100 with the same M/efConstruction on this set (its
    // queries are out of distribution); we must match it, and pass 0.98 at ef=200.
    expect(r100).toBeGreaterThanOrEqual(0.94);
    expect(r200).toBeGreaterThanOrEqual(0.98);
  });

  it('bge-base-beir: RaBitQ codes (1 and 4 bits) re-ranked by their bound reach plain HNSW recall', async () => {
    const { base, queries, gt } = loadBge();
    const plain = HnswIndex.build(base, { metric: 'ip', m: 16, efConstruction: 200 });
    const params = { ef: 200, rerank: 200 };
    const reference = recallAtK((await plain.searchBatch(queries, 10, { ef: 200 })).ids, 10, gt);
    const lines: string[] = [];
    for (const bits of [1, 4]) {
      const index = plain.quantize(new RabitqQuantizer({ bits }));
      const r = await index.searchBatch(queries, 10, params);
      const recall = recallAtK(r.ids, 10, gt, { scores: r.scores });
      const codeBytes = (index.store as RabitqStore).bytesPerVector;
      lines.push(`${bits} bit(s) ${recall.toFixed(4)} (${codeBytes} B/vector)`);
      // Codes and factors: at most 1/20 of the 3,072 bytes of an f32 vector at one bit.
      if (bits === 1) expect(codeBytes).toBeLessThanOrEqual(3072 / 20);
      expect(recall).toBeGreaterThanOrEqual(reference - 0.01);
      expect(recall).toBeGreaterThanOrEqual(0.96);
    }
    console.log(`bge-base-beir RaBitQ at ef=200, rerank 200: ${lines.join(', ')}; plain f32 ${reference.toFixed(4)}`);
  });

  it('splade-pp-ed (sparse, IP, first 1,000 queries): FlatIndex and HNSW recall', async () => {
    const { base, queries, gt } = loadSplade(1000);
    const exact = await FlatIndex.build(base, { metric: 'ip' }).searchBatch(queries.slice(0, 200), 10);
    const gt200 = { rows: 200, dim: gt.dim, data: gt.data.subarray(0, 200 * gt.dim), scores: gt.scores!.subarray(0, 200 * gt.dim) };
    expectSameRanking(exact.ids, exact.scores, gt200.data, gt200.scores, 10, gt.dim);
    const index = HnswIndex.build(base, { metric: 'ip', m: 16, efConstruction: 200 });
    const results: string[] = [];
    let last = 0;
    for (const ef of [100, 200, 400]) {
      const r = await index.searchBatch(queries, 10, { ef });
      last = recallAtK(r.ids, 10, gt, { scores: r.scores });
      results.push(`${last.toFixed(4)} at ef=${ef}`);
    }
    console.log(`splade-pp-ed: recall@10 = ${results.join(', ')}`);
    // Plain HNSW at M=16 needs a wider beam on learned-sparse IP data: ~0.92 at ef=100.
    expect(last).toBeGreaterThanOrEqual(0.95);
  });
});

/**
 * Ids must equal the truth's at every rank whose score is not tied with a neighbouring rank;
 * scores must agree to float32 precision everywhere.
 */
function expectSameRanking(ids: Int32Array, scores: Float32Array, gtIds: Int32Array, gtScores: Float32Array, k = 100, gtDim = 100): void {
  const nq = ids.length / k;
  let compared = 0;
  for (let q = 0; q < nq; q++) {
    for (let i = 0; i < k; i++) {
      const s = gtScores[q * gtDim + i]!;
      expect(Math.abs(scores[q * k + i]! - s)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(s)));
      const prev = i > 0 ? gtScores[q * gtDim + i - 1]! : Number.NaN;
      const next = i + 1 < gtDim ? gtScores[q * gtDim + i + 1]! : Number.NaN;
      const tied = Math.abs(prev - s) <= 1e-6 * Math.abs(s) || Math.abs(next - s) <= 1e-6 * Math.abs(s);
      if (!tied) {
        expect(ids[q * k + i]).toBe(gtIds[q * gtDim + i]);
        compared++;
      }
    }
  }
  expect(compared).toBeGreaterThan(ids.length * 0.9);
}

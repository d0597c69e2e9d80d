import { beforeAll, describe, expect, it } from 'vitest';
import {
  DenseDataset,
  deserializeIndex,
  FlatIndex,
  type GroundTruth,
  HnswIndex,
  kmeans,
  ProductQuantizer,
  recallAtK,
  serializeIndex,
  WebannoloError,
} from '../src/index.js';
import { Rng } from '../src/util/rng.js';
import { loadBge, loadMnistWithTruth } from './helpers/data.js';
import { describeShared } from './helpers/shared-data.js';
import { idsOfSlots } from './helpers/slots.js';

/** Mean squared reconstruction error of `pq` over the first rows of `data`. */
function mse(pq: ProductQuantizer, data: DenseDataset, rows = 2000): number {
  const sub = data.slice(0, Math.min(rows, data.size));
  const codes = pq.encodeCodes(sub);
  let err = 0;
  for (let i = 0; i < sub.size; i++) {
    const x = sub.get(i);
    const y = pq.decode(codes, i * pq.m);
    for (let j = 0; j < x.length; j++) err += (x[j]! - y[j]!) ** 2;
  }
  return err / sub.size;
}

/** Sum of per-component variances: the error of reconstructing every vector by the mean. */
function totalVariance(data: DenseDataset): number {
  const mean = new Float64Array(data.dim);
  for (let i = 0; i < data.size; i++) for (const [j, v] of data.get(i).entries()) mean[j]! += v / data.size;
  let v = 0;
  for (let i = 0; i < data.size; i++) for (const [j, x] of data.get(i).entries()) v += (x - mean[j]!) ** 2 / data.size;
  return v;
}

/** Codebooks whose centroids are random data rows: what training must beat. */
function randomCodebooks(data: DenseDataset, m: number, seed: number): ProductQuantizer {
  const rng = new Rng(seed);
  const dsub = data.dim / m;
  const cb = new Float32Array(data.dim * 256);
  for (let j = 0; j < m; j++) {
    for (let c = 0; c < 256; c++) {
      const row = data.get(rng.nextInt(data.size));
      cb.set(row.subarray(j * dsub, (j + 1) * dsub), (j * 256 + c) * dsub);
    }
  }
  return ProductQuantizer.fromCodebooks(data.dim, m, cb);
}

describe('k-means and product quantization basics', () => {
  it('k-means finds well-separated clusters', () => {
    const rng = new Rng(1);
    const pts = new Float32Array(3 * 200 * 2);
    for (let i = 0; i < 600; i++) {
      const c = i % 3;
      pts[2 * i] = c * 10 + rng.nextOpenUnit();
      pts[2 * i + 1] = -c * 10 + rng.nextOpenUnit();
    }
    const centres = Array.from({ length: 3 }, (_, c) => [kmeans(pts, 2, 3, { seed: 2 })[2 * c]!])
      .flat()
      .sort((a, b) => a - b);
    expect(centres[0]).toBeCloseTo(0.5, 0);
    expect(centres[1]).toBeCloseTo(10.5, 0);
    expect(centres[2]).toBeCloseTo(20.5, 0);
  });

  it('rejects an m that does not divide the dimension, naming good choices', () => {
    const data = new DenseDataset(
      new Float32Array(300 * 10).map((_, i) => i % 7),
      10,
    );
    const pq = new ProductQuantizer({ m: 3 });
    expect(() => pq.train(data)).toThrow(WebannoloError);
    expect(() => pq.train(data)).toThrow(/m = 3 does not divide the dimension 10.*2, 5/);
    expect(() => new ProductQuantizer({ m: 2 }).train(data.slice(0, 100))).toThrow(/at least 256 vectors/);
  });
});

describe('PQ on MNIST (784-d, L2, m=98)', () => {
  let base: DenseDataset;
  let queries: DenseDataset;
  let gt: GroundTruth;
  beforeAll(async () => {
    ({ base, queries, gt } = await loadMnistWithTruth(10_000, 300));
    gt = { ...gt, rows: 300, data: gt.data.subarray(0, 300 * gt.dim), scores: gt.scores!.subarray(0, 300 * gt.dim) };
  });

  it('graph over plain vectors, search over codes, re-rank: high recall, round trip identical', async () => {
    const plain = HnswIndex.build(base, { metric: 'l2' });
    const pqIndex = plain.quantize(new ProductQuantizer({ m: 98, trainSample: 5000, maxIterations: 8 }));
    expect(pqIndex.memory.storeBytes).toBeLessThan(base.byteLength / 16);
    const noRerank = await pqIndex.searchBatch(queries, 10, { ef: 100 });
    const reranked = await pqIndex.searchBatch(queries, 10, { ef: 100, rerank: 100 });
    const flat = await new FlatIndex(pqIndex.store).searchBatch(queries, 10);
    const r0 = recallAtK(noRerank.ids, 10, gt);
    const rFlat = recallAtK(idsOfSlots(pqIndex, flat.ids), 10, gt);
    const rR = recallAtK(reranked.ids, 10, gt);
    console.log(
      `MNIST PQ m=98: recall@10 ${r0.toFixed(4)} (graph, codes), ${rFlat.toFixed(4)} (flat scan of codes), ${rR.toFixed(4)} (rerank 100)`,
    );
    expect(rFlat - r0).toBeLessThanOrEqual(0.03);
    expect(rR).toBeGreaterThanOrEqual(0.97);
    const copy = deserializeIndex(serializeIndex(pqIndex)) as HnswIndex;
    const again = await copy.searchBatch(queries, 10, { ef: 100, rerank: 100 });
    expect(Array.from(again.ids)).toEqual(Array.from(reranked.ids));
    const noPlain = deserializeIndex(
      serializeIndex(plain.quantize(new ProductQuantizer({ m: 98, trainSample: 2000, maxIterations: 2 }), { keepPlain: false })),
    ) as HnswIndex;
    expect(noPlain.rerankStore).toBeNull();
    expect(() => noPlain.search(queries.get(0), 10, { rerank: 50 })).toThrow(/keepPlain/);
  });
});

describeShared('PQ on bge-base-beir (768-d, IP, m=96)', () => {
  it('trained codebooks beat random ones; recall with and without re-ranking', async () => {
    const { base, queries, gt } = loadBge();
    const pq = new ProductQuantizer({ m: 96, trainSample: 5000, maxIterations: 8, seed: 1 });
    pq.train(base);
    const trained = mse(pq, base);
    const random = mse(randomCodebooks(base, 96, 9), base);
    const variance = totalVariance(base);
    console.log(
      `bge PQ m=96 reconstruction MSE: trained ${trained.toFixed(4)}, random-row codebooks ${random.toFixed(4)}, total variance (mean-only codebook) ${variance.toFixed(4)}`,
    );
    // Measured: trained 0.193, random rows 0.229, variance 0.660. 256 centroids in 8-d leave
    // ~0.29 of the variance; random rows are a strong baseline at this rate, so the margin
    // against them is smaller.
    expect(trained).toBeLessThan(0.35 * variance);
    expect(trained).toBeLessThan(0.9 * random);

    const plain = HnswIndex.build(base, { metric: 'ip' });
    const pqIndex = plain.quantize(pq);
    const codesOnly = await pqIndex.searchBatch(queries, 10, { ef: 100 });
    const flat = await new FlatIndex(pqIndex.store).searchBatch(queries, 10);
    const reranked = await pqIndex.searchBatch(queries, 10, { ef: 100, rerank: 100 });
    const plainR = await plain.searchBatch(queries, 10, { ef: 100 });
    const r0 = recallAtK(codesOnly.ids, 10, gt);
    const rFlat = recallAtK(idsOfSlots(pqIndex, flat.ids), 10, gt);
    const rR = recallAtK(reranked.ids, 10, gt, { scores: reranked.scores });
    const rPlain = recallAtK(plainR.ids, 10, gt, { scores: plainR.scores });
    console.log(
      `bge PQ: recall@10 ${r0.toFixed(4)} codes (flat scan ${rFlat.toFixed(4)}), ${rR.toFixed(4)} rerank 100, plain HNSW ${rPlain.toFixed(4)} (ef=100)`,
    );
    expect(rFlat - r0).toBeLessThanOrEqual(0.03);
    // Re-ranking recovers what the codes lose: within 0.02 of plain HNSW at the same ef.
    expect(rR).toBeGreaterThanOrEqual(rPlain - 0.02);
    const wide = await pqIndex.searchBatch(queries, 10, { ef: 200, rerank: 200 });
    expect(recallAtK(wide.ids, 10, gt, { scores: wide.scores })).toBeGreaterThanOrEqual(0.97);
  });
});

import { describe, expect, it } from 'vitest';
import {
  DenseDataset,
  FlatIndex,
  HnswIndex,
  type Metric,
  PlainDenseStore,
  PlainQuantizer,
  recallAtK,
  SparseDataset,
  type SparseVector,
} from '../src/index.js';
import { Rng } from '../src/util/rng.js';

/** Clustered random vectors: realistic enough for HNSW to have structure to find. */
function denseData(n: number, dim: number, seed: number): DenseDataset {
  const rng = new Rng(seed);
  const centers = Array.from({ length: 20 }, () => Float32Array.from({ length: dim }, () => rng.nextOpenUnit() * 2 - 1));
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = centers[rng.nextInt(centers.length)]!;
    for (let j = 0; j < dim; j++) data[i * dim + j] = c[j]! + (rng.nextOpenUnit() - 0.5) * 0.6;
  }
  return new DenseDataset(data, dim);
}

function sparseData(n: number, dim: number, nnz: number, seed: number): SparseDataset {
  const rng = new Rng(seed);
  const rows: SparseVector[] = [];
  for (let i = 0; i < n; i++) {
    const ids = new Set<number>();
    const topic = rng.nextInt(10) * 50;
    while (ids.size < nnz) ids.add(rng.nextOpenUnit() < 0.7 ? topic + rng.nextInt(50) : rng.nextInt(dim));
    const sorted = Uint32Array.from([...ids].sort((a, b) => a - b));
    rows.push({ indices: sorted, values: Float32Array.from(sorted, () => rng.nextOpenUnit()) });
  }
  return SparseDataset.fromRows(rows, dim);
}

describe('one HNSW implementation over every vector kind and metric', () => {
  const cases: { name: string; metric: Metric; base: () => DenseDataset | SparseDataset }[] = [
    { name: 'dense/plain L2', metric: 'l2', base: () => denseData(3000, 48, 1) },
    { name: 'dense/plain IP', metric: 'ip', base: () => denseData(3000, 48, 2) },
    { name: 'sparse/plain IP', metric: 'ip', base: () => sparseData(3000, 1000, 20, 3) },
    { name: 'sparse/plain L2', metric: 'l2', base: () => sparseData(3000, 1000, 20, 4) },
  ];
  for (const c of cases) {
    it(`${c.name}: recall@10 >= 0.95 against FlatIndex, single and batched`, async () => {
      const data = c.base();
      const queries = data instanceof DenseDataset ? data.slice(0, 100) : data.slice(0, 100);
      const truth = await FlatIndex.build(data, { metric: c.metric }).searchBatch(queries, 10);
      const index = HnswIndex.build(data, { metric: c.metric, m: 12, efConstruction: 100 });
      const batch = await index.searchBatch(queries, 10, { ef: 64, batchSize: 32, width: 2 });
      const gt = { rows: truth.count, dim: 10, data: truth.ids, scores: truth.scores };
      expect(recallAtK(batch.ids, 10, gt, { scores: batch.scores })).toBeGreaterThanOrEqual(0.95);
      const single = new Int32Array(1000);
      for (let q = 0; q < 100; q++) single.set(index.search(queries.get(q), 10, { ef: 64 }).ids, q * 10);
      expect(recallAtK(single, 10, gt)).toBeGreaterThanOrEqual(0.95);
    });
  }
});

describe('dense kernels: WebAssembly SIMD and plain JS agree', () => {
  it('distances match to float32 precision for L2 and IP', () => {
    const data = denseData(500, 77, 5); // 77: exercises the scalar tail of the SIMD loop
    for (const metric of ['l2', 'ip'] as const) {
      const simd = new PlainDenseStore(data, metric);
      const js = new PlainDenseStore(data, metric, { simd: false });
      expect(simd.kernels).toBe('wasm-simd');
      expect(js.kernels).toBe('js');
      const ids = Uint32Array.from({ length: 500 }, (_, i) => i);
      const a = new Float64Array(500);
      const b = new Float64Array(500);
      simd.queryEvaluator(data.get(3)).distances(ids, 500, a);
      js.queryEvaluator(data.get(3)).distances(ids, 500, b);
      for (let i = 0; i < 500; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(b[i]!)));
      expect(simd.itemDistance(4, 9)).toBeCloseTo(js.itemDistance(4, 9), 3);
    }
  });

  it('an index on the JS kernels finds the same neighbours', async () => {
    const data = denseData(2000, 32, 6);
    const queries = data.slice(0, 50);
    const js = HnswIndex.buildOnStore(new PlainQuantizer({ simd: false }).encode(data, 'l2'));
    const simd = HnswIndex.build(data, { metric: 'l2' });
    const a = await js.searchBatch(queries, 10, { ef: 64 });
    const b = await simd.searchBatch(queries, 10, { ef: 64 });
    let same = 0;
    for (let i = 0; i < a.ids.length; i++) if (a.ids[i] === b.ids[i]) same++;
    expect(same / a.ids.length).toBeGreaterThan(0.95);
  });
});

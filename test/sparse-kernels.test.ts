import { describe, expect, it } from 'vitest';
import { HnswIndex, PlainSparseStore, SparseDataset } from '../src/index.js';
import { kernelModule, wasmSimdSupported } from '../src/quant/wasm/kernels-wasm.js';
import { Rng } from '../src/util/rng.js';

/** n random sparse rows over `dim` columns, about `nnz` non-zeros each (some rows empty). */
function randomSparse(n: number, dim: number, nnz: number, seed: number): SparseDataset {
  const rng = new Rng(seed);
  const rows = Array.from({ length: n }, (_, i) => {
    const cols = new Set<number>();
    const want = i % 17 === 0 ? 0 : 1 + Math.floor(rng.nextOpenUnit() * 2 * nnz);
    while (cols.size < want) cols.add(Math.floor(rng.nextOpenUnit() * dim) % dim);
    const indices = Uint32Array.from([...cols].sort((a, b) => a - b));
    return { indices, values: Float32Array.from(indices, () => rng.nextOpenUnit() * 2 - 0.5) };
  });
  return SparseDataset.fromRows(rows, dim);
}

describe('sparse kernels: WebAssembly and JS', () => {
  it('the kernel module compiles (Node has WebAssembly SIMD: the wasm tests below may not fall back to JS)', () => {
    expect(wasmSimdSupported(false)).toBe(true);
    expect(kernelModule(false)).not.toBeNull();
  });

  for (const metric of ['ip', 'l2'] as const) {
    it(`${metric}: the wasm gather kernel scores like the JS loop, rows are held once, and changes keep the kernel`, () => {
      const data = randomSparse(300, 5000, 40, 3);
      const wasm = new PlainSparseStore(data, metric);
      const js = new PlainSparseStore(data, metric, { simd: false });
      expect(wasm.kernels).toBe('wasm');
      expect(js.kernels).toBe('js');
      expect(Array.from(wasm.data.indices)).toEqual(Array.from(data.indices));
      const ids = Uint32Array.from({ length: 300 }, (_, i) => (i * 7) % 300);
      for (let q = 0; q < 5; q++) {
        const query = data.get(q * 31);
        const a = new Float64Array(300);
        const b = new Float64Array(300);
        const ea = wasm.queryEvaluator(query);
        ea.distances(ids, 300, a);
        js.queryEvaluator(query).distances(ids, 300, b);
        for (let i = 0; i < 300; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(b[i]!)));
        expect(ea.distance(ids[9]!)).toBeCloseTo(a[9]!, 5);
        ea.release?.();
      }
      // A released scatter row is clean: the next query sees only its own entries.
      const again = new Float64Array(300);
      wasm.queryEvaluator(data.get(1)).distances(ids, 300, again);
      const ref = new Float64Array(300);
      js.queryEvaluator(data.get(1)).distances(ids, 300, ref);
      for (let i = 0; i < 300; i++) expect(Math.abs(again[i]! - ref[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(ref[i]!)));
      const grown = wasm.withRows(randomSparse(2, 5000, 40, 9), Uint32Array.of(300, 5), 301);
      expect(grown.kernels).toBe('wasm');
      expect(grown.size).toBe(301);
      expect(wasm.subset(Uint32Array.of(4, 2)).kernels).toBe('wasm');
    });
  }

  it('an HNSW index searches the same on both kernels, and on worker threads', async () => {
    const data = randomSparse(2000, 3000, 30, 5);
    const index = HnswIndex.build(data, { metric: 'ip', m: 8, efConstruction: 60 });
    const onJs = index.withStore(new PlainSparseStore(data, 'ip', { simd: false }));
    const queries = randomSparse(50, 3000, 30, 6);
    const a = await index.searchBatch(queries, 10, { ef: 40, threads: 1 });
    const b = await onJs.searchBatch(queries, 10, { ef: 40, threads: 1 });
    const c = await index.searchBatch(queries, 10, { ef: 40, threads: 2 });
    expect(c.threads).toBe(2);
    let same = 0;
    for (let i = 0; i < a.ids.length; i++) same += a.ids[i] === b.ids[i] ? 1 : 0;
    // f32 sums in a different order may swap near-ties; nearly every id agrees.
    expect(same / a.ids.length).toBeGreaterThan(0.98);
    expect(Array.from(c.ids)).toEqual(Array.from(a.ids));
    await index.close();
  });
});

import { describe, expect, it } from 'vitest';
import { HnswIndex, type QueryEvaluator, recallAtK, type Vector, type VectorStore } from '../src/index.js';
import { loadMnistWithTruth } from './helpers/data.js';

/** The same store, counting the distances searches ask of it. */
function counting(store: VectorStore): VectorStore & { count: number } {
  const wrapper = Object.create(store) as VectorStore & { count: number };
  wrapper.count = 0;
  wrapper.queryEvaluator = (q: Vector): QueryEvaluator => {
    const ev = store.queryEvaluator(q);
    return {
      distance: (id) => {
        wrapper.count++;
        return ev.distance(id);
      },
      distances: (ids, n, out) => {
        wrapper.count += n;
        ev.distances(ids, n, out);
      },
      release: () => ev.release?.(),
    };
  };
  return wrapper;
}

describe('distance-adaptive early termination (lambda)', () => {
  it('MNIST 20k: the documented setting (lambda 0.2, ef 200) keeps recall@10 >= 0.95 with fewer distances than ef 200 alone', async () => {
    const { base, queries, gt } = await loadMnistWithTruth(20_000, 200);
    // The counting wrapper is over the store as it is laid out (withStore takes id order).
    const built = HnswIndex.build(base, { metric: 'l2', m: 16, efConstruction: 100, layout: 'insertion' });
    const store = counting(built.store);
    const index = built.withStore(store);
    const run = (params: { ef: number; lambda?: number }) => {
      store.count = 0;
      const ids = new Int32Array(queries.size * 10);
      for (let q = 0; q < queries.size; q++) ids.set(index.search(queries.get(q), 10, params).ids, q * 10);
      return { recall: recallAtK(ids, 10, gt), perQuery: store.count / queries.size };
    };
    const full = run({ ef: 200 });
    const adaptive = run({ ef: 200, lambda: 0.2 });
    const tight = run({ ef: 200, lambda: 0 });
    console.log(
      `MNIST 20k recall@10 / distances per query: ef 200 ${full.recall} / ${full.perQuery}, + lambda 0.2 ${adaptive.recall} / ${adaptive.perQuery}, lambda 0 ${tight.recall} / ${tight.perQuery}`,
    );
    expect(adaptive.recall).toBeGreaterThanOrEqual(0.95);
    expect(adaptive.perQuery).toBeLessThan(0.8 * full.perQuery);
    // A smaller slack stops sooner; ef stays the cap (a huge lambda is plain ef 200).
    expect(tight.perQuery).toBeLessThan(adaptive.perQuery);
    expect(run({ ef: 200, lambda: 1e9 }).perQuery).toBe(full.perQuery);
  });

  it('batches on worker threads stop the same way; bad values fail clearly', async () => {
    const { base, queries } = await loadMnistWithTruth(20_000, 200);
    const index = HnswIndex.build(base.slice(0, 5000), { metric: 'l2', m: 8, efConstruction: 60 });
    const one = await index.searchBatch(queries, 10, { ef: 100, lambda: 0.1, threads: 1 });
    const two = await index.searchBatch(queries, 10, { ef: 100, lambda: 0.1, threads: 2 });
    expect(two.threads).toBe(2);
    expect(Array.from(two.ids)).toEqual(Array.from(one.ids));
    const single = Int32Array.from(
      { length: queries.size * 10 },
      (_, i) => index.search(queries.get(Math.floor(i / 10)), 10, { ef: 100, lambda: 0.1 }).ids[i % 10]!,
    );
    expect(Array.from(one.ids)).toEqual(Array.from(single));
    for (const bad of [-1, Number.NaN, Infinity, '0.1' as unknown as number]) {
      expect(() => index.search(queries.get(0), 10, { lambda: bad })).toThrow(/lambda must be a finite number >= 0/);
    }
    await index.close();
  });
});

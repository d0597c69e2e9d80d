import { describe, expect, it } from 'vitest';
import { type BatchEvaluator, type Dataset, DenseDataset, HnswIndex } from '../src/index.js';
import { Rng } from '../src/util/rng.js';

const rng = new Rng(11);
const data = new DenseDataset(
  Float32Array.from({ length: 3000 * 16 }, () => rng.nextOpenUnit()),
  16,
);
const index = HnswIndex.build(data, { metric: 'l2', m: 8, efConstruction: 64 });
const queries = data.slice(0, 300);

/** Wraps the CPU evaluator, answering asynchronously and failing on call `failAt`. */
class FlakyEvaluator implements BatchEvaluator {
  readonly backend = 'flaky';
  calls = 0;
  private readonly inner = index.store.batchEvaluator();
  constructor(
    private readonly failAt: number,
    private readonly async: boolean,
  ) {}
  setQueries(q: Dataset, start: number, count: number) {
    return this.inner.setQueries(q, start, count);
  }
  distances(slots: Uint32Array, ids: Uint32Array, count: number, out: Float32Array): void | Promise<void> {
    this.calls++;
    if (this.calls === this.failAt) {
      out.fill(-1); // garbage that must not leak into results
      if (this.async) return Promise.reject(new Error('device lost'));
      throw new Error('device lost');
    }
    this.inner.distances(slots, ids, count, out);
    return this.async ? Promise.resolve() : undefined;
  }
}

describe('a failing evaluator loses nothing', () => {
  for (const async of [false, true]) {
    it(`${async ? 'async' : 'sync'} failure mid-batch: complete, correct results and one warning`, async () => {
      const reference = await index.searchBatch(queries, 10, { ef: 50, batchSize: 100 });
      const flaky = new FlakyEvaluator(40, async);
      const warnings: unknown[] = [];
      const r = await index.searchBatch(queries, 10, { ef: 50, batchSize: 100, evaluator: flaky, onFallback: (e) => warnings.push(e) });
      expect(warnings).toHaveLength(1);
      expect(r.backend).toBe('flaky+cpu');
      expect(Array.from(r.ids)).toEqual(Array.from(reference.ids));
      expect(flaky.calls).toBe(40); // after the fault the CPU did all the work
    });
  }

  it('a healthy custom evaluator is used and reported', async () => {
    const r = await index.searchBatch(queries, 10, { ef: 50, evaluator: new FlakyEvaluator(-1, true) });
    expect(r.backend).toBe('flaky');
  });
});

import { describe, expect, it } from 'vitest';
import { DenseDataset, HnswIndex } from '../src/index.js';
import { Rng } from '../src/util/rng.js';

// A batch takes the index's snapshot once: a compact that installs a new state while the
// batch runs changes nothing the batch reads (graph, stores, keys), so its results are those
// of the state it started on.
describe('a batch searches the snapshot it started on', () => {
  const rng = new Rng(23);
  const n = 3000;
  const dim = 16;
  const data = new DenseDataset(
    Float32Array.from({ length: n * dim }, () => rng.nextOpenUnit()),
    dim,
  );
  const keys = Array.from({ length: n }, (_, i) => `item-${i}`);
  const queries = new DenseDataset(
    Float32Array.from({ length: 6000 * dim }, () => rng.nextOpenUnit()),
    dim,
  );

  for (const threads of [1, 2]) {
    it(`while a compact ends mid-batch (${threads} thread${threads > 1 ? 's' : ''})`, async () => {
      const index = HnswIndex.build(data, { metric: 'l2', m: 8, efConstruction: 40, keys });
      index.remove(keys.filter((_, i) => i % 3 === 0));
      const params = { ef: 160, threads };
      const before = await index.searchBatch(queries, 10, params);
      const order: string[] = [];
      const compacted = index.compact({ threads: 1 }).then(() => order.push('compact'));
      const during = index.searchBatch(queries, 10, params).then((r) => {
        order.push('batch');
        return r;
      });
      const [, r] = await Promise.all([compacted, during]);
      // The compact installed its state while the batch was still running.
      expect(order).toEqual(['compact', 'batch']);
      expect(index.capacity).toBe(n - n / 3);
      expect(r.keys).toEqual(before.keys);
      expect(Array.from(r.ids)).toEqual(Array.from(before.ids));
      // The next batch searches the compacted state: the same live items, renumbered.
      const after = await index.searchBatch(queries.slice(0, 50), 10, params);
      for (const key of after.keys!) expect(key === null || Number(String(key).slice(5)) % 3 !== 0).toBe(true);
    });
  }
});

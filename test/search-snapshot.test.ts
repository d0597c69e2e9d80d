import { describe, expect, it } from 'vitest';
import { DenseDataset, HnswIndex } from '../src/index.js';
import { Rng } from '../src/util/rng.js';

// A batch takes the index's snapshot once: changes made while it runs (synchronous ones
// written into the index's own memory, or a compact that installs a new state) change nothing
// the batch reads (graph, stores, keys), so its results are those of the state it started on.
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
    it(`while changes written in place run during the batch (${threads} thread${threads > 1 ? 's' : ''})`, async () => {
      const index = HnswIndex.build(data, { metric: 'l2', m: 8, efConstruction: 40, keys });
      // The first add copies the built index; from then on changes write into its own memory.
      index.remove(keys.slice(0, 10));
      index.add(queries.slice(5900, 5905), keys.slice(0, 5));
      const level0 = index.graph.level0.buffer;
      index.remove(keys.slice(0, 1));
      expect(index.graph.level0.buffer).toBe(level0);
      const params = { ef: 160, threads };
      const before = await index.searchBatch(queries, 10, params);
      const during = index.searchBatch(queries, 10, params);
      let changes = 0;
      let done = false;
      void during.finally(() => {
        done = true;
      });
      // Removes, adds into freed slots, updates, one after another while the batch runs: none refused.
      for (let round = 0; !done && round < 200; round++) {
        const batchKeys = keys.slice(100 + round * 5, 105 + round * 5);
        index.remove(batchKeys);
        index.add(data.slice(round * 5, round * 5 + 5), batchKeys);
        index.update(queries.slice(5000 + round, 5001 + round), [keys[50 + round]!]);
        changes += 3;
        await new Promise((r) => setImmediate(r));
      }
      const r = await during;
      expect(changes).toBeGreaterThan(0);
      expect(r.keys).toEqual(before.keys);
      expect(Array.from(r.scores)).toEqual(Array.from(before.scores));
      // The next batch sees every change.
      const after = await index.searchBatch(queries.slice(5000, 5001), 1, params);
      expect(after.keys).toEqual([keys[50]]);
    });

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
      expect(r.threads).toBe(threads);
      expect(r.keys).toEqual(before.keys);
      expect(Array.from(r.ids)).toEqual(Array.from(before.ids));
      // The next batch searches the compacted state: the same live items, renumbered.
      const after = await index.searchBatch(queries.slice(0, 50), 10, params);
      for (const key of after.keys!) expect(key === null || Number(String(key).slice(5)) % 3 !== 0).toBe(true);
    });
  }
});

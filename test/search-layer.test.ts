import { beforeAll, describe, expect, it } from 'vitest';
import { HnswIndex } from '../src/index.js';
import { LayerSearcher, level0WidthFor, WIDE_ROUNDS_FROM, WIDE_ROUNDS_MAX_DIM } from '../src/indexes/hnsw/search/layer-search.js';
import type { MaxHeap } from '../src/util/heap.js';
import { loadMnistWithTruth } from './helpers/data.js';
import { idsOfSlots } from './helpers/slots.js';

const N = 3000;
const NQ = 40;
const K = 10;

/** The heap's ids, best first. */
function drain(top: MaxHeap, k: number): number[] {
  const out: number[] = [];
  while (top.size > 0) {
    out.push(top.topId());
    top.pop();
  }
  return out.reverse().slice(0, k);
}

describe('level-0 beam rounds of several candidates (LayerSearcher)', () => {
  let index: HnswIndex;
  let data: Awaited<ReturnType<typeof loadMnistWithTruth>>;
  beforeAll(async () => {
    data = await loadMnistWithTruth(N, NQ, K);
    index = HnswIndex.build(data.base, { metric: 'l2', m: 8, efConstruction: 64, seed: 3 });
  });

  function search(width: number, q: number, ef: number): number[] {
    const g = index.graph;
    const searcher = new LayerSearcher(g.n, Math.max(g.m0, g.m), width);
    const ev = index.store.queryEvaluator(data.queries.get(q));
    const { node, dist } = searcher.descend(g, ev);
    const top = searcher.beam(g, ev, node, dist, ef, 0);
    expect(top.size).toBeLessThanOrEqual(ef);
    // The beam works on slots; the ground truth is in ids.
    return Array.from(idsOfSlots(index, Int32Array.from(drain(top, K))));
  }

  it('every width finds the exact neighbours when ef covers the whole graph', () => {
    for (const width of [1, 2, 4, 7]) {
      for (let q = 0; q < 8; q++) {
        expect(search(width, q, N)).toEqual(Array.from(data.gt.data.subarray(q * K, q * K + K)));
      }
    }
  });

  it('keeps recall at a working ef for every width (MNIST)', () => {
    for (const width of [1, 2, 4]) {
      let hits = 0;
      for (let q = 0; q < NQ; q++) {
        const truth = new Set(data.gt.data.subarray(q * K, q * K + K));
        for (const id of search(width, q, 48)) if (truth.has(id)) hits++;
      }
      expect(hits / (NQ * K)).toBeGreaterThanOrEqual(0.95);
    }
  });

  it('rejects a width that is not a positive integer', () => {
    expect(() => new LayerSearcher(10, 8, 0)).toThrow(/positive integer/);
    expect(() => new LayerSearcher(10, 8, 1.5)).toThrow(/positive integer/);
  });

  it('widens rounds only for many items of a small dimension', () => {
    expect(level0WidthFor({ size: WIDE_ROUNDS_FROM, dim: 128 })).toBe(4);
    expect(level0WidthFor({ size: WIDE_ROUNDS_FROM - 1, dim: 128 })).toBe(1);
    expect(level0WidthFor({ size: 1e6, dim: WIDE_ROUNDS_MAX_DIM + 1 })).toBe(1);
    expect(level0WidthFor({ size: 0, dim: 128 })).toBe(1);
  });
});

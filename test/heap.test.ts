import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MaxHeap, MinHeap } from '../src/util/heap.js';
import { BITSET_VISITED_FROM, EpochVisited, HashVisited, TrackedBitVisited, visitedFor } from '../src/util/visited.js';

const items = fc.array(fc.tuple(fc.integer({ min: 0, max: 1e6 }), fc.float({ noNaN: true, min: -1e6, max: 1e6 })), { maxLength: 300 });

describe('typed-array heaps and visited sets', () => {
  it('MinHeap pops in ascending order', () => {
    fc.assert(
      fc.property(items, (xs) => {
        const h = new MinHeap(4);
        for (const [id, d] of xs) h.push(id, d);
        const out: number[] = [];
        while (h.size > 0) {
          out.push(h.topDist());
          h.pop();
        }
        expect(out).toEqual(xs.map(([, d]) => Math.fround(d)).sort((a, b) => a - b));
      }),
    );
  });

  it('MaxHeap keeps the k smallest and drains them sorted, ties by id', () => {
    fc.assert(
      fc.property(items, fc.integer({ min: 1, max: 50 }), (xs, k) => {
        const h = new MaxHeap(4);
        for (const [id, d] of xs) {
          if (h.size < k) h.push(id, d);
          else if (d < h.topDist()) {
            h.pop();
            h.push(id, d);
          }
        }
        const ids = new Uint32Array(k);
        const dists = new Float64Array(k);
        const n = h.drainSorted(ids, dists);
        const expected = xs
          .map(([, d]) => d)
          .sort((a, b) => a - b)
          .slice(0, k);
        expect(Array.from(dists.subarray(0, n))).toEqual(expected);
        for (let i = 1; i < n; i++) if (dists[i] === dists[i - 1]) expect(ids[i]!).toBeGreaterThanOrEqual(ids[i - 1]!);
      }),
    );
  });

  it('HashVisited behaves like a Set, across growth and clears', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 400 }), { maxLength: 5 }), (rounds) => {
        const v = new HashVisited(4);
        for (const ids of rounds) {
          v.clear();
          const s = new Set<number>();
          for (const id of ids) {
            expect(v.testAndSet(id)).toBe(s.has(id));
            s.add(id);
          }
        }
      }),
    );
  });

  it('EpochVisited resets in O(1) and survives epoch wrap-around', () => {
    const v = new EpochVisited(10);
    for (let round = 0; round < 70_000; round++) {
      v.reset(10);
      expect(v.testAndSet(round % 10)).toBe(false);
      expect(v.testAndSet(round % 10)).toBe(true);
    }
  });

  it('TrackedBitVisited behaves like a Set across resets (only touched words cleared) and growth', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 200_000 }), fc.array(fc.integer({ min: 0, max: 199_999 }), { maxLength: 2500 })), {
          maxLength: 6,
        }),
        (rounds) => {
          const v = new TrackedBitVisited(64);
          for (const [n, ids] of rounds) {
            v.reset(n);
            const s = new Set<number>();
            for (const id of ids) {
              if (id >= n) continue;
              expect(v.testAndSet(id)).toBe(s.has(id));
              s.add(id);
            }
          }
        },
      ),
    );
  });

  it('visitedFor picks the epoch array below BITSET_VISITED_FROM ids and the bitset from there', () => {
    expect(visitedFor(BITSET_VISITED_FROM - 1)).toBeInstanceOf(EpochVisited);
    expect(visitedFor(BITSET_VISITED_FROM)).toBeInstanceOf(TrackedBitVisited);
  });
});

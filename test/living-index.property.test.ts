import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DenseDataset, deserializeIndex, HnswIndex, serializeIndex } from '../src/index.js';
import { loadMnist } from '../src/node/mnist.js';

// Random sequences of add / remove / update / search / save-load on real vectors (MNIST),
// checked against a flat reference (the live items and their labels, searched exactly).
const POOL = 600;
const K = 5;

type Op =
  | { op: 'add'; rows: number[] }
  | { op: 'remove'; picks: number[] }
  | { op: 'update'; picks: number[]; row: number }
  | { op: 'search'; query: number; label: number | null }
  | { op: 'reload' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('add' as const), rows: fc.array(fc.nat(POOL - 1), { minLength: 1, maxLength: 40 }) }),
  fc.record({ op: fc.constant('remove' as const), picks: fc.array(fc.nat(10_000), { minLength: 1, maxLength: 30 }) }),
  fc.record({ op: fc.constant('update' as const), picks: fc.array(fc.nat(10_000), { minLength: 1, maxLength: 3 }), row: fc.nat(POOL - 1) }),
  fc.record({ op: fc.constant('search' as const), query: fc.nat(99), label: fc.option(fc.nat(9), { nil: null }) }),
  fc.record({ op: fc.constant('reload' as const) }),
);

describe('a living index under random changes (fast-check)', () => {
  let pool: DenseDataset;
  let digits: Uint8Array;
  let queries: DenseDataset;

  beforeAll(() => {
    const m = loadMnist(POOL, 100);
    pool = m.train;
    digits = m.trainLabels;
    queries = m.test;
  });

  it('never returns a removed key or a disallowed one, returns k when k are allowed, and keeps recall', () => {
    let searched = 0;
    let hits = 0;
    let expected = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 5, maxLength: 40 }), (ops) => {
        // Reference: key -> pool row. Keys are fresh integers; rows may repeat (same vector, two keys).
        const live = new Map<number, number>();
        let nextKey = 0;
        const first = Array.from({ length: 60 }, (_, i) => (i * 7) % POOL);
        const keysOf = (n: number) => Array.from({ length: n }, () => nextKey++);
        const firstKeys = keysOf(first.length);
        let index = HnswIndex.build(take(pool, first), {
          metric: 'l2',
          m: 8,
          efConstruction: 64,
          keys: firstKeys,
          labels: first.map((r) => digits[r]!),
        });
        for (const [i, r] of first.entries()) live.set(firstKeys[i]!, r);
        for (const step of ops) {
          if (step.op === 'add') {
            const keys = keysOf(step.rows.length);
            expect(index.add(take(pool, step.rows), keys, { labels: step.rows.map((r) => digits[r]!) })).toEqual(keys);
            for (const [i, r] of step.rows.entries()) live.set(keys[i]!, r);
          } else if (step.op === 'remove') {
            const liveKeys = [...live.keys()];
            if (liveKeys.length === 0) continue;
            const picked = [...new Set(step.picks.map((p) => liveKeys[p % liveKeys.length]!))];
            index.remove(picked);
            for (const key of picked) live.delete(key);
          } else if (step.op === 'update') {
            const liveKeys = [...live.keys()];
            if (liveKeys.length === 0) continue;
            const key = liveKeys[step.picks[0]! % liveKeys.length]!;
            index.update(take(pool, [step.row]), [key], { labels: [[digits[step.row]!]] });
            live.set(key, step.row);
          } else if (step.op === 'reload') {
            const copy = deserializeIndex(serializeIndex(index)) as HnswIndex;
            const q = queries.get(0);
            expect(copy.search(q, K).keys).toEqual(index.search(q, K).keys);
            index = copy;
          } else {
            const allowed = [...live].filter(([, r]) => step.label === null || digits[r] === step.label);
            const r = index.search(queries.get(step.query), K, {
              ef: 64,
              ...(step.label === null ? {} : { filter: { label: step.label } }),
            });
            const got = r.keys!.filter((key) => key !== null) as number[];
            expect(got.length).toBe(Math.min(K, allowed.length));
            for (const key of got) {
              expect(live.has(key)).toBe(true);
              if (step.label !== null) expect(digits[live.get(key)!]).toBe(step.label);
            }
            // Exact answer over the live, allowed items (by distance: equal vectors may tie).
            const q = queries.get(step.query);
            const dist = (row: number) => l2(pool.get(row), q);
            const best = allowed
              .map(([, row]) => dist(row))
              .sort((a, b) => a - b)
              .slice(0, K);
            const kth = best[best.length - 1] ?? Infinity;
            searched++;
            expected += best.length;
            hits += got.filter((key) => dist(live.get(key)!) <= kth).length;
          }
          expect(index.size).toBe(live.size);
        }
      }),
      { numRuns: 60, seed: 42 },
    );
    const recall = expected === 0 ? 1 : hits / expected;
    console.log(`random change sequences: ${searched} searches, recall@${K} against the flat reference = ${recall.toFixed(4)}`);
    expect(recall).toBeGreaterThanOrEqual(0.95);
  });
});

function take(d: DenseDataset, rows: readonly number[]): DenseDataset {
  const out = new Float32Array(rows.length * d.dim);
  for (const [i, r] of rows.entries()) out.set(d.get(r), i * d.dim);
  return new DenseDataset(out, d.dim);
}

function l2(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s;
}

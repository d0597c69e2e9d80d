import fc from 'fast-check';
import { expect } from 'vitest';
import { DenseDataset, type HnswBatchParams, HnswIndex, type PlainDenseStore } from '../../src/index.js';
import { Rng } from '../../src/util/rng.js';

// The model-based concurrency test's runner (test/living-concurrency*.test.ts): random
// interleavings, with real await points, of add, addAsync, remove, update, compact, search and
// searchBatch against a plain reference map of key -> vector. See living-concurrency.test.ts.
export const K = 10;
export const EF = 64;
const DIM = 16;
const POOL = 5000;

const rng = new Rng(2024);
// Clustered points (real embeddings are not uniform): 40 centres, spread 0.15.
const centres = Float32Array.from({ length: 40 * DIM }, () => rng.nextOpenUnit());
const pool = new Float32Array(POOL * DIM);
for (let i = 0; i < POOL; i++) {
  const c = Math.floor(rng.nextOpenUnit() * 40);
  for (let d = 0; d < DIM; d++) pool[i * DIM + d] = centres[c * DIM + d]! + (rng.nextOpenUnit() - 0.5) * 0.3;
}
const queryPool = Float32Array.from({ length: 200 * DIM }, (_, i) => pool[(i * 37) % (POOL * DIM)]! + (rng.nextOpenUnit() - 0.5) * 0.05);
const rowOf = (r: number) => pool.subarray(r * DIM, (r + 1) * DIM);
const queryOf = (q: number) => queryPool.subarray(q * DIM, (q + 1) * DIM);

function dataset(rowIds: readonly number[]): DenseDataset {
  const out = new Float32Array(rowIds.length * DIM);
  rowIds.forEach((r, i) => {
    out.set(rowOf(r), i * DIM);
  });
  return new DenseDataset(out, DIM);
}

function l2(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s;
}

export type Op =
  | { op: 'add'; count: number; seed: number }
  | { op: 'addAsync'; count: number; threads: number; seed: number }
  | { op: 'remove'; picks: number[] }
  | { op: 'update'; picks: number[]; seed: number }
  | { op: 'compact'; threads: number }
  | { op: 'search'; query: number }
  | { op: 'searchBatch'; from: number; count: number; threads: number }
  | { op: 'await'; pick: number }
  | { op: 'tick' }
  | { op: 'sleep'; ms: number };

const threadsArb = fc.constantFrom(1, 2);
export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('add' as const), count: fc.integer({ min: 1, max: 20 }), seed: fc.nat(POOL) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('addAsync' as const),
      // Below 256 new items the add links on this thread in 20 ms slices, from 256 on worker threads.
      count: fc.oneof(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 256, max: 300 })),
      threads: threadsArb,
      seed: fc.nat(POOL),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('remove' as const), picks: fc.array(fc.nat(100_000), { minLength: 1, maxLength: 12 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('update' as const),
      picks: fc.array(fc.nat(100_000), { minLength: 1, maxLength: 3 }),
      seed: fc.nat(POOL),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('compact' as const), threads: threadsArb }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('search' as const), query: fc.nat(199) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('searchBatch' as const),
      from: fc.nat(150),
      count: fc.integer({ min: 2, max: 50 }),
      threads: threadsArb,
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('await' as const), pick: fc.nat(10) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('tick' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('sleep' as const), ms: fc.integer({ min: 0, max: 4 }) }) },
);

/** Totals over all sequences, for the final recall check and the log line. */
export const totals = {
  backends: new Map<string, number>(),
  sequences: 0,
  searches: 0,
  batches: 0,
  asyncAdds: 0,
  compacts: 0,
  hits: 0,
  expected: 0,
};

/** One sequence: runs the ops against a fresh index and the reference, then checks the end state. */
export async function runSequence(ops: readonly Op[], batchParams: (threads: number) => HnswBatchParams): Promise<void> {
  /** Acknowledged items: key -> pool row. */
  const live = new Map<number, number>();
  /** Items of addAsync calls not acknowledged yet (fresh keys). */
  const pending = new Map<number, number>();
  let nextKey = 0;
  const fresh = (n: number) => Array.from({ length: n }, () => nextKey++);
  const first = Array.from({ length: 300 }, (_, i) => (i * 13) % POOL);
  const firstKeys = fresh(first.length);
  const index = HnswIndex.build(dataset(first), { metric: 'l2', m: 8, efConstruction: 64, keys: firstKeys });
  first.forEach((r, i) => {
    live.set(firstKeys[i]!, r);
  });
  const running: Promise<void>[] = [];
  const failures: unknown[] = [];
  const track = (p: Promise<void>) => {
    const tracked = p.catch((e) => {
      failures.push(e);
    });
    running.push(tracked);
  };

  /** What a search that starts now may see: key -> row. */
  const view = () => new Map([...live, ...pending]);
  /** Checks one query's row of a result against the items live (or being added) when its search started. */
  const checkResults = (
    r: { ids: Int32Array; keys?: readonly (number | string | null)[]; scores: Float32Array },
    from: number,
    q: number,
    seen: Map<number, number>,
    liveThen: number,
  ) => {
    const got = new Set<number>();
    for (let i = from; i < from + K; i++) {
      const key = r.keys![i];
      // An id without a key would be a removed item's slot.
      expect(key === null, `id ${r.ids[i]} came back without a key`).toBe(r.ids[i] === -1);
      if (key === null || key === undefined) continue;
      const row = seen.get(key as number);
      expect(row, `key ${key} was not live when the search started`).toBeDefined();
      expect(got.has(key as number), `key ${key} twice in one result`).toBe(false);
      got.add(key as number);
      const d = l2(queryOf(q), rowOf(row!));
      expect(Math.abs(r.scores[i]! - d), `score of key ${key}`).toBeLessThanOrEqual(1e-4 * Math.max(1, d));
    }
    expect(got.size).toBeGreaterThanOrEqual(Math.min(K, liveThen));
  };
  const pickLive = (picks: readonly number[]) => {
    const keys = [...live.keys()];
    return keys.length === 0 ? [] : [...new Set(picks.map((p) => keys[p % keys.length]!))];
  };

  for (const step of ops) {
    switch (step.op) {
      case 'add': {
        const keys = fresh(step.count);
        const rows = keys.map((_, i) => (step.seed + i * 7919) % POOL);
        expect(index.add(dataset(rows), keys)).toEqual(keys);
        keys.forEach((k, i) => {
          live.set(k, rows[i]!);
          expect(index.has(k)).toBe(true);
        });
        break;
      }
      case 'addAsync': {
        const keys = fresh(step.count);
        const rows = keys.map((_, i) => (step.seed + i * 7919) % POOL);
        keys.forEach((k, i) => {
          pending.set(k, rows[i]!);
        });
        totals.asyncAdds++;
        track(
          index.addAsync(dataset(rows), keys, { threads: step.threads }).then((got) => {
            expect(got).toEqual(keys);
            for (const k of keys) {
              expect(index.has(k), `acknowledged key ${k}`).toBe(true);
              live.set(k, pending.get(k)!);
              pending.delete(k);
            }
          }),
        );
        break;
      }
      case 'remove': {
        const keys = pickLive(step.picks);
        if (keys.length === 0) break;
        index.remove(keys);
        for (const k of keys) {
          live.delete(k);
          expect(index.has(k)).toBe(false);
        }
        break;
      }
      case 'update': {
        const keys = pickLive(step.picks);
        if (keys.length === 0) break;
        const rows = keys.map((_, i) => (step.seed + i * 104729) % POOL);
        index.update(dataset(rows), keys);
        keys.forEach((k, i) => {
          live.set(k, rows[i]!);
        });
        break;
      }
      case 'compact': {
        totals.compacts++;
        track(
          index.compact({ threads: step.threads }).catch((e) => {
            // The one refusal a compact may give: nothing live to compact into.
            if (!/every item was removed/.test(String(e))) throw e;
          }),
        );
        break;
      }
      case 'search': {
        const r = index.search(queryOf(step.query), K, { ef: EF });
        checkResults(r, 0, step.query, view(), live.size);
        totals.searches++;
        break;
      }
      case 'searchBatch': {
        const seen = view();
        const liveThen = live.size;
        const qs = Array.from({ length: step.count }, (_, i) => (step.from + i) % 200);
        const queries = new DenseDataset(Float32Array.from(qs.flatMap((q) => Array.from(queryOf(q)))), DIM);
        totals.batches++;
        track(
          index.searchBatch(queries, K, { ef: EF, ...batchParams(step.threads) }).then((r) => {
            totals.backends.set(r.backend, (totals.backends.get(r.backend) ?? 0) + 1);
            qs.forEach((q, i) => {
              checkResults(r, i * K, q, seen, liveThen);
            });
          }),
        );
        break;
      }
      case 'await': {
        if (running.length > 0) await running[step.pick % running.length];
        break;
      }
      case 'tick':
        await new Promise((r) => setImmediate(r));
        break;
      case 'sleep':
        await new Promise((r) => setTimeout(r, step.ms));
        break;
    }
    if (failures.length > 0) throw failures[0];
  }
  await Promise.all(running);
  if (failures.length > 0) throw failures[0];
  expect(pending.size).toBe(0);

  // The end state: every acknowledged key present with the vector last written for it.
  expect(index.size).toBe(live.size);
  const stored = (index.store as PlainDenseStore).toDataset();
  for (const [key, row] of live) {
    const slot = index.keys!.idOf(key);
    expect(slot, `key ${key}`).toBeGreaterThanOrEqual(0);
    expect(Array.from(stored.get(slot)), `vector of key ${key}`).toEqual(Array.from(rowOf(row)));
  }
  // Recall@10 at ef 64 against exact search over the live items.
  const items = [...live];
  for (let q = 0; q < 10 && items.length > 0; q++) {
    const query = queryOf((q * 17) % 200);
    const truth = items
      .map(([key, row]) => ({ key, d: l2(query, rowOf(row)) }))
      .sort((a, b) => a.d - b.d)
      .slice(0, K);
    const kth = truth[truth.length - 1]!.d;
    const got = index.search(query, K, { ef: EF }).keys!.filter((k) => k !== null) as number[];
    totals.expected += truth.length;
    totals.hits += got.filter((k) => l2(query, rowOf(live.get(k)!)) <= kth).length;
  }
  totals.sequences++;
}

import { afterAll, describe, expect, it } from 'vitest';
import {
  closeWorkers,
  DenseDataset,
  HnswGraph,
  HnswIndex,
  PlainDenseStore,
  type QueryEvaluator,
  serializeIndex,
  WebannoloError,
  WorkerPool,
} from '../src/index.js';
import { Rng } from '../src/util/rng.js';

// All-or-nothing changes: a change that fails anywhere inside (an evaluator throwing at its
// Nth distance, a late non-finite distance from huge finite vectors, memory refused, a worker
// dying, a cancellation at a random moment) leaves the index byte for byte as it was: on a
// fresh index (whose first change copies) and on an already-changed one (which writes in place).
const DIM = 24;
const N = 1200;
const rng = new Rng(7);
const data = new DenseDataset(
  Float32Array.from({ length: (N + 3000) * DIM }, () => rng.nextOpenUnit()),
  DIM,
);
const queries = new DenseDataset(
  Float32Array.from({ length: 30 * DIM }, () => rng.nextOpenUnit()),
  DIM,
);

function rows(from: number, count: number): DenseDataset {
  return new DenseDataset(data.data.slice(from * DIM, (from + count) * DIM), DIM);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** An index with keys and labels; `changed`: after a first add and remove, so later changes write in place. */
function makeIndex(changed: boolean, efConstruction = 64): HnswIndex {
  const index = HnswIndex.build(rows(0, N), {
    metric: 'l2',
    m: 8,
    efConstruction,
    keys: range(0, N).map((i) => `k${i}`),
    labels: range(0, N).map((i) => i % 5),
  });
  if (changed) {
    index.add(
      rows(N, 10),
      range(N, N + 10).map((i) => `k${i}`),
    );
    index.remove(range(0, 40).map((i) => `k${i * 3}`));
    const level0 = index.graph.level0.buffer;
    index.add(rows(N + 10, 1), [`k${N + 10}`]);
    // The test is about the in-place path: make sure it is the one taken.
    expect(index.graph.level0.buffer).toBe(level0);
  }
  return index;
}

/** Everything observable: the saved bytes and some search results. */
function fingerprint(index: HnswIndex): { bytes: Uint8Array; results: string } {
  const results = JSON.stringify(range(0, queries.size).map((q) => index.search(queries.get(q), 10, { ef: 32 }).keys));
  return { bytes: serializeIndex(index), results };
}

function expectUnchanged(index: HnswIndex, before: { bytes: Uint8Array; results: string }): void {
  const after = fingerprint(index);
  expect(sameBytes(after.bytes, before.bytes)).toBe(true);
  expect(after.results).toBe(before.results);
}

/** Calls `onDistance` before every distance call of plain dense stores' item evaluators (until the returned restore). */
function instrument(onDistance: () => void): () => void {
  const original = PlainDenseStore.prototype.itemEvaluator;
  PlainDenseStore.prototype.itemEvaluator = function (this: PlainDenseStore, id: number): QueryEvaluator {
    const ev = original.call(this, id);
    return {
      distance: (j: number) => {
        onDistance();
        return ev.distance(j);
      },
      distances: (ids: Uint32Array, count: number, out: Float64Array) => {
        onDistance();
        ev.distances(ids, count, out);
      },
      release: () => ev.release?.(),
    } as QueryEvaluator;
  };
  return () => {
    PlainDenseStore.prototype.itemEvaluator = original;
  };
}

type Change = { name: string; setup?: (index: HnswIndex) => void; run: (index: HnswIndex) => unknown };
const changes: Change[] = [
  {
    name: 'add (appends)',
    run: (i) =>
      i.add(
        rows(N + 100, 30),
        range(0, 30).map((j) => `new${j}`),
      ),
  },
  {
    name: 'add reusing removed slots',
    setup: (i) => i.remove(range(500, 520).map((j) => `k${j}`)),
    run: (i) =>
      i.add(
        rows(N + 200, 25),
        range(0, 25).map((j) => `re${j}`),
      ),
  },
  { name: 'update', run: (i) => i.update(rows(N + 300, 3), ['k7', 'k8', 'k1000']) },
  { name: 'upsert', run: (i) => i.add(rows(N + 400, 4), ['k9', 'k10', 'up1', 'up2'], { upsert: true, labels: [1, 2, 3, 4] }) },
  { name: 'remove', run: (i) => i.remove(range(600, 640).map((j) => `k${j}`)) },
];

afterAll(async () => {
  await closeWorkers();
});

describe('a change that fails leaves the index exactly as it was', () => {
  for (const changed of [false, true]) {
    const kind = changed ? 'an index that writes in place' : 'a fresh index';
    it(`an evaluator throwing at its Nth distance, in every kind of change, on ${kind}`, () => {
      const trial = new Rng(changed ? 11 : 12);
      let failed = 0;
      for (const change of changes) {
        // First: how many distance calls the change makes when it succeeds.
        let total = 0;
        const probe = makeIndex(changed);
        change.setup?.(probe);
        const stopCounting = instrument(() => total++);
        try {
          change.run(probe);
        } finally {
          stopCounting();
        }
        expect(total, change.name).toBeGreaterThan(10);
        for (let t = 0; t < 4; t++) {
          const index = makeIndex(changed);
          change.setup?.(index);
          const at = 1 + Math.floor(trial.nextOpenUnit() * (total - 1));
          const before = fingerprint(index);
          let left = at;
          const restore = instrument(() => {
            if (--left < 0) throw new Error('injected evaluator failure');
          });
          let error: unknown;
          try {
            change.run(index);
          } catch (e) {
            error = e;
          } finally {
            restore();
          }
          expect(String(error), `${change.name} at distance ${at} of ${total}`).toMatch(/injected/);
          failed++;
          expectUnchanged(index, before);
          // And the index takes the same change afterwards, with the same result as the probe.
          change.run(index);
          expect(sameBytes(serializeIndex(index), serializeIndex(probe)), change.name).toBe(true);
        }
      }
      expect(failed).toBe(changes.length * 4);
    });

    it(`huge finite vectors (non-finite distances found while linking) on ${kind}`, async () => {
      const huge = new Float32Array(DIM).fill(3e38);
      const index = makeIndex(changed);
      const before = fingerprint(index);
      for (const call of [
        () => index.add([huge], ['huge']),
        () => index.add([data.get(5), huge], ['ok', 'huge']),
        () => index.update([huge], ['k4']),
      ]) {
        let error: WebannoloError | undefined;
        try {
          call();
        } catch (e) {
          error = e as WebannoloError;
        }
        expect(error).toBeInstanceOf(WebannoloError);
        expect(error!.code).toBe('NON_FINITE');
        expectUnchanged(index, before);
      }
      // On the worker path (300 appended items, the huge one among them) and the serial one.
      const many = new DenseDataset(new Float32Array(300 * DIM), DIM);
      many.data.set(rows(N + 500, 300).data);
      many.data.set(huge, 150 * DIM);
      for (const threads of [2, 1]) {
        await expect(
          index.addAsync(
            many,
            range(0, 300).map((i) => `m${i}`),
            { threads },
          ),
        ).rejects.toThrow(/is not a number/);
        expectUnchanged(index, before);
      }
      await expect(index.addAsync([huge], ['h'])).rejects.toThrow(WebannoloError);
      expectUnchanged(index, before);
    });

    it(`memory refused while growing the graph or the store, on ${kind}`, async () => {
      const index = makeIndex(changed);
      const before = fingerprint(index);
      for (const [proto, method] of [
        [HnswGraph.prototype, 'grown'],
        [PlainDenseStore.prototype, 'withRows'],
      ] as const) {
        const original = (proto as unknown as Record<string, unknown>)[method];
        (proto as unknown as Record<string, unknown>)[method] = () => {
          throw new RangeError('Array buffer allocation failed');
        };
        try {
          expect(() =>
            index.add(
              rows(N + 700, 5),
              range(0, 5).map((i) => `g${i}`),
            ),
          ).toThrow(RangeError);
          expectUnchanged(index, before);
          await expect(
            index.addAsync(
              rows(N + 700, 5),
              range(0, 5).map((i) => `g${i}`),
            ),
          ).rejects.toThrow(RangeError);
          expectUnchanged(index, before);
        } finally {
          (proto as unknown as Record<string, unknown>)[method] = original;
        }
      }
      expect(
        index.add(
          rows(N + 700, 5),
          range(0, 5).map((i) => `g${i}`),
        ),
      ).toHaveLength(5);
    });
  }

  it('an addAsync or compact cancelled at a random moment changes nothing; one that finishes is whole', async () => {
    const trial = new Rng(5);
    let cancelled = 0;
    let finished = 0;
    for (let t = 0; t < 12; t++) {
      const changed = t % 2 === 1;
      const index = makeIndex(changed, 200);
      const kind = t % 3; // 0: serial (reused slots), 1: worker threads, 2: compact
      if (kind === 0) index.remove(range(200, 800).map((i) => `k${i}`));
      if (kind === 2) index.remove(range(200, 500).map((i) => `k${i}`));
      const before = fingerprint(index);
      const controller = new AbortController();
      const keys = range(0, kind === 0 ? 600 : 1500).map((i) => `a${t}-${i}`);
      const running =
        kind === 2
          ? index.compact({ threads: 2, signal: controller.signal })
          : index.addAsync(rows(N, keys.length), keys, { threads: kind === 0 ? 1 : 2, signal: controller.signal });
      // Half the trials abort at once, right after the call (always a cancellation, at the
      // change's first step); the others at a random moment, which may come after it finished.
      const delay = trial.nextOpenUnit() * (kind === 0 ? 150 : 250);
      const atOnce = Math.floor(t / 3) % 2 === 0;
      if (atOnce) controller.abort();
      else setTimeout(() => controller.abort(), delay);
      try {
        await running;
        expect(atOnce, 'a change aborted right after the call must not finish').toBe(false);
        finished++;
        if (kind !== 2) for (const key of keys) expect(index.has(key)).toBe(true);
        else expect(index.removed.count).toBe(0);
      } catch (error) {
        cancelled++;
        expect((error as WebannoloError).code).toBe('CANCELLED');
        expectUnchanged(index, before);
      }
    }
    console.log(`cancellation at random moments: ${cancelled} cancelled, ${finished} finished first`);
    // The six immediate aborts all cancel (checked above); the random ones may go either way
    // (on a busy machine a change can finish before its timer fires).
    expect(cancelled).toBeGreaterThanOrEqual(6);
  });

  it('a worker that dies mid-addAsync fails it and changes nothing; the next one works', async () => {
    const index = makeIndex(true, 200);
    const before = fingerprint(index);
    // 560 items fit the stores' spare room: the new rows go in place (removed slots first).
    const keys = range(0, 560).map((i) => `w${i}`);
    const big = new DenseDataset(new Float32Array(560 * DIM), DIM);
    big.data.set(rows(N, 560).data);
    const running = index.addAsync(big, keys, { threads: 2 });
    // Kill a worker once the add has started linking on them.
    const pool = WorkerPool.shared();
    for (let i = 0; i < 200 && (pool.size < 2 || pool.worker(0).busy === 0); i++) await new Promise((r) => setTimeout(r, 2));
    void pool.worker(0).kill();
    const outcome = await running.then(
      () => 'finished',
      (e: WebannoloError) => e.code,
    );
    console.log(`addAsync with a worker killed mid-way: ${outcome}`);
    if (outcome === 'finished') {
      for (const key of keys) expect(index.has(key)).toBe(true);
    } else {
      expect(outcome).toBe('WORKER_FAILED');
      expectUnchanged(index, before);
    }
    expect(await index.addAsync(big, keys, { threads: 2 })).toHaveLength(560);
    expect(index.search(big.get(345), 1).keys).toEqual(['w345']);
  });
});

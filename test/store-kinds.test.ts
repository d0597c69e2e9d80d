import { afterAll, describe, expect, it } from 'vitest';
import {
  closeWorkers,
  deserializeIndex,
  FlatIndex,
  HnswIndex,
  type Metric,
  PlainDenseStore,
  registerStoreCodec,
  serializeIndex,
  type Vector,
  type VectorStore,
} from '../src/index.js';
import type { SectionArray } from '../src/io/container.js';
import { exampleDense } from '../src/quant/examples.js';
import { attachStore, gpuExactSupports, plainVectorsOf, shareStore, storeCodec, storeKinds } from '../src/quant/registry.js';
import type { StoreKind } from '../src/quant/store-kind.js';
import { Rng } from '../src/util/rng.js';

// Conformance checks every registered store kind gets from its descriptor alone: a new kind
// (one folder and one registration in src/quant/registry.ts) is covered here without a test of
// its own, as long as its descriptor has an `example`.

afterAll(() => closeWorkers());

const METRICS: readonly Metric[] = ['l2', 'ip'];

/** Queries the store accepts: dense ones, else sparse ones (checkQuery says which). */
function queriesFor(store: VectorStore, count: number): Vector[] {
  const rng = new Rng(11);
  const dense = () => Float32Array.from({ length: store.dim }, () => rng.nextOpenUnit() * 2 - 1);
  const sparse = () => {
    const ids = new Set<number>();
    while (ids.size < Math.min(5, store.dim)) ids.add(rng.nextInt(store.dim));
    const indices = Uint32Array.from([...ids].sort((a, b) => a - b));
    return { indices, values: Float32Array.from(indices, () => rng.nextOpenUnit()) };
  };
  let make: () => Vector = dense;
  try {
    store.checkQuery(dense());
  } catch {
    make = sparse;
  }
  return Array.from({ length: count }, make);
}

/** Every item's distance to each query: the whole of what a store answers. */
function distanceRows(store: VectorStore, queries: readonly Vector[]): number[][] {
  const ids = Uint32Array.from({ length: store.size }, (_, i) => i);
  return queries.map((q) => {
    const ev = store.queryEvaluator(q);
    const out = new Float64Array(store.size);
    ev.distances(ids, ids.length, out);
    ev.release?.();
    return Array.from(out);
  });
}

function expectSameStore(actual: VectorStore, expected: VectorStore, queries: readonly Vector[]): void {
  expect([actual.kind, actual.size, actual.dim, actual.metric]).toEqual([expected.kind, expected.size, expected.dim, expected.metric]);
  expect(distanceRows(actual, queries)).toEqual(distanceRows(expected, queries));
  for (const q of queries) expect(new FlatIndex(actual).search(q, 10)).toEqual(new FlatIndex(expected).search(q, 10));
}

const kinds = storeKinds();

describe('store kinds: one descriptor each, checked alike', () => {
  it('registers the built-in kinds, each with an example store of its own class', () => {
    expect(kinds.map((k) => k.kind)).toEqual(expect.arrayContaining(['dense', 'sparse', 'pq', 'f16', 'sq8']));
    for (const kind of kinds) {
      expect(kind.example, `${kind.kind} has no example store`).toBeDefined();
      const store = kind.example!('l2');
      expect(store.kind).toBe(kind.kind);
      expect(kind.owns(store)).toBe(true);
      expect(kind.codec.kind).toBe(kind.kind);
    }
  });

  describe.each(kinds.map((k): [string, StoreKind] => [k.kind, k]))('%s', (_name, kind) => {
    it.each(METRICS)('round-trips through its codec and an index file (%s)', (metric) => {
      const store = kind.example!(metric);
      const queries = queriesFor(store, 4);
      const { params, sections } = kind.codec.encode(store);
      const section = (name: string): SectionArray => sections[name] ?? expect.fail(`no section '${name}'`);
      const decoded = kind.codec.decode(structuredClone(params), section, metric);
      expect(kind.owns(decoded)).toBe(true);
      expectSameStore(decoded, store, queries);
      const loaded = deserializeIndex(serializeIndex(new FlatIndex(store)));
      expectSameStore(loaded.store, store, queries);
    });

    it.each(METRICS)('a store attached from its shared form searches like the original (%s)', (metric) => {
      if (!kind.workers) return;
      const store = kind.example!(metric);
      const queries = queriesFor(store, 4);
      const before = distanceRows(store, queries);
      // What a worker receives: the shared form after postMessage's structured clone.
      const shared = structuredClone(shareStore(store));
      expect(shared?.kind).toBe(kind.kind);
      const attached = attachStore(shared!);
      expect(kind.owns(attached)).toBe(true);
      // Construction, not field copying: every field the original has is set in the attached store too.
      const fields = (s: VectorStore) => Object.entries(s).map(([key, value]) => [key, value === undefined]);
      expect(fields(attached)).toEqual(fields(store));
      expect(distanceRows(store, queries)).toEqual(before);
      expectSameStore(attached, store, queries);
    });

    it('searches the same on two worker threads as on one', async () => {
      if (!kind.workers) return;
      const store = kind.example!('l2');
      const index = HnswIndex.buildOnStore(store, { m: 8, efConstruction: 40 });
      const queries = queriesFor(store, 16);
      const one = await index.searchBatch(queries, 5, { ef: 32, threads: 1 });
      const two = await index.searchBatch(queries, 5, { ef: 32, threads: 2 });
      expect(two.threads).toBe(2);
      expect(Array.from(two.ids)).toEqual(Array.from(one.ids));
      expect(Array.from(two.scores)).toEqual(Array.from(one.scores));
    });
  });
});

/** A store of someone else's class that reports a built-in kind (like the file-backed re-ranking store). */
function impostor(store: PlainDenseStore): VectorStore {
  return {
    kind: store.kind,
    size: store.size,
    dim: store.dim,
    metric: store.metric,
    byteLength: store.byteLength,
    checkQuery: (q) => store.checkQuery(q),
    queryEvaluator: (q) => store.queryEvaluator(q),
    itemEvaluator: (id) => store.itemEvaluator(id),
    itemDistance: (a, b) => store.itemDistance(a, b),
    batchEvaluator: () => store.batchEvaluator(),
  };
}

describe('the registry', () => {
  it("uses a kind's worker and GPU parts only for that kind's own class", () => {
    const plain = new PlainDenseStore(exampleDense(), 'l2');
    expect(shareStore(plain)).not.toBeNull();
    expect(gpuExactSupports(plain, 10)).toBe(true);
    expect(plainVectorsOf(plain)).not.toBeNull();
    const other = impostor(plain);
    expect(shareStore(other)).toBeNull();
    expect(gpuExactSupports(other, 10)).toBe(false);
    expect(plainVectorsOf(other)).toBeNull();
    expect(gpuExactSupports(plain, 2000)).toBe(false);
  });

  it('registerStoreCodec adds a file-only kind, and replacing a known codec keeps the kind', () => {
    const plain = new PlainDenseStore(exampleDense(), 'ip');
    const dense = storeCodec('dense');
    const custom = { ...impostor(plain), kind: 'test-dense-copy' };
    registerStoreCodec({
      kind: 'test-dense-copy',
      encode: (s) => ({ params: { size: s.size }, sections: { vectors: plain.vectors } }),
      decode: (params, section, metric) => {
        const copy = new PlainDenseStore(exampleDense(), metric);
        expect(section('vectors')).toEqual(plain.vectors);
        return { ...impostor(copy), kind: 'test-dense-copy', size: params['size'] as number };
      },
    });
    const loaded = deserializeIndex(serializeIndex(new FlatIndex(custom)));
    expect(loaded.store.kind).toBe('test-dense-copy');
    const q = plain.vectors.slice(0, plain.dim);
    expect(loaded.search(q, 5)).toEqual(new FlatIndex(plain).search(q, 5));
    expect(shareStore(custom)).toBeNull();

    let encoded = 0;
    registerStoreCodec({
      ...dense,
      encode: (s) => {
        encoded++;
        return dense.encode(s);
      },
    });
    try {
      serializeIndex(new FlatIndex(plain));
      expect(encoded).toBe(1);
      expect(shareStore(plain)).not.toBeNull();
    } finally {
      registerStoreCodec(dense);
    }
  });
});

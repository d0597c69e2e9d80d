import { beforeAll, describe, expect, it } from 'vitest';
import {
  type DenseDataset,
  deserializeIndex,
  HnswIndex,
  ProductQuantizer,
  type SearchResult,
  serializeIndex,
  type WebannoloError,
} from '../src/index.js';
import { localityOrder } from '../src/indexes/hnsw/graph/locality-layout.js';
import { ItemOrder } from '../src/indexes/items/item-order.js';
import { loadMnist } from '../src/node/mnist.js';
import { permuteRowsInPlace } from '../src/util/permute.js';
import { Rng } from '../src/util/rng.js';

// The locality layout moves items to the slots of a breadth-first walk of the graph; ids must
// not change anywhere a user sees them. Checked against the same build in insertion layout.
const N = 3000;
const NQ = 40;
const K = 10;
const BUILD = { metric: 'l2', m: 12, efConstruction: 64, seed: 3 } as const;

/** Per query: the ids as a sorted list (ties may come out in either order) and the scores. */
function rowsOf(r: SearchResult | { ids: Int32Array; scores: Float32Array }, nq: number): { ids: number[]; scores: number[] }[] {
  return Array.from({ length: nq }, (_, q) => ({
    ids: Array.from(r.ids.subarray(q * K, (q + 1) * K)).sort((a, b) => a - b),
    scores: Array.from(r.scores.subarray(q * K, (q + 1) * K)),
  }));
}

function searchAll(
  index: HnswIndex,
  queries: DenseDataset,
  params: Parameters<HnswIndex['search']>[2] = {},
): { ids: number[]; scores: number[] }[] {
  return Array.from({ length: queries.size }, (_, q) => rowsOf(index.search(queries.get(q), K, params), 1)[0]!);
}

describe('the locality layout', () => {
  let base: DenseDataset;
  let queries: DenseDataset;
  let digits: number[];
  let laid: HnswIndex;
  let plain: HnswIndex;

  beforeAll(() => {
    const m = loadMnist(N, NQ);
    base = m.train;
    queries = m.test;
    digits = Array.from(m.trainLabels);
    laid = HnswIndex.build(base, { ...BUILD, labels: digits });
    plain = HnswIndex.build(base, { ...BUILD, labels: digits, layout: 'insertion' });
  });

  it('moves items (a real permutation, neighbours in nearby slots) and keeps every id the user sees', async () => {
    expect(plain.order).toBeNull();
    const order = laid.order!;
    expect(order.size).toBe(N);
    let moved = 0;
    for (let s = 0; s < N; s++) if (order.idOf(s) !== s) moved++;
    expect(moved).toBeGreaterThan(N / 2);
    // A node's neighbours sit in fewer blocks of slots than in insertion order (the point of
    // the layout: one expansion scores them together).
    const blocks = (index: HnswIndex) => {
      const g = index.graph;
      let sum = 0;
      for (let v = 0; v < g.n; v++) {
        const b = v * (g.m0 + 1);
        sum += new Set(Array.from(g.level0.subarray(b + 1, b + 1 + g.level0[b]!), (u) => u >>> 4)).size;
      }
      return sum / g.n;
    };
    console.log(
      `neighbour lists touch ${blocks(laid).toFixed(2)} blocks of 16 slots in the locality layout, ${blocks(plain).toFixed(2)} in insertion order`,
    );
    expect(blocks(laid)).toBeLessThan(0.93 * blocks(plain)); // 9.9 vs 11.4 here
    expect(searchAll(laid, queries)).toEqual(searchAll(plain, queries));
    const batchL = await laid.searchBatch(queries, K, { threads: 2 });
    expect(batchL.threads).toBe(2);
    const batchP = await plain.searchBatch(queries, K, { threads: 1 });
    expect(rowsOf(batchL, NQ)).toEqual(rowsOf(batchP, NQ));
    // A row's own vector finds its own id.
    for (const id of [0, 1, 17, 1234, N - 1]) expect(laid.search(base.get(id), 1).ids[0]).toBe(id);
  });

  it('takes filters over ids: bitset, where, label', () => {
    const bitset = new Uint32Array(Math.ceil(N / 32));
    for (let id = 0; id < N; id += 3) bitset[id >>> 5]! |= 1 << (id & 31);
    for (const filter of [{ bitset }, { where: (id: number | string) => (id as number) % 5 === 1 }, { label: 7 }]) {
      const got = searchAll(laid, queries, { filter });
      expect(got).toEqual(searchAll(plain, queries, { filter }));
      for (const row of got)
        for (const id of row.ids) {
          if ('bitset' in filter) expect(id % 3).toBe(0);
          if ('label' in filter) expect(digits[id]).toBe(7);
        }
    }
  });

  it('removes, adds and compacts by id, as an index in insertion order does', async () => {
    const a = HnswIndex.build(base, BUILD);
    const b = HnswIndex.build(base, { ...BUILD, layout: 'insertion' });
    for (const index of [a, b]) {
      index.remove([5, 6, 2999]);
      expect(index.has(5)).toBe(false);
      expect(index.has(7)).toBe(true);
      expect(index.idOf(7)).toBe(7);
      expect(() => index.remove([5])).toThrow(/id 5 is not in the index/);
      // Reused slots take back their ids, in id order; the fourth item is appended as id N.
      expect(index.add([base.get(5), base.get(6), base.get(2999), queries.get(0)])).toEqual([5, 6, 2999, N]);
      expect(index.search(queries.get(0), 1).ids[0]).toBe(N);
      expect(index.search(base.get(6), 1).ids[0]).toBe(6);
      index.remove([10, 11]);
    }
    expect(searchAll(a, queries)).toEqual(searchAll(b, queries));
    for (const index of [a, b]) await index.compact({ threads: 2 });
    // Renumbered 0..size-1 in id order: id 12 is now 10, the appended N is N - 2.
    for (const index of [a, b]) {
      expect(index.size).toBe(N - 1);
      expect(index.search(base.get(12), 1).ids[0]).toBe(10);
      expect(index.search(queries.get(0), 1).ids[0]).toBe(N - 2);
    }
    expect(a.order).not.toBeNull();
  });

  it('saves its order and loads it back (format 3); a damaged order fails clearly', () => {
    const bytes = serializeIndex(laid);
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true)).toBe(3);
    const back = deserializeIndex(bytes) as HnswIndex;
    expect(Array.from(back.order!.itemIds)).toEqual(Array.from(laid.order!.itemIds));
    expect(searchAll(back, queries, { filter: { label: 3 } })).toEqual(searchAll(laid, queries, { filter: { label: 3 } }));
    expect(() => ItemOrder.from(Uint32Array.from([0, 2, 2]))).toThrow(/not a permutation/);
    try {
      ItemOrder.from(Uint32Array.from([0, 3, 1]));
      expect.unreachable();
    } catch (e) {
      expect((e as WebannoloError).code).toBe('CORRUPT_FILE');
    }
  });

  it('takes stores and keys given in id order (withStore, withItems), and keys through results', () => {
    const pq = new ProductQuantizer({ m: 49, seed: 1 });
    pq.train(base);
    const codesL = laid.withStore(pq.encode(base, 'l2'));
    const codesP = plain.withStore(pq.encode(base, 'l2'));
    expect(searchAll(codesL, queries)).toEqual(searchAll(codesP, queries));
    expect(searchAll(laid.withStore(laid.store), queries)).toEqual(searchAll(laid, queries));
    const keyed = HnswIndex.build(base, { ...BUILD, keys: Array.from({ length: N }, (_, i) => `doc-${i}`) });
    const r = keyed.search(base.get(42), 3);
    expect(r.ids[0]).toBe(42);
    expect(r.keys![0]).toBe('doc-42');
    expect(keyed.keyOf(42)).toBe('doc-42');
    expect(keyed.idOf('doc-42')).toBe(42);
    expect(() => HnswIndex.build(base, { ...BUILD, layout: 'random' as never })).toThrow(/layout must be 'locality' or 'insertion'/);
  });

  it('keeps string keys through a layout change even when the item in slot 0 is gone', () => {
    const keyed = HnswIndex.build(base.slice(0, 500), { ...BUILD, keys: Array.from({ length: 500 }, (_, i) => `k${i}`) });
    keyed.remove([`k${keyed.order!.idOf(0)}`]);
    const back = keyed.withLayout('insertion');
    expect(back.order).toBeNull();
    expect(back.keys!.kind).toBe('string');
    expect(back.search(base.get(7), 1).keys).toEqual(['k7']);
    back.add([base.get(600)], ['k600']);
    expect(back.search(base.get(600), 1).keys).toEqual(['k600']);
    // A plain index in insertion layout is still written as format 2.
    const bytes = serializeIndex(plain);
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true)).toBe(2);
  });

  it('orders every node once, reached or not', () => {
    const order = localityOrder(laid.graph);
    expect(new Set(order).size).toBe(N);
  });
});

describe('permuteRowsInPlace and ItemOrder', () => {
  it('permute rows like a copy would, for random permutations and strides', () => {
    const rng = new Rng(9);
    for (const [rows, stride] of [
      [1, 3],
      [2, 1],
      [17, 4],
      [300, 7],
    ] as const) {
      const from = Uint32Array.from({ length: rows }, (_, i) => i);
      for (let i = rows - 1; i > 0; i--) {
        const j = rng.nextInt(i + 1);
        [from[i], from[j]] = [from[j]!, from[i]!];
      }
      const a = Float32Array.from({ length: rows * stride }, (_, i) => i);
      const expected = new Float32Array(rows * stride);
      for (let s = 0; s < rows; s++) expected.set(a.subarray(from[s]! * stride, (from[s]! + 1) * stride), s * stride);
      permuteRowsInPlace(a, stride, from);
      expect(Array.from(a)).toEqual(Array.from(expected));
    }
  });

  it('grows in place or by copy, and composes', () => {
    const o = ItemOrder.from(Uint32Array.from([2, 0, 1]));
    expect([o.slotOf(0), o.slotOf(1), o.slotOf(2), o.slotOf(3), o.slotOf(-1)]).toEqual([1, 2, 0, -1, -1]);
    const g = o.grown(5, false);
    expect(Array.from(g.itemIds)).toEqual([2, 0, 1, 3, 4]);
    const g2 = g.grown(6, true); // room from the copy: written in place
    expect(Array.from(g2.itemIds)).toEqual([2, 0, 1, 3, 4, 5]);
    expect(Array.from(g.itemIds)).toEqual([2, 0, 1, 3, 4]);
    expect(() => g2.grown(2, true)).toThrow(/cannot shrink/);
    const again = ItemOrder.after(o, Uint32Array.from([1, 2, 0]));
    expect(Array.from(again.itemIds)).toEqual([0, 1, 2]);
    expect(Array.from(o.idsOf(Int32Array.from([0, -1, 2])))).toEqual([2, -1, 1]);
    const bits = o.slotBits(Uint32Array.from([0b001]));
    expect(bits[0]).toBe(0b010);
  });
});

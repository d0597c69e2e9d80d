import { describe, expect, it } from 'vitest';
import {
  DenseDataset,
  deserializeIndex,
  FlatIndex,
  HnswIndex,
  type Metric,
  recallAtK,
  ScalarQuantizer,
  ScalarStore,
  serializeIndex,
} from '../src/index.js';
import { HALF_MAX, halfBits, halfValue } from '../src/quant/scalar/half.js';
import { Rng } from '../src/util/rng.js';
import { loadBge, loadMnistWithTruth } from './helpers/data.js';
import { describeShared } from './helpers/shared-data.js';
import { idsOfSlots } from './helpers/slots.js';

function randomData(n: number, dim: number, seed: number, lo = -1, hi = 1): DenseDataset {
  const rng = new Rng(seed);
  return new DenseDataset(
    Float32Array.from({ length: n * dim }, () => lo + (hi - lo) * rng.nextOpenUnit()),
    dim,
  );
}

/** Exact (f64) internal distance from q to the decoded vector x. */
function internal(metric: Metric, q: Float32Array, x: ArrayLike<number>): number {
  let s = 0;
  for (let d = 0; d < q.length; d++) s += metric === 'l2' ? (q[d]! - x[d]!) ** 2 : -q[d]! * x[d]!;
  return s;
}

describe('f16 conversion', () => {
  it('round-trips every normal half and flushes subnormals to zero', () => {
    for (let h = 0; h < 0x10000; h++) {
      const e = (h >> 10) & 0x1f;
      if (e === 31) continue;
      const back = halfBits(halfValue(h));
      expect(back).toBe(e === 0 ? h & 0x8000 : h);
    }
  });
  it('rounds to nearest, ties to even', () => {
    expect(halfValue(halfBits(1 + 2 ** -11))).toBe(1); // tie: 1.0 has an even mantissa
    expect(halfValue(halfBits(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9); // tie: rounds up to even
    expect(halfValue(halfBits(1 + 2 ** -11 + 2 ** -20))).toBe(1 + 2 ** -10);
    expect(halfValue(halfBits(HALF_MAX))).toBe(HALF_MAX);
    expect(halfValue(halfBits(2047.9))).toBe(2048); // carry into the exponent
  });
});

describe('scalar stores (f16, sq8)', () => {
  for (const encoding of ['f16', 'sq8'] as const) {
    for (const metric of ['l2', 'ip'] as const) {
      it(`${encoding} ${metric}: SIMD, JS and batch kernels agree with the decoded vectors`, () => {
        for (const dim of [3, 16, 37, 128]) {
          const data = randomData(60, dim, dim, -3, 5);
          const simd = new ScalarQuantizer(encoding).encode(data, metric);
          const js = new ScalarQuantizer(encoding, { simd: false }).encode(data, metric);
          expect(simd.kernels).toBe('wasm-simd');
          expect(js.kernels).toBe('js');
          expect(simd.byteLength).toBe(60 * Math.ceil(dim / 16) * 16 * (encoding === 'f16' ? 2 : 1) + (encoding === 'sq8' ? dim * 8 : 0));
          const q = randomData(1, dim, 99).get(0);
          const ids = Uint32Array.from({ length: 60 }, (_, i) => i);
          const a = new Float64Array(60);
          const b = new Float64Array(60);
          simd.queryEvaluator(q).distances(ids, 60, a);
          js.queryEvaluator(q).distances(ids, 60, b);
          const batch = simd.batchEvaluator();
          batch.setQueries(new DenseDataset(Float32Array.from([...randomData(1, dim, 5).get(0), ...q]), dim), 0, 2);
          const c = new Float32Array(60);
          batch.distances(new Uint32Array(60).fill(1), ids, 60, c);
          // SQ8 ip rounds the query to i16 (half a unit per component, times a code <= 255).
          let intTol = 0;
          if (encoding === 'sq8' && metric === 'ip') {
            const s = simd.codec.scales!;
            const largest = Math.max(...Array.from(q, (v, d) => Math.abs(v * s[d]!)));
            intTol = 0.5 * (largest / 32767) * 255 * dim;
          }
          for (let i = 0; i < 60; i++) {
            const exact = internal(metric, q, simd.codec.decodeRow(simd.codes, i));
            const tol = 1e-5 * (1 + Math.abs(exact)) * Math.sqrt(dim);
            expect(Math.abs(a[i]! - exact)).toBeLessThan(tol + intTol);
            expect(Math.abs(b[i]! - exact)).toBeLessThan(tol);
            expect(Math.abs(c[i]! - a[i]!)).toBeLessThan(tol);
          }
          // The codes approximate the vectors: f16 to ~1e-3 relative, sq8 to half a step.
          const x = data.get(7);
          const y = simd.codec.decodeRow(simd.codes, 7);
          for (let d = 0; d < dim; d++)
            expect(Math.abs(x[d]! - y[d]!)).toBeLessThanOrEqual(encoding === 'f16' ? 5e-3 : (8 / 255) * 0.51 + 1e-6);
        }
      });
    }
  }

  it('SQ8 inner products on long non-negative vectors stay exact to the query rounding (no i32 overflow)', () => {
    for (const dim of [512, 1024, 3000]) {
      const data = randomData(20, dim, dim, 0, 1);
      const store = new ScalarQuantizer('sq8').encode(data, 'ip');
      const q = new Float32Array(dim).fill(1);
      const got = new Float64Array(20);
      store.queryEvaluator(q).distances(
        Uint32Array.from({ length: 20 }, (_, i) => i),
        20,
        got,
      );
      for (let i = 0; i < 20; i++) {
        const exact = internal('ip', q, store.codec.decodeRow(store.codes, i));
        // Each component's i16 rounding is at most half a unit (unit = max |q_d scale_d| / limit).
        expect(Math.abs(got[i]! - exact)).toBeLessThan(1e-3 * Math.abs(exact));
        expect(store.queryEvaluator(q).distance(i)).toBeCloseTo(got[i]!, 3);
      }
    }
  });

  it('fails clearly on values f16 cannot hold, and SQ8 clamps values added outside its range', () => {
    const big = new DenseDataset(Float32Array.from([1, 2, 70000, 4]), 2);
    expect(() => new ScalarQuantizer('f16').encode(big, 'l2')).toThrow(/vector 1 has 70000 at component 0, outside the f16 range/);
    expect(() => new ScalarQuantizer('f8' as never)).toThrow(/'f16' or 'sq8'/);
    const sq8 = new ScalarQuantizer('sq8').encode(randomData(20, 4, 1, 0, 1), 'l2');
    const grown = sq8.withRows(new DenseDataset(Float32Array.from([5, -5, 0.5, 0.5]), 4), Uint32Array.of(20), 21);
    const y = grown.codec.decodeRow(grown.codes, 20);
    expect(y[0]).toBeLessThanOrEqual(1);
    expect(y[1]).toBeGreaterThanOrEqual(0);
    expect(grown.codec.decodeRow(grown.codes, 3)).toEqual(sq8.codec.decodeRow(sq8.codes, 3));
    expect(() => sq8.checkQuery(new Float32Array(3))).toThrow(/dimension 3/);
  });

  it('MNIST 10k: f16 recall within 0.005 of f32, sq8 re-ranked within 0.005, on the same graph; files and workers keep them', async () => {
    const { base, queries, gt } = await loadMnistWithTruth(10_000, 200);
    const plain = HnswIndex.build(base, { metric: 'l2', m: 12, efConstruction: 100 });
    const f16 = plain.quantize(new ScalarQuantizer('f16'), { keepPlain: false });
    const sq8 = plain.quantize(new ScalarQuantizer('sq8'));
    expect(f16.store.byteLength).toBe(plain.store.byteLength / 2);
    expect(sq8.store.byteLength / plain.store.byteLength).toBeLessThan(0.26);
    const recall = async (index: HnswIndex, rerank = 0) =>
      recallAtK((await index.searchBatch(queries, 10, { ef: 20, rerank })).ids, 10, gt);
    const [rPlain, rF16, rSq8, rSq8R] = [await recall(plain), await recall(f16), await recall(sq8), await recall(sq8, 20)];
    console.log(`MNIST 10k ef 20 recall@10: f32 ${rPlain}, f16 ${rF16}, sq8 ${rSq8}, sq8 re-ranked ${rSq8R}`);
    expect(rF16).toBeGreaterThanOrEqual(rPlain - 0.005);
    expect(rSq8R).toBeGreaterThanOrEqual(rPlain - 0.005);
    expect(rSq8).toBeGreaterThanOrEqual(rPlain - 0.03);

    // Through the index file: same store kind, same answers.
    for (const index of [f16, sq8]) {
      const back = deserializeIndex(serializeIndex(index)) as HnswIndex;
      expect(back.store).toBeInstanceOf(ScalarStore);
      expect(back.store.kind).toBe(index.store.kind);
      expect(Buffer.compare((back.store as ScalarStore).codes, (index.store as ScalarStore).codes)).toBe(0);
      expect(back.rerankStore === null).toBe(index.rerankStore === null);
      const a = await index.searchBatch(queries, 10, { ef: 32 });
      const b = await back.searchBatch(queries, 10, { ef: 32 });
      expect(b.ids).toEqual(a.ids);
      // Worker threads search the shared codes and agree with this thread.
      const t = await back.searchBatch(queries, 10, { ef: 32, threads: 2 });
      expect(t.threads).toBe(2);
      expect(t.ids).toEqual(a.ids);
      await back.close();
    }
    // A flat scan over the codes is exact over the decoded vectors.
    const flat = await new FlatIndex(f16.store).searchBatch(queries, 10);
    expect(recallAtK(idsOfSlots(f16, flat.ids), 10, gt)).toBeGreaterThanOrEqual(0.995);
  });

  it('a quantized index keeps changing: add and remove on f16 codes', async () => {
    const { base, queries } = await loadMnistWithTruth(2_000, 20);
    const head = base.slice(0, 1500);
    const index = HnswIndex.build(head, { metric: 'l2', m: 8, efConstruction: 60 }).quantize(new ScalarQuantizer('f16'), {
      keepPlain: false,
    });
    index.add(base.slice(1500, 2000));
    expect(index.size).toBe(2000);
    expect(index.store).toBeInstanceOf(ScalarStore);
    const hit = index.search(base.get(1700), 1, { ef: 32 });
    expect(hit.ids[0]).toBe(1700);
    index.remove([1700]);
    expect(index.search(base.get(1700), 5, { ef: 32 }).ids).not.toContain(1700);
    expect(index.search(queries.get(0), 10).ids.every((id) => id >= 0)).toBe(true);
  });
});

describeShared('f16 and SQ8 on bge-base-beir (768-d, IP)', () => {
  it('f16 within 0.005 of f32 at the same ef; sq8 re-ranked within 0.005', async () => {
    const { base, queries, gt } = loadBge();
    const plain = HnswIndex.build(base, { metric: 'ip' });
    const f16 = plain.quantize(new ScalarQuantizer('f16'), { keepPlain: false });
    const sq8 = plain.quantize(new ScalarQuantizer('sq8'));
    for (const ef of [32, 100]) {
      const r = async (index: HnswIndex, rerank = 0) => {
        const res = await index.searchBatch(queries, 10, { ef, rerank });
        return recallAtK(res.ids, 10, gt);
      };
      const [rPlain, rF16, rSq8, rSq8R] = [await r(plain), await r(f16), await r(sq8), await r(sq8, ef)];
      console.log(
        `bge ef ${ef} recall@10: f32 ${rPlain.toFixed(4)}, f16 ${rF16.toFixed(4)}, sq8 ${rSq8.toFixed(4)}, sq8 re-ranked ${rSq8R.toFixed(4)}`,
      );
      expect(rF16).toBeGreaterThanOrEqual(rPlain - 0.005);
      expect(rSq8R).toBeGreaterThanOrEqual(rPlain - 0.005);
    }
  });
});

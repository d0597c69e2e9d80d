import { describe, expect, it } from 'vitest';
import { DenseDataset } from '../src/index.js';
import { FACTORS } from '../src/quant/rabitq/encoding.js';
import { estimate32 } from '../src/quant/rabitq/prepared-query.js';
import { RabitqQuantizer } from '../src/quant/rabitq/quantizer.js';
import type { RabitqStore } from '../src/quant/rabitq/store.js';
import type { WasmArena } from '../src/quant/wasm/arena.js';
import { Rng } from '../src/util/rng.js';

/**
 * The SIMD kernels of RaBitQ against their JS references: the query preparation (rotation in
 * f32, quantization, bit-planes) gives the same bits as prepareQueryJs, and the estimator
 * kernels give the integer S of the unpacked code and levels exactly and the JS estimate
 * (estimate32) bit for bit, at dimensions that pad (100, 784) and that do not (768), every
 * code width, and every way a list splits into groups of four.
 */

function uniform(size: number, dim: number, seed: number, scale = 1, shift = 0): DenseDataset {
  const rng = new Rng(seed);
  const data = new Float32Array(size * dim);
  for (let i = 0; i < data.length; i++) data[i] = shift + scale * (rng.nextOpenUnit() - 0.5);
  return new DenseDataset(data, dim);
}

/** S = sum_i x_u_i * level_i of item `id`, from the unpacked code: the kernels' integer, computed plainly. */
function plainProduct(store: RabitqStore, id: number, levels: Uint8Array): number {
  const xu = store.encoding.unpackCode(store.codes, id);
  let s = 0;
  for (let i = 0; i < xu.length; i++) s += xu[i]! * levels[i]!;
  return s;
}

describe('RaBitQ query preparation', () => {
  it.each([8, 100, 128, 200, 768, 784])('the SIMD kernels give the JS reference bits (dim %i)', (dim) => {
    const data = uniform(40, dim, dim);
    for (const metric of ['l2', 'ip'] as const) {
      const store = new RabitqQuantizer({ bits: 1 }).encode(data, metric);
      const enc = store.encoding;
      const queries = [uniform(1, dim, 1).data, uniform(1, dim, 2, 1000, 3).data, uniform(1, dim, 3, 1e-3).data, enc.centroid.slice()];
      for (const q of queries) {
        const simd = enc.prepareQuery(q);
        const js = enc.prepareQueryJs(q);
        expect(Array.from(simd.planes)).toEqual(Array.from(js.planes));
        expect(Array.from(simd.levels)).toEqual(Array.from(js.levels));
        expect([simd.low, simd.step, simd.sum, simd.norm, simd.constant]).toEqual([js.low, js.step, js.sum, js.norm, js.constant]);
      }
      // The query at the centroid: every component 0, one level, no division by a zero step.
      const centre = enc.prepareQuery(enc.centroid.slice());
      expect(centre.step).toBe(0);
      expect(centre.levels.every((v) => v === 0)).toBe(true);
    }
  });

  it('the f32 rotation is the f64 one to f32 precision, and the levels use the whole range', () => {
    const dim = 784;
    const enc = new RabitqQuantizer().encode(uniform(20, dim, 5), 'l2').encoding;
    const q = uniform(1, dim, 6).data;
    const r64 = enc.rotation.rotate(q, enc.centroid, new Float64Array(enc.paddedDim));
    const r32 = enc.rotation.rotateQuery32(q, enc.centroid, new Float32Array(enc.paddedDim));
    const norm = Math.sqrt(r64.reduce((s, x) => s + x * x, 0));
    for (let i = 0; i < r64.length; i++) expect(Math.abs(r64[i]! - r32[i]!)).toBeLessThan(1e-6 * norm);
    const levels = enc.prepareQuery(q).levels;
    expect(Math.min(...levels)).toBe(0);
    expect(Math.max(...levels)).toBe(15);
  });
});

describe('RaBitQ estimator kernels', () => {
  it.each([100, 768, 784])('S exactly, the JS estimate bit for bit, for every code width and list split (dim %i)', (dim) => {
    const n = 45;
    const data = uniform(n, dim, 10 + dim, 2, 0.3);
    const queries = uniform(3, dim, 20 + dim, 2, 0.3);
    const ids = Uint32Array.from({ length: n }, (_, i) => (i * 17) % n);
    for (let bits = 1; bits <= 8; bits++) {
      const metric = bits % 2 === 0 ? 'ip' : 'l2';
      const simd = new RabitqQuantizer({ bits }).encode(data, metric);
      const js = new RabitqQuantizer({ bits, simd: false }).encode(data, metric);
      expect(simd.kernels).toBe('wasm-simd');
      for (let q = 0; q < queries.size; q++) {
        const query = queries.get(q);
        const prepared = simd.encoding.prepareQuery(query);
        const constants = simd.encoding.estimateConstants(prepared);
        const factors = simd.factors;
        const expected = Array.from(ids, (id) => estimate32(constants, plainProduct(simd, id, prepared.levels), factors, id * FACTORS));
        const ev = simd.queryEvaluator(query);
        const out = new Float64Array(n);
        ev.distances(ids, n, out);
        expect(Array.from(out), `bits ${bits}`).toEqual(expected);
        const jsOut = new Float64Array(n);
        js.queryEvaluator(query).distances(ids, n, jsOut);
        expect(Array.from(jsOut)).toEqual(expected);
        // Lists of 1 to 7 entries (a group of four, a padded group, a single row): the same numbers.
        for (let count = 1; count <= 7; count++) {
          const part = new Float64Array(count);
          ev.distances(ids.subarray(9), count, part);
          expect(Array.from(part)).toEqual(expected.slice(9, 9 + count));
        }
        expect(ev.distance(ids[4]!)).toBe(expected[4]);
        ev.release?.();
      }
    }
  });

  it('the f32 estimate is the f64 formula to float tolerance', () => {
    const dim = 768;
    const store = new RabitqQuantizer({ bits: 2 }).encode(uniform(30, dim, 31, 2, 0.5), 'ip');
    const enc = store.encoding;
    const query = uniform(1, dim, 32, 2, 0.5).data;
    const p = enc.prepareQuery(query);
    const f = store.factors;
    const ev = store.queryEvaluator(query);
    for (let id = 0; id < 30; id++) {
      const s = plainProduct(store, id, p.levels);
      const at = id * FACTORS;
      const f64 = f[at]! + p.constant + enc.sign * f[at + 1]! * (p.step * s + p.low * f[at + 2]! - enc.middle * p.sum);
      expect(Math.abs(ev.distance(id) - f64)).toBeLessThan(1e-5 * (1 + Math.abs(f64)));
    }
  });

  it('the factors live beside the codes in the kernels memory, and survive a file round trip and a subset', () => {
    const store = new RabitqQuantizer({ bits: 3 }).encode(uniform(25, 100, 41), 'l2');
    const factors = store.factors;
    expect(factors.buffer).toBe((store as unknown as { arena: WasmArena }).arena.memory.buffer);
    const sub = store.subset(Uint32Array.from([3, 7]));
    expect(Array.from(sub.factors)).toEqual([...factors.subarray(3 * FACTORS, 4 * FACTORS), ...factors.subarray(7 * FACTORS, 8 * FACTORS)]);
    const q = uniform(1, 100, 42).data;
    const a = new Float64Array(2);
    sub.queryEvaluator(q).distances(Uint32Array.from([0, 1]), 2, a);
    const b = new Float64Array(2);
    store.queryEvaluator(q).distances(Uint32Array.from([3, 7]), 2, b);
    expect(Array.from(a)).toEqual(Array.from(b));
  });
});

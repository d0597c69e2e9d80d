import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  closeWorkers,
  DenseDataset,
  deserializeIndex,
  FlatIndex,
  HnswIndex,
  type Metric,
  recallAtK,
  serializeIndex,
  WebannoloError,
} from '../src/index.js';
import { writeFvecs, writeIvecs } from '../src/io/vecs.js';
import { RabitqQuantizer } from '../src/quant/rabitq/quantizer.js';
import type { RabitqStore } from '../src/quant/rabitq/store.js';
import { Rng } from '../src/util/rng.js';
import { cli, expectOk, expectOneLineError, lastJson } from './helpers/cli.js';
import { loadMnistWithTruth } from './helpers/data.js';

afterAll(() => closeWorkers());

/** Gaussian rows (Box-Muller), seeded. */
function gaussian(size: number, dim: number, seed: number, shift = 0): DenseDataset {
  const rng = new Rng(seed);
  const data = new Float32Array(size * dim);
  for (let i = 0; i < data.length; i++)
    data[i] = shift + Math.sqrt(-2 * Math.log(rng.nextOpenUnit())) * Math.cos(2 * Math.PI * rng.nextOpenUnit());
  return new DenseDataset(data, dim);
}

function exact(metric: Metric, a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += metric === 'l2' ? (a[i]! - b[i]!) ** 2 : -a[i]! * b[i]!;
  return s;
}

/** Estimates, half-widths and true distances of every item to each query. */
function estimates(store: RabitqStore, data: DenseDataset, queries: DenseDataset) {
  const ids = Uint32Array.from({ length: data.size }, (_, i) => i);
  const est = new Float64Array(data.size);
  const half = new Float64Array(data.size);
  const rows: { est: number; half: number; truth: number }[] = [];
  for (let q = 0; q < queries.size; q++) {
    const query = queries.get(q);
    const ev = store.queryEvaluator(query);
    ev.distances(ids, ids.length, est);
    ev.release?.();
    store.distanceBounds(query, ids, ids.length, half);
    for (let i = 0; i < data.size; i++) rows.push({ est: est[i]!, half: half[i]!, truth: exact(store.metric, query, data.get(i)) });
  }
  return rows;
}

describe('RaBitQ estimator', () => {
  it.each([
    ['l2', 1],
    ['ip', 1],
    ['l2', 4],
  ] as const)('is close to unbiased and its bound holds at the stated rate (%s, %i bits)', (metric, bits) => {
    const data = gaussian(400, 96, 3, 0.5);
    const queries = gaussian(20, 96, 4, 0.5);
    const store = new RabitqQuantizer({ bits }).encode(data, metric);
    const rows = estimates(store, data, queries);
    let bias = 0;
    let spread = 0;
    let inside = 0;
    for (const r of rows) {
      bias += r.est - r.truth;
      spread += Math.abs(r.truth);
      if (Math.abs(r.est - r.truth) <= r.half) inside++;
    }
    // Mean error against the mean magnitude of the distances: a small fraction.
    // Mean error against the mean magnitude of the distances: dropping the 1/<o_bar, o>
    // correction alone would make it about 0.2.
    expect(Math.abs(bias) / spread).toBeLessThan(0.005);
    // epsilon0 = 1.9: the error is at most one standard deviation of a normal, so the stated
    // rate is erf(1.9 / sqrt 2) = 0.943; the rate seen is that (it is no looser bound either).
    expect(inside / rows.length).toBeGreaterThan(0.943 - 0.015);
    expect(inside / rows.length).toBeLessThan(0.99);
  });

  it('a larger epsilon0 widens the bound to its rate (3 sd: 0.997)', () => {
    const data = gaussian(400, 96, 3);
    const queries = gaussian(20, 96, 4);
    const rows = estimates(new RabitqQuantizer({ epsilon0: 3 }).encode(data, 'l2'), data, queries);
    const inside = rows.filter((r) => Math.abs(r.est - r.truth) <= r.half).length;
    expect(inside / rows.length).toBeGreaterThan(0.997 - 0.005);
  });

  it('more bits estimate closer', () => {
    const data = gaussian(300, 128, 8);
    const queries = gaussian(10, 128, 9);
    const meanError = (bits: number) => {
      const rows = estimates(new RabitqQuantizer({ bits }).encode(data, 'l2'), data, queries);
      return rows.reduce((s, r) => s + Math.abs(r.est - r.truth), 0) / rows.length;
    };
    const [one, two, four] = [meanError(1), meanError(2), meanError(4)];
    expect(two).toBeLessThan(one * 0.75);
    expect(four).toBeLessThan(two * 0.5);
  });

  it('JS and SIMD kernels give the same estimates', () => {
    const data = gaussian(300, 200, 5);
    const queries = gaussian(5, 200, 6);
    for (const bits of [1, 2, 3, 8]) {
      const simd = new RabitqQuantizer({ bits }).encode(data, 'l2');
      const js = new RabitqQuantizer({ bits, simd: false }).encode(data, 'l2');
      expect(simd.kernels).toBe('wasm-simd');
      expect(js.kernels).toBe('js');
      const a = estimates(simd, data, queries).map((r) => r.est);
      const b = estimates(js, data, queries).map((r) => r.est);
      expect(a).toEqual(b);
      // Single distances agree with the gathered ones.
      const ev = simd.queryEvaluator(queries.get(0));
      expect(ev.distance(7)).toBe(a[7]);
    }
  });
});

/** The re-ranking counters of an index's searcher (this thread). */
function rerankCounts(index: HnswIndex): { candidates: number; exact: number } {
  return (index as unknown as { snap: { searcher: { writer: { rerankCounts: { candidates: number; exact: number } } } } }).snap.searcher
    .writer.rerankCounts;
}

describe('RaBitQ index', () => {
  it('reaches recall@10 >= 0.95 on MNIST at ef 64 with re-ranking, computing exact distances for fewer than half the candidates', async () => {
    const { base, queries, gt } = await loadMnistWithTruth(10_000, 200);
    const plain = await HnswIndex.buildAsync(base, { metric: 'l2', m: 16, efConstruction: 100, threads: 2 });
    const index = plain.quantize(new RabitqQuantizer({ bits: 1 }), { keepPlain: true });
    expect(index.store.kind).toBe('rabitq');
    expect((index.store as RabitqStore).bytesPerVector).toBe(128 + 20);
    const counts = rerankCounts(index);
    const r = await index.searchBatch(queries, 10, { ef: 64, rerank: 64, threads: 1 });
    expect(recallAtK(r.ids, 10, gt)).toBeGreaterThanOrEqual(0.95);
    expect(counts.candidates).toBe(64 * queries.size);
    expect(counts.exact).toBeLessThan(counts.candidates / 2);
    expect(counts.exact).toBeGreaterThanOrEqual(10 * queries.size);
    // Without re-ranking the codes alone are well below.
    const codesOnly = await index.searchBatch(queries, 10, { ef: 64, threads: 1 });
    expect(recallAtK(codesOnly.ids, 10, gt)).toBeLessThan(recallAtK(r.ids, 10, gt));
    // Worker threads share the codes and give the same results.
    const two = await index.searchBatch(queries, 10, { ef: 64, rerank: 64, threads: 2 });
    expect(two.threads).toBe(2);
    expect(Array.from(two.ids)).toEqual(Array.from(r.ids));
    // A single search is the batch's row.
    const one = index.search(queries.get(3), 10, { ef: 64, rerank: 64 });
    expect(Array.from(one.ids)).toEqual(Array.from(r.ids.subarray(30, 40)));

    // Codes, factors, centroid and rotation round-trip through the file.
    const loaded = deserializeIndex(serializeIndex(index)) as HnswIndex;
    const store = loaded.store as RabitqStore;
    const original = index.store as RabitqStore;
    expect(store.kind).toBe('rabitq');
    expect(store.codes).toEqual(original.codes);
    expect(store.factors).toEqual(original.factors);
    expect(store.encoding.centroid).toEqual(original.encoding.centroid);
    expect(store.encoding.rotation.signs).toEqual(original.encoding.rotation.signs);
    const again = await loaded.searchBatch(queries, 10, { ef: 64, rerank: 64, threads: 1 });
    expect(Array.from(again.ids)).toEqual(Array.from(r.ids));
    expect(Array.from(again.scores)).toEqual(Array.from(r.scores));
  });

  it('adds, removes and filters on codes encoded with the same rotation', () => {
    const data = gaussian(600, 64, 21);
    const extra = gaussian(50, 64, 22);
    const labels = Array.from({ length: 600 }, (_, i) => [i % 3]);
    const plain = HnswIndex.build(data, { metric: 'l2', m: 8, efConstruction: 60, keys: Array.from({ length: 600 }, (_, i) => i), labels });
    const index = plain.quantize(new RabitqQuantizer({ bits: 2 }), { keepPlain: true });
    const before = index.store as RabitqStore;
    index.add(
      extra,
      Array.from({ length: 50 }, (_, i) => 1000 + i),
      { labels: Array.from({ length: 50 }, () => [1]) },
    );
    const after = index.store as RabitqStore;
    expect(after.kind).toBe('rabitq');
    expect(after.encoding.rotation).toBe(before.encoding.rotation);
    for (let i = 0; i < 50; i += 7) {
      const hit = index.search(extra.get(i), 1, { ef: 64, rerank: 32 });
      expect(hit.keys?.[0]).toBe(1000 + i);
    }
    index.remove([1000, 1001, 5]);
    const gone = index.search(extra.get(0), 10, { ef: 64, rerank: 32 });
    expect(gone.keys).not.toContain(1000);
    expect(index.search(data.get(5), 10, { ef: 64, rerank: 32 }).keys).not.toContain(5);
    const filtered = index.search(data.get(4), 10, { ef: 64, rerank: 32, filter: { label: 1 } });
    expect(filtered.keys).toContain(4);
    for (const key of filtered.keys!) expect(key === null || (key as number) >= 1000 || (key as number) % 3 === 1).toBe(true);
  });

  it('refuses bad parameters with one clear error each', () => {
    const bad = (f: () => unknown, pattern: RegExp) => {
      expect(f).toThrow(WebannoloError);
      expect(f).toThrow(pattern);
    };
    bad(() => new RabitqQuantizer({ bits: 0 }), /rabitq bits must be an integer in \[1, 8\], got 0/);
    bad(() => new RabitqQuantizer({ bits: 9 }), /rabitq bits must be an integer in \[1, 8\], got 9/);
    bad(() => new RabitqQuantizer({ bits: 1.5 }), /rabitq bits/);
    bad(() => new RabitqQuantizer({ epsilon0: -1 }), /epsilon0 must be a positive number/);
    bad(() => new RabitqQuantizer().encode(gaussian(10, 4, 1), 'l2'), /RaBitQ needs dimension >= 8, the data has 4/);
    const q = new RabitqQuantizer();
    q.encode(gaussian(10, 16, 1), 'l2');
    bad(() => q.encode(gaussian(10, 32, 1), 'l2'), /trained on dimension 16, the data has 32/);
  });
});

describe('RaBitQ on the command line', () => {
  it('build --quantizer rabitq --bits 2, info shows bytes per vector, search --rerank reaches recall', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webannolo-rabitq-cli-'));
    try {
      const p = (name: string) => join(dir, name);
      const base = gaussian(2000, 48, 31);
      const queries = gaussian(40, 48, 32);
      await writeFile(p('base.fvecs'), writeFvecs(base));
      await writeFile(p('queries.fvecs'), writeFvecs(queries));
      const truth = await FlatIndex.build(base, { metric: 'l2' }).searchBatch(queries, 10);
      await writeFile(p('gt.ivecs'), writeIvecs(queries.size, 10, truth.ids));
      const built = await cli(
        'build',
        '--data',
        p('base.fvecs'),
        '--metric',
        'l2',
        '--quantizer',
        'rabitq',
        '--bits',
        '2',
        '--out',
        p('r.idx'),
        '--quiet',
      );
      expectOk(built);
      expect(lastJson(built)).toMatchObject({ quantizer: 'rabitq', rabitqBits: 2, keepPlain: true });
      const info = await cli('info', '--index', p('r.idx'));
      expectOk(info);
      // 48-d pads to 128 components: 2 x 128 bits = 32 bytes of code, and five f32 factors.
      expect(lastJson(info)['quantizer']).toEqual({ kind: 'rabitq', bits: 2, codeBytesPerVector: 32, factorBytesPerVector: 20 });
      expect(info.stdout).toMatch(/rabitq: 2 bit\(s\) per rotated component \(codes 32\.0 B\/vector \+ factors 20\.0 B\/vector\)/);
      const search = await cli(
        'search',
        '--index',
        p('r.idx'),
        '--queries',
        p('queries.fvecs'),
        '--k',
        '10',
        '--ef',
        '100',
        '--rerank',
        '100',
        '--groundtruth',
        p('gt.ivecs'),
      );
      expectOk(search);
      expect(lastJson(search)['recall']).toBeGreaterThanOrEqual(0.95);
      expectOneLineError(
        await cli('build', '--data', p('base.fvecs'), '--metric', 'l2', '--bits', '2', '--out', p('x.idx')),
        /--bits only applies to --quantizer rabitq/,
      );
      expectOneLineError(
        await cli('build', '--data', p('base.fvecs'), '--metric', 'l2', '--quantizer', 'rabitq', '--bits', '9', '--out', p('x.idx')),
        /bits/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeWorkers,
  type DenseDataset,
  deserializeIndex,
  HnswIndex,
  PlainDenseStore,
  ProductQuantizer,
  QueryBatcher,
  RabitqQuantizer,
  type RerankCodes,
  recallAtK,
  ScalarQuantizer,
  serializeIndex,
  WebannoloError,
} from '../src/index.js';
import { writeFvecs, writeIvecs } from '../src/io/vecs.js';
import { closeIndex, loadIndexFile, saveIndexFile } from '../src/node/index.js';
import { cli, expectOk, expectOneLineError, lastJson } from './helpers/cli.js';
import { loadMnistWithTruth } from './helpers/data.js';
import { describeGpu, gpu } from './helpers/gpu.js';

// Re-ranking a quantized search from the plain f32 vectors or from f16 / SQ8 codes of them
// (quantize's rerankCodes), through files, changes and every search route; and the count of
// candidates re-ranking scored (SearchResult.reranked, BatchSearchResult.reranked).

const N = 4000;
const NQ = 100;
const EF = 64;
const RERANK = 64;
const CODES: readonly RerankCodes[] = ['f32', 'f16', 'sq8'];

let base: DenseDataset;
let queries: DenseDataset;
let gt: Awaited<ReturnType<typeof loadMnistWithTruth>>['gt'];
let plain: HnswIndex;
const rabitq = new Map<RerankCodes, HnswIndex>();
let dir: string;

beforeAll(async () => {
  ({ base, queries, gt } = await loadMnistWithTruth(N, NQ));
  plain = await HnswIndex.buildAsync(base, { metric: 'l2', m: 16, efConstruction: 100, threads: 2 });
  // One quantizer: every index searches the same codes, only the re-ranking store differs.
  const q = new RabitqQuantizer({ bits: 1 });
  for (const codes of CODES) rabitq.set(codes, plain.quantize(q, { rerankCodes: codes }));
  dir = await mkdtemp(join(tmpdir(), 'webannolo-rerank-sources-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await closeWorkers();
});

const indexOf = (codes: RerankCodes) => rabitq.get(codes)!;
const params = { ef: EF, rerank: RERANK };

describe('re-ranking a RaBitQ search from f32, f16 or sq8', () => {
  it('keeps the store asked for, at its size, and reaches the recall of f32 re-ranking', async () => {
    const dim = base.dim;
    expect(indexOf('f32').rerankStore).toBe(plain.store);
    expect(indexOf('f16').rerankStore?.kind).toBe('f16');
    expect(indexOf('sq8').rerankStore?.kind).toBe('sq8');
    expect(indexOf('f32').memory.rerankBytes).toBe(N * dim * 4);
    expect(indexOf('f16').memory.rerankBytes).toBe(N * dim * 2);
    // SQ8: a byte per component, and a min and a scale per dimension.
    expect(indexOf('sq8').memory.rerankBytes).toBe(N * dim + dim * 8);

    const recall = new Map<RerankCodes, number>();
    for (const codes of CODES) {
      const r = await indexOf(codes).searchBatch(queries, 10, { ...params, threads: 1 });
      recall.set(codes, recallAtK(r.ids, 10, gt));
    }
    const plainRecall = recallAtK((await plain.searchBatch(queries, 10, { ef: EF, threads: 1 })).ids, 10, gt);
    const codesOnly = recallAtK((await indexOf('f32').searchBatch(queries, 10, { ef: EF, threads: 1 })).ids, 10, gt);
    // f32 re-ranking brings 1-bit codes to the plain index's recall; f16 and sq8 stay close to it.
    expect(recall.get('f32')!).toBeGreaterThanOrEqual(plainRecall - 0.02);
    expect(recall.get('f16')!).toBeGreaterThanOrEqual(recall.get('f32')! - 0.02);
    expect(recall.get('sq8')!).toBeGreaterThanOrEqual(recall.get('f32')! - 0.03);
    for (const codes of CODES) expect(recall.get(codes)!).toBeGreaterThan(codesOnly + 0.05);
  });

  it('refuses options that contradict each other, and quantizing codes again', () => {
    const q = new ScalarQuantizer('sq8');
    const refuses = (f: () => unknown, pattern: RegExp) => {
      expect(f).toThrow(WebannoloError);
      expect(f).toThrow(pattern);
    };
    refuses(() => plain.quantize(q, { keepPlain: false, rerankCodes: 'f16' }), /rerankCodes 'f16' asks for a re-ranking store/);
    refuses(() => plain.quantize(q, { rerankCodes: 'bf16' as never }), /rerankCodes must be 'f32', 'f16', 'sq8', got bf16/);
    refuses(
      () => plain.quantize(q, { rerankCode: 'f16' } as never),
      /quantize: unknown option 'rerankCode'; valid options: keepPlain, rerankCodes/,
    );
    refuses(() => indexOf('f16').quantize(q), /needs the plain vectors: this index keeps f16 codes of them only/);
    expect(plain.quantize(q, { keepPlain: false }).rerankStore).toBeNull();
  });
});

describe('the candidates re-ranked, as results report them', () => {
  it('RaBitQ: per query > 0 and at most the candidates, fewer in all; equal in search and searchBatch on 1 and 2 threads', async () => {
    for (const codes of CODES) {
      const index = indexOf(codes);
      const one = await index.searchBatch(queries, 10, { ...params, threads: 1 });
      const two = await index.searchBatch(queries, 10, { ...params, threads: 2 });
      expect(two.threads).toBe(2);
      const single = Array.from({ length: NQ }, (_, q) => index.search(queries.get(q), 10, params).reranked);
      const reranked = Array.from(one.reranked!);
      expect(reranked).toHaveLength(NQ);
      for (const n of reranked) {
        expect(n).toBeGreaterThanOrEqual(10);
        expect(n).toBeLessThanOrEqual(RERANK);
      }
      expect(Array.from(two.reranked!)).toEqual(reranked);
      expect(single).toEqual(reranked);
      // The bounds rule out most candidates: well under the 64 each query could score.
      expect(reranked.reduce((s, n) => s + n, 0)).toBeLessThan((RERANK * NQ) / 2);
      // Without re-ranking there is nothing to count.
      expect(index.search(queries.get(0), 10, { ef: EF }).reranked).toBeUndefined();
      expect((await index.searchBatch(queries, 10, { ef: EF, threads: 1 })).reranked).toBeUndefined();
    }
  });

  it('SQ8 and PQ (no bounds): every candidate of max(rerank, k), capped by those the beam found', async () => {
    const sq8 = plain.quantize(new ScalarQuantizer('sq8'));
    const pq = plain.quantize(new ProductQuantizer({ m: 49, trainSample: 1000, maxIterations: 3, seed: 1 }));
    for (const index of [sq8, pq]) {
      for (const [k, rerank, ef] of [
        [10, 32, 64],
        [10, 5, 64],
        [10, 64, 64],
      ] as const) {
        const expected = Math.max(rerank, k);
        const batch = await index.searchBatch(queries, k, { ef, rerank, threads: 2 });
        expect(Array.from(batch.reranked!)).toEqual(new Array(NQ).fill(expected));
        expect(index.search(queries.get(1), k, { ef, rerank }).reranked).toBe(expected);
      }
    }
    // A filter that lets 5 items through leaves 5 candidates to re-rank.
    const five = { where: (id: number | string) => (id as number) < 5 };
    expect(sq8.search(queries.get(0), 10, { ef: 64, rerank: 32, filter: five }).reranked).toBe(5);
    const filtered = await sq8.searchBatch(queries, 10, { ef: 64, rerank: 32, filter: five, threads: 2 });
    expect(Array.from(filtered.reranked!)).toEqual(new Array(NQ).fill(5));
  });

  it('QueryBatcher gives each call its own count', async () => {
    const index = indexOf('f16');
    const batcher = new QueryBatcher(index, { maxBatch: 8, maxWaitMs: 5 });
    try {
      const calls = await Promise.all(Array.from({ length: 8 }, (_, q) => batcher.search(queries.get(q), 10, params)));
      for (let q = 0; q < 8; q++) expect(calls[q]!.reranked).toBe(index.search(queries.get(q), 10, params).reranked);
    } finally {
      await batcher.close();
    }
  });
});

describe('re-ranking codes through index files', () => {
  it('round-trip in memory and through Node files (whole and streamed) with the same results', async () => {
    for (const codes of CODES) {
      const index = indexOf(codes);
      const want = await index.searchBatch(queries, 10, { ...params, threads: 1 });
      const path = join(dir, `rabitq-${codes}.idx`);
      await saveIndexFile(index, path);
      const copies = [
        deserializeIndex(serializeIndex(index)) as HnswIndex,
        (await loadIndexFile(path)) as HnswIndex,
        (await loadIndexFile(path, { stream: true, chunkBytes: 1 << 16 })) as HnswIndex,
      ];
      for (const copy of copies) {
        expect(copy.rerankStore?.kind).toBe(index.rerankStore!.kind);
        expect(copy.memory.rerankBytes).toBe(index.memory.rerankBytes);
        const got = await copy.searchBatch(queries, 10, { ...params, threads: 1 });
        expect(Array.from(got.ids)).toEqual(Array.from(want.ids));
        expect(Array.from(got.scores)).toEqual(Array.from(want.scores));
        expect(Array.from(got.reranked!)).toEqual(Array.from(want.reranked!));
      }
    }
  });

  it("rerank 'disk' reads f32 rows from the file with the results of memory, and refuses f16 / sq8 codes clearly", async () => {
    const path = join(dir, 'rabitq-f32.idx');
    await saveIndexFile(indexOf('f32'), path);
    const onDisk = (await loadIndexFile(path, { rerank: 'disk' })) as HnswIndex;
    try {
      // The rows stay in the file: the store is no plain in-memory one.
      expect(onDisk.rerankStore?.kind).toBe('dense');
      expect(onDisk.rerankStore).not.toBeInstanceOf(PlainDenseStore);
      const want = await indexOf('f32').searchBatch(queries, 10, { ...params, threads: 1 });
      const got = await onDisk.searchBatch(queries, 10, { ...params, threads: 2 });
      expect(Array.from(got.ids)).toEqual(Array.from(want.ids));
      expect(Array.from(got.scores)).toEqual(Array.from(want.scores));
      expect(Array.from(got.reranked!)).toEqual(Array.from(want.reranked!));
    } finally {
      closeIndex(onDisk);
    }
    for (const codes of ['f16', 'sq8'] as const) {
      const p = join(dir, `rabitq-${codes}-disk.idx`);
      await saveIndexFile(indexOf(codes), p);
      const error = await loadIndexFile(p, { rerank: 'disk' }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(WebannoloError);
      expect((error as WebannoloError).code).toBe('INVALID_ARGUMENT');
      expect((error as WebannoloError).message).toContain(
        `rerank 'disk' reads plain f32 vectors from the file, and this index re-ranks with ${codes} codes`,
      );
    }
  });
});

describe('a living index that re-ranks from codes', () => {
  it('encodes added items into its re-ranking store, finds them, forgets removed ones, compacts and changes layout', async () => {
    const { base: more } = await loadMnistWithTruth(N + 60, 1);
    const extra = Array.from({ length: 60 }, (_, i) => more.get(N + i));
    for (const codes of ['f16', 'sq8'] as const) {
      const index = plain.quantize(new RabitqQuantizer({ bits: 1 }), { rerankCodes: codes });
      const added = index.add(extra);
      expect(index.rerankStore?.kind).toBe(codes);
      expect(index.rerankStore?.size).toBe(index.capacity);
      for (let i = 0; i < extra.length; i += 6) {
        const hit = index.search(extra[i]!, 10, params);
        expect(hit.ids[0]).toBe(added[i]);
        expect(hit.reranked).toBeGreaterThan(0);
      }
      index.remove([added[0]!, 7]);
      expect(Array.from(index.search(extra[0]!, 10, params).ids)).not.toContain(added[0]);
      await index.compact({ threads: 2 });
      expect(index.rerankStore?.kind).toBe(codes);
      expect(index.capacity).toBe(N + 58);
      // Without keys compaction renumbers the items: the added item is found by its distance,
      // about 0 (its own codes) against a nearest other item far away.
      const hit = index.search(extra[6]!, 2, params);
      expect(hit.scores[0]!).toBeLessThan(hit.scores[1]! / 20);
      // The same items in insertion order: the re-ranking codes move with them.
      const insertion = index.withLayout('insertion');
      expect(insertion.rerankStore?.kind).toBe(codes);
      const a = await index.searchBatch(queries, 10, { ...params, threads: 2 });
      const b = await insertion.searchBatch(queries, 10, { ...params, threads: 2 });
      expect(recallAtK(b.ids, 10, gt)).toBeCloseTo(recallAtK(a.ids, 10, gt), 1);
    }
  });
});

describe('re-ranking codes on the command line', () => {
  let p: (name: string) => string;
  beforeAll(async () => {
    p = (name: string) => join(dir, name);
    await writeFile(p('base.fvecs'), writeFvecs(base));
    await writeFile(p('queries.fvecs'), writeFvecs(queries));
    await writeFile(p('gt.ivecs'), writeIvecs(NQ, 10, gt.data));
  });

  const build = (out: string, ...flags: string[]) =>
    cli('build', '--data', p('base.fvecs'), '--metric', 'l2', '--out', p(out), '--quiet', ...flags);
  const search = (index: string, ...flags: string[]) =>
    cli('search', '--index', p(index), '--queries', p('queries.fvecs'), '--groundtruth', p('gt.ivecs'), '--ef', '64', ...flags);

  it('build --quantizer rabitq --rerank-codes f32|f16|sq8; info shows the store; search --rerank from memory and disk', async () => {
    for (const codes of CODES) {
      const built = await build(`cli-${codes}.idx`, '--ef-construction', '100', '--quantizer', 'rabitq', '--rerank-codes', codes);
      expectOk(built);
      expect(lastJson(built)).toMatchObject({ quantizer: 'rabitq', keepPlain: true, rerankCodes: codes });
      const info = await cli('info', '--index', p(`cli-${codes}.idx`));
      expectOk(info);
      const kind = codes === 'f32' ? 'dense' : codes;
      const perVector = { f32: 784 * 4, f16: 784 * 2, sq8: 784 + (784 * 8) / N }[codes];
      expect(lastJson(info)).toMatchObject({ rerank: kind });
      expect(info.stdout).toContain(`re-rank store   ${kind} (`);
      expect(info.stdout).toContain(`${perVector.toFixed(1)} B/vector)`);
      const fromMemory = await search(`cli-${codes}.idx`, '--rerank', '64');
      expectOk(fromMemory);
      const json = lastJson(fromMemory);
      expect(json['recall']).toBeGreaterThanOrEqual(0.9);
      expect(json['rerankedPerQuery']).toBeGreaterThan(10);
      expect(json['rerankedPerQuery']).toBeLessThan(64);
      const batched = await search(`cli-${codes}.idx`, '--rerank', '64', '--batch', '50', '--threads', '2');
      expectOk(batched);
      expect(lastJson(batched)['rerankedPerQuery']).toBe(json['rerankedPerQuery']);
      expect(lastJson(batched)['recall']).toBe(json['recall']);
    }
    const fromDisk = await search('cli-f32.idx', '--rerank', '64', '--rerank-from', 'disk');
    expectOk(fromDisk);
    expect(lastJson(fromDisk)['recall']).toBe(lastJson(await search('cli-f32.idx', '--rerank', '64'))['recall']);
    expectOneLineError(
      await search('cli-f16.idx', '--rerank', '64', '--rerank-from', 'disk'),
      /rerank 'disk' reads plain f32 vectors from the file, and this index re-ranks with f16 codes: re-rank from memory/,
    );
  });

  it('refuses --rerank-codes where it does not apply', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['--quantizer', 'rabitq', '--rerank-codes', 'f16', '--keep-plain', 'false'],
        /--rerank-codes keeps a re-ranking store and --keep-plain false keeps none/,
      ],
      [['--rerank-codes', 'f16'], /--rerank-codes only applies with --quantizer f16, sq8, pq or rabitq/],
      [['--quantizer', 'rabitq', '--index-type', 'flat', '--rerank-codes', 'f16'], /--rerank-codes only applies to --index-type hnsw/],
      [['--quantizer', 'sq8', '--rerank-codes', 'sq8'], /--rerank-codes sq8 re-scores with the codes the search already used/],
      [['--quantizer', 'rabitq', '--rerank-codes', 'bf16'], /rerank-codes/],
    ];
    for (const [flags, pattern] of cases) expectOneLineError(await build('never.idx', ...flags), pattern, 2);
    // f16 keeps no re-ranking store by default; --rerank-codes asks for one.
    const f16 = await build('f16-sq8.idx', '--ef-construction', '40', '--quantizer', 'f16', '--rerank-codes', 'sq8');
    expectOk(f16);
    expect(lastJson(f16)).toMatchObject({ quantizer: 'f16', keepPlain: true, rerankCodes: 'sq8' });
  });
});

describeGpu('the candidates re-ranked on the GPU routes', () => {
  it('resident and hybrid count each query like the CPU: max(rerank, k) of an SQ8 search, re-ranked from f16 codes', async () => {
    const index = plain.quantize(new ScalarQuantizer('sq8'), { rerankCodes: 'f16' });
    const few = Array.from({ length: 16 }, (_, q) => queries.get(q));
    for (const gpuMode of ['resident', 'hybrid'] as const) {
      const r = await index.searchBatch(few, 10, { ef: 64, rerank: 32, backend: 'gpu', gpu: gpu!, gpuMode });
      expect(r.gpuMode).toBe(gpuMode);
      expect(Array.from(r.reranked!)).toEqual(new Array(16).fill(32));
    }
  });
});

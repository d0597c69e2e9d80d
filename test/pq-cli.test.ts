import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DenseDataset } from '../src/data/dense.js';
import { SparseDataset } from '../src/data/sparse.js';
import { WebannoloError } from '../src/errors.js';
import { closeWorkers } from '../src/index.js';
import { FlatIndex } from '../src/indexes/flat.js';
import type { HnswIndex } from '../src/indexes/hnsw/hnsw-index.js';
import { readContainerHeader } from '../src/io/container.js';
import { writeCsr } from '../src/io/csr.js';
import { readIvecs, writeFvecs, writeIvecs } from '../src/io/vecs.js';
import { DiskDenseStore } from '../src/node/disk-store.js';
import { closeIndex, loadIndexFile, saveIndexFile } from '../src/node/index-files.js';
import { PlainDenseStore } from '../src/quant/dense/store.js';
import { cli, cliOn, expectOk, expectOneLineError, lastJson, rng } from './helpers/cli.js';
import { rowsInSlots } from './helpers/slots.js';

const N = 3000;
const DIM = 32;
const NQ = 50;
const PQ_M = 8;

/** Points around 40 random centres: the structure PQ codebooks can learn. */
function clustered(n: number, seed: number): DenseDataset {
  const centres = rng(99);
  const c = Float32Array.from({ length: 40 * DIM }, () => centres() * 4 - 2);
  const r = rng(seed);
  const data = new Float32Array(n * DIM);
  for (let i = 0; i < n; i++) {
    const k = Math.floor(r() * 40);
    for (let d = 0; d < DIM; d++) data[i * DIM + d] = c[k * DIM + d]! + (r() + r() + r() - 1.5) * 0.6;
  }
  return new DenseDataset(data, DIM);
}

let dir = '';
const p = (name: string) => join(dir, name);
let base: DenseDataset;
let queries: DenseDataset;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'webannolo-pq-cli-'));
  base = clustered(N, 1);
  queries = clustered(NQ, 2);
  await writeFile(p('base.fvecs'), writeFvecs(base));
  await writeFile(p('queries.fvecs'), writeFvecs(queries));
  const truth = await FlatIndex.build(base, { metric: 'l2' }).searchBatch(queries, 10);
  await writeFile(p('gt.ivecs'), writeIvecs(NQ, 10, truth.ids));
  const r = rng(5);
  const rows = Array.from({ length: 300 }, () => ({ indices: Uint32Array.from([1, 7, 20]), values: Float32Array.from([r(), r(), r()]) }));
  await writeFile(p('base.csr'), writeCsr(SparseDataset.fromRows(rows, 64)));
  const built = await cli(
    'build',
    '--data',
    p('base.fvecs'),
    '--metric',
    'l2',
    '--out',
    p('pq.idx'),
    '--m',
    '12',
    '--ef-construction',
    '80',
    '--quantizer',
    'pq',
    '--pq-m',
    String(PQ_M),
    '--pq-train-sample',
    '2000',
    '--pq-iterations',
    '8',
  );
  if (built.code !== 0) throw new Error(`setup build failed: ${built.stderr}`);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const pqBuild = (out: string, ...extra: string[]) =>
  cli(
    'build',
    '--data',
    p('base.fvecs'),
    '--metric',
    'l2',
    '--out',
    p(out),
    '--m',
    '12',
    '--ef-construction',
    '80',
    '--quantizer',
    'pq',
    '--pq-m',
    String(PQ_M),
    '--pq-train-sample',
    '2000',
    '--pq-iterations',
    '8',
    ...extra,
  );
const search = (index: string, ...extra: string[]) =>
  cli('search', '--index', p(index), '--queries', p('queries.fvecs'), '--k', '10', '--ef', '120', '--groundtruth', p('gt.ivecs'), ...extra);

describe('CLI with product quantization', () => {
  it('build --quantizer pq reports the quantizer and every part in bytes', async () => {
    const b = await cliOn(true, [
      'build',
      '--data',
      p('base.fvecs'),
      '--metric',
      'l2',
      '--out',
      p('pq2.idx'),
      '--m',
      '12',
      '--ef-construction',
      '80',
      '--quantizer',
      'pq',
      '--pq-m',
      String(PQ_M),
      '--pq-train-sample',
      '2000',
      '--pq-iterations',
      '8',
    ]);
    expectOk(b);
    // On a terminal: a bar per step, training first (one tick per subspace), then the graph.
    expect(b.stderr).toMatch(/pq training \[#+\] 100% 8\/8/);
    expect(b.stderr.indexOf('pq training')).toBeLessThan(b.stderr.indexOf('build ['));
    const bj = lastJson(b);
    expect(bj).toMatchObject({
      items: N,
      dim: DIM,
      index: 'hnsw',
      quantizer: 'pq',
      pqM: PQ_M,
      pqKsub: 256,
      pqDsub: DIM / PQ_M,
      keepPlain: true,
      storeBytes: N * PQ_M + 256 * DIM * 4,
      codebookBytes: 256 * DIM * 4,
      rerankBytes: N * DIM * 4,
    });
    expect(b.stdout).toMatch(/trained PQ codebooks: m=8 subspaces of 4 dimensions, 256 centroids each, on 2000 vectors/);
    expect(b.stdout).toMatch(/PQ codes 8\.0 B\/vector/);
    // Deterministic: the same flags give the same file.
    expect(Buffer.compare(await readFile(p('pq2.idx')), await readFile(p('pq.idx')))).toBe(0);
  });

  it('info shows the quantizer parameters and bytes per vector of graph, codes, codebooks and re-rank vectors', async () => {
    const info = await cli('info', '--index', p('pq.idx'));
    expectOk(info);
    const ij = lastJson(info);
    expect(ij).toMatchObject({
      index: 'hnsw',
      store: 'pq',
      rerank: 'dense',
      n: N,
      dim: DIM,
      verified: true,
      quantizer: { kind: 'pq', m: PQ_M, ksub: 256, dsub: 4, codeBytesPerVector: PQ_M, codebookBytes: 256 * DIM * 4 },
      rerankBytes: N * DIM * 4,
      rerankBytesPerVector: DIM * 4,
    });
    const per = ij['bytesPerVector'] as Record<string, number>;
    expect(per['codes']).toBe(PQ_M);
    expect(per['rerank']).toBe(DIM * 4);
    expect(per['graph']).toBeGreaterThan(0);
    expect(info.stdout).toMatch(/quantizer\s+pq: m=8, ksub=256, dsub=4/);
    expect(info.stdout).toMatch(/store 8\.0 \(PQ codes\) \+ codebooks 32\.0 KiB/);
    expect(info.stdout).toMatch(/rerank 128\.0/);
  });

  it('search: re-ranking raises recall; memory and disk give identical ids, single and batched', async () => {
    const plain = await search('pq.idx');
    expectOk(plain);
    const pj = lastJson(plain);
    expect(pj).not.toHaveProperty('rerank');
    const mem = await search('pq.idx', '--rerank', '100', '--out', p('mem.ivecs'));
    expectOk(mem);
    const mj = lastJson(mem);
    expect(mj).toMatchObject({ rerank: 100, rerankFrom: 'memory', index: 'hnsw' });
    expect(mj['recall'] as number).toBeGreaterThan(pj['recall'] as number);
    expect(mj['recall'] as number).toBeGreaterThanOrEqual(0.9);
    const disk = await search('pq.idx', '--rerank', '100', '--rerank-from', 'disk', '--out', p('disk.ivecs'));
    expectOk(disk);
    expect(lastJson(disk)).toMatchObject({ rerank: 100, rerankFrom: 'disk', recall: mj['recall'] });
    expect(disk.stdout).toContain('read from disk');
    const batched = await search('pq.idx', '--rerank', '100', '--rerank-from', 'disk', '--batch', '16', '--out', p('disk-b.ivecs'));
    expectOk(batched);
    const mine = readIvecs(await readFile(p('mem.ivecs')));
    expect(readIvecs(await readFile(p('disk.ivecs'))).data).toEqual(mine.data);
    expect(readIvecs(await readFile(p('disk-b.ivecs'))).data).toEqual(mine.data);
  });

  it('a flat index over PQ codes scans them exhaustively', async () => {
    const b = await cli(
      'build',
      '--data',
      p('base.fvecs'),
      '--metric',
      'l2',
      '--out',
      p('flat-pq.idx'),
      '--index-type',
      'flat',
      '--quantizer',
      'pq',
      '--pq-m',
      '16',
      '--pq-train-sample',
      '2000',
      '--pq-iterations',
      '8',
    );
    expectOk(b);
    expect(lastJson(b)).toMatchObject({
      index: 'flat',
      quantizer: 'pq',
      pqM: 16,
      storeBytes: N * 16 + 256 * DIM * 4,
      rerankBytes: 0,
      keepPlain: false,
    });
    const s = await search('flat-pq.idx');
    expectOk(s);
    expect(lastJson(s)).toMatchObject({ index: 'flat', ef: null });
    expect(lastJson(s)['recall'] as number).toBeGreaterThan(0.5);
    expect(lastJson(await cli('info', '--index', p('flat-pq.idx')))).toMatchObject({
      store: 'pq',
      quantizer: { m: 16, dsub: 2 },
      rerank: null,
    });
    expectOneLineError(await search('flat-pq.idx', '--rerank', '50'), /--rerank applies to hnsw indexes/, 1);
  });

  it('errors: m that does not divide the dimension, missing --pq-m, sparse data, misplaced flags', async () => {
    expectOneLineError(
      await cli('build', '--data', p('base.fvecs'), '--metric', 'l2', '--out', p('bad.idx'), '--quantizer', 'pq', '--pq-m', '7'),
      /PQ m = 7 does not divide the dimension 32/,
      1,
    );
    expectOneLineError(
      await cli('build', '--data', p('base.fvecs'), '--metric', 'l2', '--out', p('bad.idx'), '--quantizer', 'pq'),
      /needs --pq-m/,
      2,
    );
    expectOneLineError(
      await cli('build', '--data', p('base.csr'), '--metric', 'ip', '--out', p('bad.idx'), '--quantizer', 'pq', '--pq-m', '8'),
      /base\.csr holds sparse vectors: product quantization .*needs dense vectors/,
      1,
    );
    expectOneLineError(
      await cli('build', '--data', p('base.fvecs'), '--metric', 'l2', '--out', p('bad.idx'), '--pq-m', '8'),
      /--pq-m only applies to --quantizer pq/,
      2,
    );
    expectOneLineError(
      await cli(
        'build',
        '--data',
        p('base.fvecs'),
        '--metric',
        'l2',
        '--out',
        p('bad.idx'),
        '--index-type',
        'flat',
        '--quantizer',
        'pq',
        '--pq-m',
        '8',
        '--keep-plain',
        'true',
      ),
      /--keep-plain only applies to --index-type hnsw/,
      2,
    );
    expectOneLineError(await search('pq.idx', '--rerank-from', 'disk'), /--rerank-from only applies with --rerank/, 2);
    expect(existsSync(p('bad.idx'))).toBe(false);
  });

  it('--rerank on an index built with --keep-plain false fails clearly, from memory and from disk', async () => {
    const b = await pqBuild('noplain.idx', '--keep-plain', 'false');
    expectOk(b);
    expect(lastJson(b)).toMatchObject({ keepPlain: false, rerankBytes: 0 });
    const info = lastJson(await cli('info', '--index', p('noplain.idx')));
    expect(info).toMatchObject({ rerank: null, rerankBytes: 0 });
    expect(await readFile(p('noplain.idx')).then((x) => x.length)).toBeLessThan((await readFile(p('pq.idx'))).length - N * DIM * 4 + 8);
    for (const from of ['memory', 'disk']) {
      expectOneLineError(
        await search('noplain.idx', '--rerank', '50', '--rerank-from', from),
        /noplain\.idx: rerank needs the plain vectors: this index does not keep them/,
        1,
      );
    }
    expectOk(await search('noplain.idx'));
  });
});

describe('loadIndexFile with re-ranking vectors on disk', () => {
  const errorCode = async (fn: () => Promise<unknown>) =>
    fn().then(
      () => null,
      (e: unknown) => (e instanceof WebannoloError ? e.code : String(e)),
    );
  const openFds = () => (existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd').length : 0);

  it('gives the same results as memory, holds no vectors, and closes', async () => {
    // Worker threads hold descriptors of their own: count without them.
    await closeWorkers();
    const fdsBefore = openFds();
    const mem = (await loadIndexFile(p('pq.idx'))) as HnswIndex;
    const disk = (await loadIndexFile(p('pq.idx'), { rerank: 'disk' })) as HnswIndex;
    expect(disk.rerankStore).toBeInstanceOf(DiskDenseStore);
    expect(mem.rerankStore).toBeInstanceOf(PlainDenseStore);
    expect(disk.memory.rerankBytes).toBe(0);
    expect((disk.rerankStore as DiskDenseStore).diskBytes).toBe(N * DIM * 4);
    expect(disk.memory.storeBytes).toBe(mem.memory.storeBytes);
    for (const rerank of [10, 60]) {
      const a = await mem.searchBatch(queries, 10, { ef: 80, rerank });
      const b = await disk.searchBatch(queries, 10, { ef: 80, rerank });
      expect(b.ids).toEqual(a.ids);
      for (let i = 0; i < a.scores.length; i++) expect(b.scores[i]).toBeCloseTo(a.scores[i]!, 2);
      for (let q = 0; q < 5; q++)
        expect(disk.search(queries.get(q), 10, { ef: 80, rerank }).ids).toEqual(a.ids.subarray(q * 10, q * 10 + 10));
    }
    // Streamed into memory (what files over 1 GiB do): the same index, sections in their places.
    const streamed = (await loadIndexFile(p('pq.idx'), { stream: true, chunkBytes: 1001 })) as HnswIndex;
    expect(streamed.rerankStore).toBeInstanceOf(PlainDenseStore);
    expect((streamed.rerankStore as PlainDenseStore).vectors).toEqual((mem.rerankStore as PlainDenseStore).vectors);
    expect((await streamed.searchBatch(queries, 10, { ef: 80, rerank: 30 })).ids).toEqual(
      (await mem.searchBatch(queries, 10, { ef: 80, rerank: 30 })).ids,
    );
    // Small chunks: sections straddle the reads of the checksum pass.
    const chunky = (await loadIndexFile(p('pq.idx'), { rerank: 'disk', chunkBytes: 1001 })) as HnswIndex;
    const c = await chunky.searchBatch(queries, 10, { ef: 80, rerank: 30 });
    expect(c.ids).toEqual((await mem.searchBatch(queries, 10, { ef: 80, rerank: 30 })).ids);
    // Saving an index loaded this way writes the vectors back from the file.
    await saveIndexFile(chunky, p('resaved.idx'));
    closeIndex(chunky);
    const resaved = (await loadIndexFile(p('resaved.idx'))) as HnswIndex;
    expect((resaved.rerankStore as PlainDenseStore).vectors).toEqual(rowsInSlots(resaved, base).data);
    expect((await resaved.searchBatch(queries, 10, { ef: 80, rerank: 30 })).ids).toEqual(c.ids);
    closeIndex(disk);
    expect((disk.rerankStore as DiskDenseStore).closed).toBe(true);
    expect(() => disk.search(queries.get(0), 10, { rerank: 20 })).toThrow(/closed/);
    await closeWorkers();
    if (fdsBefore > 0) expect(openFds()).toBe(fdsBefore);
  });

  it('the disk store scores unsorted, repeated and adjacent ids exactly', async () => {
    const disk = (await loadIndexFile(p('pq.idx'), { rerank: 'disk' })) as HnswIndex;
    const store = disk.rerankStore as DiskDenseStore;
    // The store holds the rows in the index's slot order (the locality layout).
    const ref = new PlainDenseStore(rowsInSlots(disk, base), 'l2', { simd: false });
    const ids = Uint32Array.from([2999, 5, 6, 7, 5, 0, 1500, 8, 2998]);
    const got = new Float64Array(ids.length);
    const want = new Float64Array(ids.length);
    store.queryEvaluator(queries.get(3)).distances(ids, ids.length, got);
    ref.queryEvaluator(queries.get(3)).distances(ids, ids.length, want);
    expect(got).toEqual(want);
    expect(store.itemDistance(4, 9)).toBe(ref.itemDistance(4, 9));
    expect(store.itemEvaluator(11).distance(12)).toBe(ref.itemDistance(11, 12));
    expect(store.vectors).toEqual(rowsInSlots(disk, base).data);
    expect(() => store.queryEvaluator(queries.get(0)).distance(N)).toThrow(/out of range/);
    closeIndex(disk);
  });

  it('a damaged byte inside the re-ranking section is still caught by the checksum', async () => {
    const good = new Uint8Array(await readFile(p('pq.idx')));
    const entry = readContainerHeader(good).sections!.find((e) => e.name === 'rerank.vectors')!;
    const bad = good.slice();
    bad[entry.offset + Math.floor(entry.length * 2)]! ^= 0x40;
    await writeFile(p('bad-rerank.idx'), bad);
    const fdsBefore = openFds();
    expect(await errorCode(() => loadIndexFile(p('bad-rerank.idx'), { rerank: 'disk' }))).toBe('CORRUPT_FILE');
    expect(await errorCode(() => loadIndexFile(p('bad-rerank.idx'), { rerank: 'disk', chunkBytes: 4096 }))).toBe('CORRUPT_FILE');
    expect(await errorCode(() => loadIndexFile(p('pq.idx'), { rerank: 'disk', chunkBytes: 4096 }).then(closeIndex))).toBeNull();
    expect(await errorCode(() => loadIndexFile(p('bad-rerank.idx')))).toBe('CORRUPT_FILE');
    expect(await errorCode(() => loadIndexFile(p('bad-rerank.idx'), { stream: true }))).toBe('CORRUPT_FILE');
    await writeFile(p('cut.idx'), good.subarray(0, good.length - 50));
    expect(await errorCode(() => loadIndexFile(p('cut.idx'), { rerank: 'disk' }))).toBe('TRUNCATED_FILE');
    expect(await errorCode(() => loadIndexFile(p('cut.idx'), { stream: true }))).toBe('TRUNCATED_FILE');
    await writeFile(p('cut-header.idx'), good.subarray(0, 40));
    expect(await errorCode(() => loadIndexFile(p('cut-header.idx'), { rerank: 'disk' }))).toBe('TRUNCATED_FILE');
    await writeFile(p('foreign.idx'), new TextEncoder().encode('definitely not an index file'));
    expect(await errorCode(() => loadIndexFile(p('foreign.idx'), { rerank: 'disk' }))).toBe('FOREIGN_FILE');
    expect(await errorCode(() => loadIndexFile(p('missing.idx'), { rerank: 'disk' }))).toBe('INVALID_ARGUMENT');
    if (fdsBefore > 0) expect(openFds()).toBe(fdsBefore);
    const viaCli = await search('bad-rerank.idx', '--rerank', '50', '--rerank-from', 'disk');
    expectOneLineError(viaCli, /bad-rerank\.idx: .*checksum mismatch/, 1);
  });

  it('indexes without re-ranking vectors load the same with rerank: disk', async () => {
    // Built by the CLI tests above; rebuilt when this test runs alone.
    if (!existsSync(p('flat-pq.idx'))) {
      expectOk(
        await cli(
          'build',
          '--data',
          p('base.fvecs'),
          '--metric',
          'l2',
          '--out',
          p('flat-pq.idx'),
          '--index-type',
          'flat',
          '--quantizer',
          'pq',
          '--pq-m',
          '16',
        ),
      );
    }
    if (!existsSync(p('noplain.idx'))) expectOk(await pqBuild('noplain.idx', '--keep-plain', 'false'));
    const flat = await loadIndexFile(p('flat-pq.idx'), { rerank: 'disk' });
    expect(flat).toBeInstanceOf(FlatIndex);
    const noPlain = (await loadIndexFile(p('noplain.idx'), { rerank: 'disk' })) as HnswIndex;
    expect(noPlain.rerankStore).toBeNull();
    const ref = (await loadIndexFile(p('noplain.idx'))) as HnswIndex;
    expect(noPlain.search(queries.get(1), 10).ids).toEqual(ref.search(queries.get(1), 10).ids);
  });
});

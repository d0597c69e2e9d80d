import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { DenseDataset } from '../src/data/dense.js';
import { SparseDataset } from '../src/data/sparse.js';
import { FlatIndex } from '../src/indexes/flat.js';
import { writeCsr } from '../src/io/csr.js';
import { readIvecs, writeFvecs, writeIvecs } from '../src/io/vecs.js';
import type { Metric } from '../src/types.js';
import { cli, expectOk, expectOneLineError, lastJson, rng } from './helpers/cli.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const N = 500;
const NQ = 40;
const DIM = 16;
const SPARSE_DIM = 200;

function randomDense(n: number, dim: number, seed: number): DenseDataset {
  const r = rng(seed);
  const data = new Float32Array(n * dim);
  for (let i = 0; i < data.length; i++) data[i] = r() * 2 - 1;
  return new DenseDataset(data, dim);
}

function randomSparse(n: number, dim: number, seed: number): SparseDataset {
  const r = rng(seed);
  const rows = [];
  for (let i = 0; i < n; i++) {
    const ids = new Set<number>();
    const nnz = 3 + Math.floor(r() * 10);
    while (ids.size < nnz) ids.add(Math.floor(r() * dim));
    const indices = Uint32Array.from([...ids].sort((a, b) => a - b));
    const values = Float32Array.from(indices, () => r() + 0.1);
    rows.push({ indices, values });
  }
  return SparseDataset.fromRows(rows, dim);
}

/** Exact top-k ids of every query, as an .ivecs file. */
async function groundTruth(
  base: DenseDataset | SparseDataset,
  queries: DenseDataset | SparseDataset,
  metric: Metric,
  k: number,
): Promise<Uint8Array> {
  const r = await FlatIndex.build(base, { metric }).searchBatch(queries, k);
  return writeIvecs(queries.size, k, r.ids);
}

/** A .csr file written by hand, so that it can hold rows SparseDataset would refuse. */
function rawCsr(rows: number[][], ncol: number): Uint8Array {
  const nnz = rows.reduce((a, r) => a + r.length, 0);
  const out = new Uint8Array(24 + 8 * (rows.length + 1) + 8 * nnz);
  const v = new DataView(out.buffer);
  v.setInt32(0, rows.length, true);
  v.setInt32(8, ncol, true);
  v.setInt32(16, nnz, true);
  let at = 24;
  let acc = 0;
  v.setInt32(at, 0, true);
  for (const r of rows) {
    acc += r.length;
    at += 8;
    v.setInt32(at, acc, true);
  }
  at += 8;
  for (const r of rows) {
    for (const id of r) {
      v.setInt32(at, id, true);
      at += 4;
    }
  }
  for (let i = 0; i < nnz; i++, at += 4) v.setFloat32(at, 1, true);
  return out;
}

let dir = '';
const p = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'webannolo-cli-'));
  const base = randomDense(N, DIM, 1);
  const queries = randomDense(NQ, DIM, 2);
  await writeFile(p('base.fvecs'), writeFvecs(base));
  await writeFile(p('queries.fvecs'), writeFvecs(queries));
  await writeFile(p('gt.ivecs'), await groundTruth(base, queries, 'l2', 20));
  await writeFile(p('gt-short.ivecs'), writeIvecs(NQ - 1, 20, new Int32Array((NQ - 1) * 20)));
  await writeFile(p('queries8.fvecs'), writeFvecs(randomDense(10, 8, 3)));
  const sbase = randomSparse(N, SPARSE_DIM, 4);
  const squeries = randomSparse(NQ, SPARSE_DIM, 5);
  await writeFile(p('base.csr'), writeCsr(sbase));
  await writeFile(p('queries.csr'), writeCsr(squeries));
  await writeFile(p('sgt.ivecs'), await groundTruth(sbase, squeries, 'ip', 10));
  // Bad inputs.
  const nan = randomDense(20, DIM, 6);
  nan.data[5 * DIM + 3] = Number.NaN;
  await writeFile(p('nan.fvecs'), writeFvecs(nan));
  await writeFile(p('empty.fvecs'), new Uint8Array(0));
  await writeFile(p('data.txt'), 'not vectors\n');
  await writeFile(
    p('unsorted.csr'),
    rawCsr(
      [
        [1, 5],
        [7, 3],
      ],
      10,
    ),
  );
  await writeFile(
    p('duplicate.csr'),
    rawCsr(
      [
        [1, 5],
        [4, 4],
      ],
      10,
    ),
  );
  // Indexes and results the error tests use (each test also works alone, e.g. with -t).
  for (const argv of [
    ['build', '--data', p('base.fvecs'), '--metric', 'l2', '--m', '8', '--ef-construction', '100', '--out', p('hnsw.idx')],
    ['build', '--data', p('base.fvecs'), '--metric', 'l2', '--index-type', 'flat', '--out', p('flat.idx')],
    ['build', '--data', p('base.csr'), '--metric', 'ip', '--out', p('sparse.idx')],
    ['search', '--index', p('flat.idx'), '--queries', p('queries.fvecs'), '--out', p('res.ivecs')],
  ]) {
    const r = await cli(...argv);
    if (r.code !== 0) throw new Error(`setup: webannolo ${argv.join(' ')} failed: ${r.stderr}`);
  }
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('webannolo CLI: the main job', () => {
  it('prints usage, per-command help and the version', async () => {
    for (const argv of [[], ['help'], ['--help']]) {
      const r = await cli(...argv);
      expect(r.code).toBe(0);
      for (const c of ['build', 'search', 'eval', 'info', 'demo-mnist', 'bench']) expect(r.stdout).toContain(c);
      expect(r.stdout).toContain('--ef-construction');
    }
    const h = await cli('search', '--help');
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('--groundtruth');
    const v = await cli('--version');
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const b = await cli('bench', '--help');
    expect(b.code).toBe(0);
    expect(b.stdout).toContain('--backend');
    const out = p('bench-out');
    const run = await cli(
      'bench',
      '--backend',
      'cpu',
      '--datasets',
      'mnist',
      '--n',
      '600',
      '--nq',
      '16',
      '--efs',
      '16',
      '--batches',
      '1,16',
      '--budget',
      '5',
      '--out',
      out,
    );
    expectOk(run);
    const written = JSON.parse(await readFile(join(out, 'gpu-mnist.json'), 'utf8')) as {
      points: { mode: string; backend: string; recall: number; roundTrips: number }[];
      exact: unknown[];
    };
    expect(written.points.map((pt) => `${pt.mode}/${pt.backend}`)).toEqual(['cpu-single/cpu', 'cpu-batch/cpu', 'cpu-batch/cpu']);
    expect(written.points.every((pt) => pt.roundTrips === 0)).toBe(true);
    expect(written.points[0]!.recall).toBeGreaterThan(0.9);
    expect(written.exact).toHaveLength(1);
  });

  it('build -> info -> search (single and batched) -> eval on an HNSW index', async () => {
    const b = await cli('build', '--data', p('base.fvecs'), '--metric', 'l2', '--m', '8', '--ef-construction=100', '--out', p('hnsw2.idx'));
    expectOk(b);
    const bj = lastJson(b);
    expect(Object.keys(bj).slice(0, 7)).toEqual(['items', 'dim', 'metric', 'seconds', 'graphBytes', 'storeBytes', 'out']);
    expect(bj).toMatchObject({ items: N, dim: DIM, metric: 'l2', storeBytes: N * DIM * 4, out: p('hnsw2.idx') });
    expect(bj['graphBytes']).toBeGreaterThan(0);
    expect(b.stderr).toBe('');

    const info = await cli('info', '--index', p('hnsw2.idx'));
    expectOk(info);
    const ij = lastJson(info);
    expect(ij).toMatchObject({ index: 'hnsw', metric: 'l2', store: 'dense', n: N, dim: DIM, verified: true, layout: 'locality' });
    expect(ij['graph']).toMatchObject({ m: 8, m0: 16, efConstruction: 100, seed: 1 });
    expect(ij['graphBytes']).toBe(bj['graphBytes']);
    expect(ij['storeBytes']).toBe(N * DIM * 4);
    expect(ij['storeBytesPerVector']).toBe(DIM * 4);
    expect(info.stdout).toContain('graph.level0');

    const s = await cli(
      'search',
      '--index',
      p('hnsw2.idx'),
      '--queries',
      p('queries.fvecs'),
      '--k',
      '10',
      '--ef',
      '100',
      '--groundtruth',
      p('gt.ivecs'),
      '--out',
      p('res2.ivecs'),
    );
    expectOk(s);
    const sj = lastJson(s);
    expect(Object.keys(sj)).toEqual([
      'queries',
      'k',
      'ef',
      'seconds',
      'qps',
      'recall',
      'groundtruthIn',
      'backend',
      'index',
      'loadSeconds',
      'warmupSeconds',
    ]);
    expect(sj).toMatchObject({ queries: NQ, k: 10, ef: 100, backend: 'cpu' });
    const cold = lastJson(await cli('search', '--index', p('hnsw2.idx'), '--queries', p('queries.fvecs'), '--warmup', '0'));
    expect(cold['warmupSeconds']).toBeUndefined();
    // The default warm-up lasts at least --warmup-seconds (0.15), cycling through the few queries.
    expect(sj['warmupSeconds']).toBeGreaterThanOrEqual(0.15);
    const timed = lastJson(
      await cli('search', '--index', p('hnsw2.idx'), '--queries', p('queries.fvecs'), '--warmup', '0', '--warmup-seconds', '0.05'),
    );
    expect(timed['warmupSeconds']).toBeGreaterThanOrEqual(0.05);
    expect(timed['warmupSeconds']).toBeLessThan(0.15);
    expectOneLineError(
      await cli('search', '--index', p('hnsw2.idx'), '--queries', p('queries.fvecs'), '--warmup-seconds', '1', '--batch', '8'),
      /--warmup-seconds applies to one-at-a-time search/,
      2,
    );
    expectOneLineError(
      await cli('search', '--index', p('hnsw2.idx'), '--queries', p('queries.fvecs'), '--warmup', '4', '--batch', '8'),
      /--warmup applies to one-at-a-time search/,
      2,
    );
    expect(sj['recall']).toBeGreaterThanOrEqual(0.95);
    expect(sj['qps']).toBeGreaterThan(0);
    const res = readIvecs(await readFile(p('res2.ivecs')));
    expect([res.rows, res.dim]).toEqual([NQ, 10]);
    // The same graph in insertion layout: the same result ids (ids never depend on the layout).
    expectOk(
      await cli(
        'build',
        '--data',
        p('base.fvecs'),
        '--metric',
        'l2',
        '--m',
        '8',
        '--ef-construction=100',
        '--layout',
        'insertion',
        '--out',
        p('hnsw2-ins.idx'),
      ),
    );
    expect(lastJson(await cli('info', '--index', p('hnsw2-ins.idx')))['layout']).toBe('insertion');
    expectOk(
      await cli(
        'search',
        '--index',
        p('hnsw2-ins.idx'),
        '--queries',
        p('queries.fvecs'),
        '--k',
        '10',
        '--ef',
        '100',
        '--out',
        p('res2-ins.ivecs'),
      ),
    );
    const resIns = readIvecs(await readFile(p('res2-ins.ivecs')));
    let same = 0;
    for (let q = 0; q < NQ; q++) {
      const a = new Set(res.data.subarray(q * 10, q * 10 + 10));
      for (const id of resIns.data.subarray(q * 10, q * 10 + 10)) if (a.has(id)) same++;
    }
    expect(same / (NQ * 10)).toBeGreaterThanOrEqual(0.99);
    expectOneLineError(
      await cli(
        'build',
        '--data',
        p('base.fvecs'),
        '--metric',
        'l2',
        '--index-type',
        'flat',
        '--layout',
        'insertion',
        '--out',
        p('flat-l.idx'),
      ),
      /--layout only applies to --index-type hnsw/,
      2,
    );

    const sb = await cli(
      'search',
      '--index',
      p('hnsw2.idx'),
      '--queries',
      p('queries.fvecs'),
      '--k',
      '10',
      '--ef',
      '100',
      '--batch',
      '16',
      '--groundtruth',
      p('gt.ivecs'),
    );
    expectOk(sb);
    const sbj = lastJson(sb);
    expect(Object.keys(sbj)).toEqual([
      'queries',
      'k',
      'ef',
      'seconds',
      'qps',
      'recall',
      'groundtruthIn',
      'batch',
      'backend',
      'gpuMode',
      'roundTrips',
      'bytesUp',
      'bytesDown',
      'hostMs',
      'threads',
      'index',
      'loadSeconds',
      'startSeconds',
    ]);
    expect(sbj).toMatchObject({
      queries: NQ,
      k: 10,
      ef: 100,
      batch: 16,
      backend: 'cpu',
      gpuMode: 'none',
      roundTrips: 0,
      bytesUp: 0,
      bytesDown: 0,
    });
    expect(sbj['recall']).toBeGreaterThanOrEqual(0.95);

    const e = await cli('eval', '--results', p('res2.ivecs'), '--groundtruth', p('gt.ivecs'), '--k', '10');
    expectOk(e);
    expect(lastJson(e)).toEqual({ queries: NQ, k: 10, recall: sj['recall'] });
  });

  it('a flat index gives recall 1, single and batched, and --limit keeps the first queries', async () => {
    const info = lastJson(await cli('info', '--index', p('flat.idx'), '--header-only'));
    expect(info).toMatchObject({ index: 'flat', graph: null, graphBytes: 0, n: N, verified: false });
    for (const extra of [[], ['--batch', '7']]) {
      const s = await cli(
        'search',
        '--index',
        p('flat.idx'),
        '--queries',
        p('queries.fvecs'),
        '--k',
        '10',
        '--groundtruth',
        p('gt.ivecs'),
        '--out',
        p('flat-res.ivecs'),
        ...extra,
      );
      expectOk(s);
      expect(lastJson(s)).toMatchObject({ queries: NQ, k: 10, ef: null, recall: 1 });
      expect(lastJson(await cli('eval', '--results', p('flat-res.ivecs'), '--groundtruth', p('gt.ivecs')))).toEqual({
        queries: NQ,
        k: 10,
        recall: 1,
      });
    }
    const lim = await cli(
      'search',
      '--index',
      p('flat.idx'),
      '--queries',
      p('queries.fvecs'),
      '--limit',
      '5',
      '--groundtruth',
      p('gt.ivecs'),
    );
    expectOk(lim);
    expect(lastJson(lim)).toMatchObject({ queries: 5, recall: 1 });
  });

  it('sparse .csr data: build (ip), search, recall 1 on a flat index', async () => {
    const b = await cli('build', '--data', p('base.csr'), '--metric', 'ip', '--out', p('sparse2.idx'));
    expectOk(b);
    expect(lastJson(b)).toMatchObject({ items: N, dim: SPARSE_DIM, metric: 'ip' });
    expect(lastJson(await cli('info', '--index', p('sparse.idx')))).toMatchObject({ store: 'sparse', metric: 'ip', n: N });
    const s = await cli(
      'search',
      '--index',
      p('sparse.idx'),
      '--queries',
      p('queries.csr'),
      '--batch',
      '8',
      '--ef',
      '200',
      '--groundtruth',
      p('sgt.ivecs'),
    );
    expectOk(s);
    expect(lastJson(s)['recall']).toBeGreaterThanOrEqual(0.9);
    expectOk(await cli('build', '--data', p('base.csr'), '--metric', 'ip', '--index-type', 'flat', '--out', p('sparse-flat.idx')));
    const sf = await cli('search', '--index', p('sparse-flat.idx'), '--queries', p('queries.csr'), '--groundtruth', p('sgt.ivecs'));
    expect(lastJson(sf)).toMatchObject({ queries: NQ, recall: 1 });
  });

  it('bin/webannolo.js works as a real process', async () => {
    // The shim runs the compiled CLI: compile first when dist is missing or older than src/cli.
    const built = join(ROOT, 'dist', 'src', 'cli', 'main.js');
    const srcDir = join(ROOT, 'src', 'cli');
    const newest = Math.max(...readdirSync(srcDir).map((f) => statSync(join(srcDir, f)).mtimeMs));
    if (!existsSync(built) || statSync(built).mtimeMs < newest) {
      try {
        execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json')], {
          cwd: ROOT,
          stdio: 'pipe',
        });
      } catch {
        // Type errors elsewhere still emit JavaScript; the checks below tell whether it worked.
      }
    }
    const run = promisify(execFile);
    const bin = join(ROOT, 'bin', 'webannolo.js');
    const v = await run(process.execPath, [bin, '--version'], { cwd: dir });
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const s = await run(
      process.execPath,
      [bin, 'search', '--index', p('flat.idx'), '--queries', p('queries.fvecs'), '--groundtruth', p('gt.ivecs')],
      { cwd: dir },
    );
    expect(JSON.parse(s.stdout.trimEnd().split('\n').pop()!)).toMatchObject({ queries: NQ, recall: 1 });
    const bad = await run(process.execPath, [bin, 'search', '--index', p('flat.idx'), '--queries', p('queries.fvecs'), '--k', '0'], {
      cwd: dir,
    }).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(bad?.code).toBe(2);
    expect(bad?.stderr.trim()).toMatch(/^webannolo: error: .*--k must be an integer >= 1/);
    expect(bad?.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('webannolo CLI: errors are one readable line', () => {
  const search = (...extra: string[]) => cli('search', '--index', p('hnsw.idx'), '--queries', p('queries.fvecs'), ...extra);

  it('usage mistakes exit with code 2', async () => {
    expectOneLineError(await cli('frobnicate'), /unknown command 'frobnicate'/, 2);
    expectOneLineError(
      await cli('build', '--data', p('base.fvecs'), '--metric', 'l2', '--out', p('x.idx'), '--bogus', '1'),
      /unknown flag --bogus; valid flags: --data, --metric/,
      2,
    );
    expectOneLineError(await cli('build', '--data', p('base.fvecs'), '--out', p('x.idx')), /missing required flag --metric/, 2);
    expectOneLineError(
      await cli('build', '--data', p('base.fvecs'), '--metric', 'cosine', '--out', p('x.idx')),
      /--metric must be one of l2, ip/,
      2,
    );
    expectOneLineError(
      await cli('build', '--data', p('base.fvecs'), '--metric', 'l2', '--out', p('x.idx'), '--m', 'many'),
      /--m must be an integer/,
      2,
    );
    expectOneLineError(await cli('build', '--data', p('base.fvecs'), '--metric', 'l2', '--out', p('x.idx'), '--m'), /--m needs a value/, 2);
    expectOneLineError(
      await cli('build', '--data', p('base.fvecs'), '--metric', 'l2', '--out', join(dir, 'no-such-dir', 'x.idx')),
      /does not exist/,
      2,
    );
    expectOneLineError(await search('--k', '0'), /--k must be an integer >= 1, got 0/, 2);
    expectOneLineError(await search('--k', '-3'), /--k must be an integer >= 1/, 2);
    expectOneLineError(await search('--ef', '1.5'), /--ef must be an integer/, 2);
    expectOneLineError(await search('--batch', '0'), /--batch must be an integer >= 1/, 2);
    expect(existsSync(p('x.idx'))).toBe(false);
  });

  it('bad data files', async () => {
    const build = (data: string, ...extra: string[]) => cli('build', '--data', data, '--metric', 'l2', '--out', p('bad.idx'), ...extra);
    expectOneLineError(await build(p('missing.fvecs')), /missing\.fvecs: no such file/, 1);
    expectOneLineError(await build(p('data.txt')), /data\.txt has the unknown extension '\.txt'/, 1);
    expectOneLineError(await build(p('base.fvecs'), '--format', 'csv'), /--format must be one of fvecs/, 2);
    expectOneLineError(await build(p('gt.ivecs')), /ivecs file .*not a dataset/, 1);
    expectOneLineError(await build(p('nan.fvecs')), /nan\.fvecs: vector 5 has a non-finite value \(NaN\) at component 3/, 1);
    expectOneLineError(await build(p('empty.fvecs')), /empty\.fvecs: .*empty/, 1);
    expectOneLineError(await build(p('unsorted.csr')), /unsorted\.csr: .*row 1/, 1);
    expectOneLineError(await build(p('duplicate.csr')), /duplicate\.csr: .*row 1/, 1);
    expect(existsSync(p('bad.idx'))).toBe(false);
  });

  it('queries that do not fit the index, k too large, ground truth that does not match', async () => {
    expectOneLineError(
      await cli('search', '--index', p('hnsw.idx'), '--queries', p('queries8.fvecs')),
      /dimension 8, but the index has dimension 16/,
      1,
    );
    expectOneLineError(
      await cli('search', '--index', p('hnsw.idx'), '--queries', p('queries.csr')),
      /sparse vectors but the index holds dense/,
      1,
    );
    expectOneLineError(
      await cli('search', '--index', p('sparse.idx'), '--queries', p('queries.fvecs')),
      /dense vectors but the index holds sparse/,
      1,
    );
    expectOneLineError(await search('--k', String(N + 1)), /k = 501 is larger than the index \(500 items\)/, 1);
    expectOneLineError(await search('--groundtruth', p('gt-short.ivecs')), /ground truth for 39 queries but .* has 40 queries/, 1);
    expectOneLineError(await search('--k', '30', '--groundtruth', p('gt.ivecs')), /20 neighbours per query, fewer than k = 30/, 1);
    expectOneLineError(
      await cli('eval', '--results', p('res.ivecs'), '--groundtruth', p('gt-short.ivecs')),
      /has 40 queries but .*gt-short\.ivecs has 39/,
      1,
    );
    expectOneLineError(
      await cli('eval', '--results', p('res.ivecs'), '--groundtruth', p('gt.ivecs'), '--k', '11'),
      /holds 10 ids per query, fewer than k = 11/,
      1,
    );
  });

  it('damaged, truncated, foreign and newer-version index files', async () => {
    const good = new Uint8Array(await readFile(p('hnsw.idx')));
    const truncated = good.subarray(0, good.length - 100);
    const corrupt = good.slice();
    corrupt[Math.floor(good.length / 2)]! ^= 0xff;
    const newer = good.slice();
    new DataView(newer.buffer).setUint32(8, 99, true);
    await writeFile(p('truncated.idx'), truncated);
    await writeFile(p('corrupt.idx'), corrupt);
    await writeFile(p('newer.idx'), newer);
    await writeFile(p('cut-header.idx'), good.subarray(0, 40));
    for (const cmd of ['search', 'info']) {
      const run = (index: string) =>
        cmd === 'info' ? cli('info', '--index', index) : cli('search', '--index', index, '--queries', p('queries.fvecs'));
      expectOneLineError(await run(p('truncated.idx')), /truncated\.idx: index file is truncated/, 1);
      expectOneLineError(await run(p('corrupt.idx')), /corrupt\.idx: .*(checksum|damaged)/, 1);
      expectOneLineError(await run(p('newer.idx')), /newer\.idx: index file format version 99 is not supported/, 1);
      expectOneLineError(await run(p('base.fvecs')), /base\.fvecs: not a webannolo index file/, 1);
      expectOneLineError(await run(p('cut-header.idx')), /cut-header\.idx: index file is truncated/, 1);
      expectOneLineError(await run(p('nothing.idx')), /nothing\.idx: no such file/, 1);
    }
  });

  it('a failed build leaves an existing output file untouched', async () => {
    const before = await readFile(p('flat.idx'));
    expectOneLineError(await cli('build', '--data', p('nan.fvecs'), '--metric', 'l2', '--out', p('flat.idx')), /non-finite/, 1);
    expect(Buffer.compare(await readFile(p('flat.idx')), before)).toBe(0);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('--threads: a parallel build is deterministic, reports its threads, and searchBatch shares the queries', async () => {
    const files = [];
    for (const name of ['t2a.idx', 't2b.idx']) {
      const b = await cli(
        'build',
        '--data',
        p('base.fvecs'),
        '--metric',
        'l2',
        '--m',
        '8',
        '--ef-construction',
        '60',
        '--threads',
        '2',
        '--out',
        p(name),
      );
      expectOk(b);
      expect(lastJson(b)).toMatchObject({ items: N, threads: 2 });
      expect(b.stdout).toContain('on 2 threads');
      files.push(await readFile(p(name)));
    }
    expect(Buffer.compare(files[0]!, files[1]!)).toBe(0);
    const s = await cli(
      'search',
      '--index',
      p('t2a.idx'),
      '--queries',
      p('queries.fvecs'),
      '--batch',
      '40',
      '--threads',
      '2',
      '--groundtruth',
      p('gt.ivecs'),
    );
    expectOk(s);
    expect(lastJson(s)).toMatchObject({ threads: 2, backend: 'cpu' });
    expect(lastJson(s)['recall']).toBeGreaterThanOrEqual(0.95);
    expectOneLineError(
      await cli('search', '--index', p('t2a.idx'), '--queries', p('queries.fvecs'), '--threads', '2'),
      /--threads needs --batch/,
      2,
    );
    expectOneLineError(
      await cli('build', '--data', p('base.fvecs'), '--metric', 'l2', '--threads', '0', '--out', p('t0.idx')),
      /--threads/,
      2,
    );
  });

  it('a worker that fails mid-build fails the whole build with one line and writes no file', async () => {
    // Finite values (reading accepts them) whose inner products overflow to +inf + -inf = NaN.
    const rows = Array.from({ length: 300 }, (_, i) => Float32Array.of(1 + (i % 5), 2, 3, i / 100));
    rows[250] = Float32Array.of(3e38, -3e38, 3e38, -3e38);
    rows[251] = Float32Array.of(3e38, 3e38, 3e38, 3e38);
    await writeFile(p('overflow.fvecs'), writeFvecs(DenseDataset.fromRows(rows)));
    const r = await cli('build', '--data', p('overflow.fvecs'), '--metric', 'ip', '--threads', '2', '--out', p('overflow.idx'));
    expectOneLineError(r, /item \d+: its distance to item \d+ is not a number/, 1);
    expect(existsSync(p('overflow.idx'))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('WEBANNOLO_DEBUG=1 adds the stack trace', async () => {
    let stderr = '';
    const code = await main(['build', '--data', p('nan.fvecs'), '--metric', 'l2', '--out', p('y.idx')], {
      stdout: { write: () => true },
      stderr: { write: (s: string) => (stderr += s) },
      env: { WEBANNOLO_DEBUG: '1' },
    });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^webannolo: error: .*non-finite/);
    expect(stderr).toMatch(/\n\s+at /);
  });
});

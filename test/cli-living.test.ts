import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DenseDataset } from '../src/data/dense.js';
import { readIvecs, writeFvecs } from '../src/io/vecs.js';
import { loadMnist } from '../src/node/mnist.js';
import { cli, expectOk, expectOneLineError, lastJson } from './helpers/cli.js';

// The CLI's keys, labels, filtered search, add and remove, on MNIST rows (real data).
const N = 2000;
const NQ = 30;

describe('CLI: keys, labels, filters, add and remove', () => {
  let dir: string;
  let digits: Uint8Array;
  const path = (name: string) => join(dir, name);
  const lines = (values: readonly (string | number)[]) => `${values.join('\n')}\n`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'webannolo-cli-living-'));
    const m = loadMnist(N + 200, NQ);
    digits = m.trainLabels;
    const rows = (from: number, to: number) => new DenseDataset(m.train.data.slice(from * 784, to * 784), 784);
    await writeFile(path('base.fvecs'), writeFvecs(rows(0, N)));
    await writeFile(path('more.fvecs'), writeFvecs(rows(N, N + 200)));
    await writeFile(path('queries.fvecs'), writeFvecs(m.test));
    await writeFile(path('keys.txt'), lines(Array.from({ length: N }, (_, i) => `img-${i}`)));
    await writeFile(path('labels.txt'), lines(Array.from({ length: N }, (_, i) => (i < 3 ? `${digits[i]},77` : `${digits[i]}`))));
    await writeFile(path('more-keys.txt'), lines(Array.from({ length: 200 }, (_, i) => `img-${N + i}`)));
    await writeFile(path('more-labels.txt'), lines(Array.from({ length: 200 }, (_, i) => digits[N + i]!)));
    await writeFile(path('query-labels.txt'), lines(Array.from({ length: NQ }, (_, q) => (q % 3 === 0 ? '' : String(q % 10)))));
    expectOk(
      await cli(
        'build',
        '--data',
        path('base.fvecs'),
        '--metric',
        'l2',
        '--out',
        path('idx.wann'),
        '--keys',
        path('keys.txt'),
        '--labels',
        path('labels.txt'),
        '--quiet',
      ),
    );
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const digitOfKey = (key: string) => digits[Number(key.slice(4))]!;

  it('searches with --filter-label and writes keys to a .txt results file', async () => {
    const run = await cli(
      'search',
      '--index',
      path('idx.wann'),
      '--queries',
      path('queries.fvecs'),
      '--filter-label',
      '3',
      '--out',
      path('r.txt'),
    );
    expectOk(run);
    expect(lastJson(run)['filtered']).toBe(true);
    const rows = (await readFile(path('r.txt'), 'utf8')).trimEnd().split('\n');
    expect(rows).toHaveLength(NQ);
    for (const row of rows) for (const key of row.split(',')) expect(digitOfKey(key)).toBe(3);
  });

  it('searches with --query-labels (per query; empty lines unfiltered), in batches too', async () => {
    for (const batch of [[], ['--batch', '8']]) {
      const run = await cli(
        'search',
        '--index',
        path('idx.wann'),
        '--queries',
        path('queries.fvecs'),
        '--query-labels',
        path('query-labels.txt'),
        '--out',
        path('q.txt'),
        ...batch,
      );
      expectOk(run);
      expect(lastJson(run)['filtered']).toBe(true);
      const rows = (await readFile(path('q.txt'), 'utf8')).trimEnd().split('\n');
      rows.forEach((row, q) => {
        if (q % 3 !== 0) for (const key of row.split(',')) expect(digitOfKey(key)).toBe(q % 10);
      });
    }
  });

  it('pads with -1 when fewer than k items carry the label', async () => {
    const numeric = path('numeric.wann');
    await writeFile(path('nkeys.txt'), lines(Array.from({ length: N }, (_, i) => 1000 + i)));
    expectOk(
      await cli(
        'build',
        '--data',
        path('base.fvecs'),
        '--metric',
        'l2',
        '--out',
        numeric,
        '--keys',
        path('nkeys.txt'),
        '--labels',
        path('labels.txt'),
        '--quiet',
      ),
    );
    expectOk(
      await cli(
        'search',
        '--index',
        numeric,
        '--queries',
        path('queries.fvecs'),
        '--filter-label',
        '77',
        '--k',
        '5',
        '--out',
        path('pad.ivecs'),
      ),
    );
    const r = readIvecs(new Uint8Array(await readFile(path('pad.ivecs'))));
    for (let q = 0; q < NQ; q++) {
      const row = Array.from(r.data.subarray(q * 5, q * 5 + 5));
      expect(row.slice(0, 3).sort()).toEqual([1000, 1001, 1002]);
      expect(row.slice(3)).toEqual([-1, -1]);
    }
  });

  it('adds and removes in place; removed keys are never returned', async () => {
    const idx = path('living.wann');
    await writeFile(idx, await readFile(path('idx.wann')));
    const added = await cli(
      'add',
      '--index',
      idx,
      '--data',
      path('more.fvecs'),
      '--keys',
      path('more-keys.txt'),
      '--labels',
      path('more-labels.txt'),
    );
    expectOk(added);
    expect(lastJson(added)).toMatchObject({ added: 200, items: N + 200, capacity: N + 200 });
    const gone = Array.from({ length: N + 200 }, (_, i) => `img-${i}`).filter((_, i) => i % 4 === 1);
    await writeFile(path('gone.txt'), lines(gone));
    const removed = await cli('remove', '--index', idx, '--keys', path('gone.txt'));
    expectOk(removed);
    expect(lastJson(removed)).toMatchObject({ removed: gone.length, items: N + 200 - gone.length });
    expectOk(await cli('search', '--index', idx, '--queries', path('queries.fvecs'), '--out', path('after.txt')));
    const goneSet = new Set(gone);
    for (const key of (await readFile(path('after.txt'), 'utf8')).trimEnd().split(/[\n,]/)) expect(goneSet.has(key)).toBe(false);
    // Info reads the changed file.
    expectOk(await cli('info', '--index', idx));
  });

  it('rejects bad changes with one line and leaves the file unchanged', async () => {
    const idx = path('guarded.wann');
    await writeFile(idx, await readFile(path('idx.wann')));
    const before = await readFile(idx);
    await writeFile(path('unknown.txt'), lines(['img-1', 'nope']));
    await writeFile(path('short-labels.txt'), lines([1, 2, 3]));
    await writeFile(path('small.fvecs'), writeFvecs(new DenseDataset(new Float32Array(2 * 8), 8)));
    await writeFile(path('two-keys.txt'), lines(['x1', 'x2']));
    const runs = [
      [await cli('remove', '--index', idx, '--keys', path('unknown.txt')), /key "nope" is not in the index/],
      [
        await cli(
          'add',
          '--index',
          idx,
          '--data',
          path('more.fvecs'),
          '--keys',
          path('more-keys.txt'),
          '--labels',
          path('short-labels.txt'),
        ),
        /has 3 lines for 200 rows/,
      ],
      [await cli('add', '--index', idx, '--data', path('small.fvecs'), '--keys', path('two-keys.txt')), /dimension 8, the index has 784/],
      [await cli('add', '--index', idx, '--data', path('more.fvecs')), /give one key per new item/],
      [
        await cli('search', '--index', idx, '--queries', path('queries.fvecs'), '--query-labels', path('short-labels.txt')),
        /has 3 lines for 30 rows/,
      ],
    ] as const;
    for (const [run, pattern] of runs) {
      expectOneLineError(run, pattern);
      expect((await readFile(idx)).equals(before)).toBe(true);
    }
  });
});

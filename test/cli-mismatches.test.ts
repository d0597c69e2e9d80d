import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS, usageLine } from '../src/cli/main.js';
import { DenseDataset } from '../src/data/dense.js';
import { FlatIndex } from '../src/indexes/flat.js';
import { writeFvecs, writeIvecs } from '../src/io/vecs.js';
import { cli, expectOk, expectOneLineError, lastJson, rng } from './helpers/cli.js';

// Where the CLI and what it says disagreed with what a new user expected: recall on an index
// with keys, a cold --batch figure, --rerank above ef, help for help, eval of .txt results,
// and the advice of a duplicate key.

const N = 400;
const NQ = 30;
const DIM = 8;
const K = 10;

let dir: string;
const p = (name: string) => join(dir, name);

function randomDense(n: number, seed: number): DenseDataset {
  const r = rng(seed);
  return new DenseDataset(
    Float32Array.from({ length: n * DIM }, () => r() * 2 - 1),
    DIM,
  );
}

/** A numeric key per row that is never a row id (so ids and keys cannot be confused). */
const keyOfRow = (i: number) => 100_000 + 7 * i;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'webannolo-mismatch-'));
  const base = randomDense(N, 1);
  const queries = randomDense(NQ, 2);
  await writeFile(p('base.fvecs'), writeFvecs(base));
  await writeFile(p('queries.fvecs'), writeFvecs(queries));
  const truth = (await FlatIndex.build(base, { metric: 'l2' }).searchBatch(queries, K)).ids;
  await writeFile(p('gt-ids.ivecs'), writeIvecs(NQ, K, truth));
  await writeFile(p('gt-keys.ivecs'), writeIvecs(NQ, K, Int32Array.from(truth, keyOfRow)));
  await writeFile(p('keys.txt'), `${Array.from({ length: N }, (_, i) => keyOfRow(i)).join('\n')}\n`);
  await writeFile(p('names.txt'), `${Array.from({ length: N }, (_, i) => `doc-${i}`).join('\n')}\n`);
  for (const [out, extra] of [
    ['plain.wann', []],
    ['numeric.wann', ['--keys', p('keys.txt')]],
    ['named.wann', ['--keys', p('names.txt')]],
    ['sq8.wann', ['--quantizer', 'sq8']],
  ] as const) {
    expectOk(await cli('build', '--data', p('base.fvecs'), '--metric', 'l2', '--out', p(out), '--m', '8', '--quiet', ...extra));
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const search = (index: string, ...rest: string[]) =>
  cli('search', '--index', p(index), '--queries', p('queries.fvecs'), '--k', String(K), '--ef', '200', ...rest);

describe('search --groundtruth on an index built with --keys', () => {
  it('numeric keys: a ground truth of row ids is compared by id (recall was 0.0000)', async () => {
    const run = await search('numeric.wann', '--groundtruth', p('gt-ids.ivecs'));
    expectOk(run);
    const json = lastJson(run);
    expect(json['groundtruthIn']).toBe('ids');
    expect(json['recall'] as number).toBeGreaterThan(0.9);
    expect(run.stdout).toMatch(/recall@10: .* \(ground truth in ids\)/);
  });

  it('numeric keys: a ground truth of keys is compared by key, found by itself or asked for', async () => {
    const auto = await search('numeric.wann', '--groundtruth', p('gt-keys.ivecs'));
    expectOk(auto);
    expect(lastJson(auto)).toMatchObject({ groundtruthIn: 'keys' });
    expect(lastJson(auto)['recall'] as number).toBeGreaterThan(0.9);
    const asked = await search('numeric.wann', '--groundtruth', p('gt-keys.ivecs'), '--groundtruth-in', 'keys');
    expect(lastJson(asked)['recall']).toBe(lastJson(auto)['recall']);
    // Asked to read row ids as keys: nothing matches, and the JSON says what was compared.
    const wrong = await search('numeric.wann', '--groundtruth', p('gt-ids.ivecs'), '--groundtruth-in', 'keys');
    expect(lastJson(wrong)).toMatchObject({ groundtruthIn: 'keys', recall: 0 });
  });

  it('string keys: recall by id, results written as .txt keys (it failed asking for a .txt file)', async () => {
    const run = await search('named.wann', '--groundtruth', p('gt-ids.ivecs'), '--out', p('named.txt'));
    expectOk(run);
    expect(lastJson(run)).toMatchObject({ groundtruthIn: 'ids' });
    expect(lastJson(run)['recall'] as number).toBeGreaterThan(0.9);
    expect(run.stdout).toMatch(/wrote 30 x 10 keys to .*named\.txt/);
    // An .ivecs cannot hold string keys: said before searching.
    expectOneLineError(await search('named.wann', '--out', p('named.ivecs')), /string keys.*write results to a \.txt file/, 1);
    expectOneLineError(
      await search('named.wann', '--groundtruth', p('gt-ids.ivecs'), '--groundtruth-in', 'keys'),
      /--groundtruth-in keys: this index has string keys/,
      2,
    );
    expectOneLineError(await search('plain.wann', '--groundtruth-in', 'ids'), /--groundtruth-in only applies with --groundtruth/, 2);
  });

  it('an index without keys compares ids as before', async () => {
    const run = await search('plain.wann', '--groundtruth', p('gt-ids.ivecs'));
    expectOk(run);
    expect(lastJson(run)).toMatchObject({ groundtruthIn: 'ids' });
    expect(lastJson(run)['recall'] as number).toBeGreaterThan(0.9);
  });
});

describe('search --batch', () => {
  it('reports the cold start apart (startSeconds) and times a warm batch with the same results', async () => {
    const one = await search('plain.wann', '--out', p('one.ivecs'));
    const batched = await search('plain.wann', '--batch', '16', '--threads', '2', '--groundtruth', p('gt-ids.ivecs'));
    expectOk(batched);
    const json = lastJson(batched);
    expect(json['startSeconds']).toEqual(expect.any(Number));
    expect(json['startSeconds'] as number).toBeGreaterThan(0);
    expect(json).toMatchObject({ batch: 16, threads: 2, backend: 'cpu' });
    expect(Object.keys(json).indexOf('startSeconds')).toBeGreaterThan(Object.keys(json).indexOf('loadSeconds'));
    expect(json['recall']).toBe(lastJson(await search('plain.wann', '--groundtruth', p('gt-ids.ivecs')))['recall']);
    expectOk(one);
    expect(lastJson(one)['startSeconds']).toBeUndefined();
  });
});

describe('--rerank above ef', () => {
  it('is a usage error naming both (it was silently fewer re-ranked candidates)', async () => {
    expectOneLineError(await search('sq8.wann', '--rerank', '300'), /--rerank 300 is larger than ef = 200: .*give --ef 300 or more/, 2);
    expectOk(await search('sq8.wann', '--rerank', '200'));
  });
});

describe('help', () => {
  it('webannolo help help explains help (it was an unknown command)', async () => {
    for (const argv of [
      ['help', 'help'],
      ['help', '--help'],
    ]) {
      const run = await cli(...argv);
      expectOk(run);
      expect(run.stdout).toMatch(/^usage: webannolo help \[COMMAND\]/);
    }
    expectOneLineError(await cli('help', 'search', 'extra'), /help takes one command at most/, 2);
    expectOneLineError(await cli('help', 'nosuch'), /unknown command 'nosuch'; commands: .*, help$/, 2);
  });

  it('every flag of every command is in its usage line, its help and the overall help', async () => {
    const all = (await cli('help')).stdout;
    for (const c of COMMANDS) {
      const line = usageLine(c);
      const own = (await cli('help', c.name)).stdout;
      for (const f of c.flags) {
        const flag = new RegExp(`--${f.name}(?![\\w-])`);
        expect(line, `${c.name} usage line lacks --${f.name}`).toMatch(flag);
        expect(own.split('\n')[0], `help ${c.name}`).toMatch(flag);
        expect(own).toMatch(new RegExp(`^\\s+--${f.name}(?![\\w-])`, 'm'));
        expect(all).toMatch(new RegExp(`^\\s+--${f.name}(?![\\w-])`, 'm'));
      }
    }
  });

  it('an unknown flag is a usage error listing the valid ones', async () => {
    expectOneLineError(await search('plain.wann', '--ef-search', '64'), /unknown flag --ef-search; valid flags: .*--ef,/, 2);
  });
});

describe('eval', () => {
  it('reads the .txt results search writes, with the recall search reported', async () => {
    const run = await search('numeric.wann', '--groundtruth', p('gt-keys.ivecs'), '--out', p('numeric.txt'));
    expectOk(run);
    const evaluated = await cli('eval', '--results', p('numeric.txt'), '--groundtruth', p('gt-keys.ivecs'));
    expectOk(evaluated);
    expect(lastJson(evaluated)).toMatchObject({ queries: NQ, k: K, recall: lastJson(run)['recall'] });
  });

  it('says a text file is not .ivecs (it was "first row announces dimension 909391411")', async () => {
    await writeFile(p('text-results.ivecs'), '1,2,3\n4,5,6\n');
    const run = await cli('eval', '--results', p('text-results.ivecs'), '--groundtruth', p('gt-ids.ivecs'));
    expectOneLineError(run, /holds text, not \.ivecs: eval reads \.ivecs results, or the \.txt lines search --out writes/, 1);
    expect(run.stderr).not.toMatch(/announces dimension/);
    // String keys cannot be compared with an .ivecs ground truth: said so.
    expectOneLineError(
      await cli('eval', '--results', p('named.txt'), '--groundtruth', p('gt-ids.ivecs')),
      /'doc-\d+' is not an id or numeric key/,
      1,
    );
  });
});

describe('add', () => {
  it('a key already in the index suggests --upsert, not the library option', async () => {
    await writeFile(p('one.fvecs'), writeFvecs(randomDense(1, 9)));
    await writeFile(p('one-key.txt'), `${keyOfRow(3)}\n`);
    const run = await cli('add', '--index', p('numeric.wann'), '--data', p('one.fvecs'), '--keys', p('one-key.txt'), '--threads', '1');
    expectOneLineError(run, new RegExp(`key ${keyOfRow(3)} is already in the index: .*give --upsert to replace it`), 1);
    expect(run.stderr).not.toMatch(/upsert: true/);
    expectOk(
      await cli('add', '--index', p('numeric.wann'), '--data', p('one.fvecs'), '--keys', p('one-key.txt'), '--threads', '1', '--upsert'),
    );
  });
});

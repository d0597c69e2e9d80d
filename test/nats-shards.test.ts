import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebannoloError } from '../src/errors.js';
import { FlatIndex } from '../src/indexes/flat.js';
import { HnswIndex } from '../src/indexes/hnsw/hnsw-index.js';
import { readIvecs, writeIvecs } from '../src/io/vecs.js';
import { loadIndexFile } from '../src/node/index-files.js';
import { loadMnist, mnistDir } from '../src/node/mnist.js';
import { shardOfKey } from '../src/serve/nats/shard-of-key.js';
import { ShardedClient } from '../src/serve/nats/sharded-client.js';
import { cli, expectOk, lastJson } from './helpers/cli.js';
import { type NatsServer, type ServeProcess, startNatsServer, startServe } from './helpers/nats-server.js';

// 3 shards x 2 replicas of 3000 MNIST rows, each replica its own process on a real
// nats-server; results compared with one index over all rows (ids = row numbers = keys).
const N = 3000;
const NQ = 100;
const SHARDS = 3;
const SERVICE = 'mnist';

let nats: NatsServer;
let dir: string;
let files: string[];
let replicas: ServeProcess[][] = [];
let client: ShardedClient;
const mnist = loadMnist(N, NQ);
const queries = Array.from({ length: NQ }, (_, q) => mnist.test.get(q));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'webannolo-nats-shards-'));
  nats = await startNatsServer();
  const data = join(mnistDir(), 'train-images-idx3-ubyte');
  const built = await cli(
    'build',
    '--data',
    data,
    '--limit',
    String(N),
    '--metric',
    'l2',
    '--out',
    join(dir, 'm.wann'),
    '--shards',
    '3',
    '--quiet',
  );
  expectOk(built);
  files = lastJson(built)['files'] as string[];
  expectOk(await cli('build', '--data', data, '--limit', String(N), '--metric', 'l2', '--out', join(dir, 'all.wann'), '--quiet'));
  // Each replica serves (and locks) its own copy of its shard's file.
  replicas = await Promise.all(
    files.map((file, shard) =>
      Promise.all(
        [0, 1].map((r) => {
          const copy = join(dir, `shard${shard}-replica${r}.wann`);
          copyFileSync(file, copy);
          return startServe(['--index', copy, '--nats', nats.url, '--service', SERVICE, '--shard', String(shard), '--shards', '3']);
        }),
      ),
    ),
  );
  client = await ShardedClient.connect(nats.url, { service: SERVICE, shards: SHARDS, timeoutMs: 1000, retries: 2 });
});

afterAll(async () => {
  await client?.close();
  await Promise.all(replicas.flat().map((p) => p.kill()));
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('sharded service on NATS', () => {
  test('build --shards puts every item in exactly one shard, the one its key hashes to', async () => {
    expect(files).toEqual([0, 1, 2].map((s) => join(dir, `m-${s}-of-3.wann`)));
    const seen = new Int32Array(N).fill(-1);
    for (let shard = 0; shard < SHARDS; shard++) {
      const index = (await loadIndexFile(files[shard]!)) as HnswIndex;
      expect(index).toBeInstanceOf(HnswIndex);
      for (const key of index.keys!.toArray()) {
        expect(typeof key).toBe('number');
        expect(seen[key as number], `key ${key}`).toBe(-1);
        seen[key as number] = shard;
        expect(shardOfKey(key!, SHARDS)).toBe(shard);
      }
    }
    expect(seen.every((s) => s >= 0)).toBe(true);
  });

  test('at exhaustive ef the merged results equal one index over all items', async () => {
    const exact = await FlatIndex.build(mnist.train, { metric: 'l2' }).searchBatch(mnist.test, 10);
    const single = (await loadIndexFile(join(dir, 'all.wann'))) as HnswIndex;
    // A whole batch at exhaustive ef takes a while on a busy machine: a generous timeout.
    const merged = await client.searchMany(queries, 10, { ef: N }, { timeoutMs: 60_000 });
    for (let q = 0; q < NQ; q++) {
      const one = single.search(queries[q]!, 10, { ef: N });
      const m = merged[q]!;
      expect(m.partial).toBe(false);
      // Same keys (ties in distance may order differently), same scores in order.
      expect([...m.keys].sort(), `query ${q}`).toEqual([...one.ids].sort());
      expect([...m.keys].sort()).toEqual([...exact.ids.subarray(q * 10, q * 10 + 10)].sort());
      for (let j = 0; j < 10; j++) expect(m.scores[j]!).toBeCloseTo(one.scores[j]!, 0);
      for (let j = 0; j < 10; j++) expect(Math.abs(m.scores[j]! - one.scores[j]!) / Math.max(1, one.scores[j]!)).toBeLessThan(1e-5);
    }
  });

  test('at ef 64 recall@10 is within 0.01 of one index', async () => {
    const exact = await FlatIndex.build(mnist.train, { metric: 'l2' }).searchBatch(mnist.test, 10);
    const single = (await loadIndexFile(join(dir, 'all.wann'))) as HnswIndex;
    let hitsSharded = 0;
    let hitsSingle = 0;
    const merged = await client.searchMany(queries, 10, { ef: 64 }, { timeoutMs: 60_000 });
    for (let q = 0; q < NQ; q++) {
      const truth = new Set(exact.ids.subarray(q * 10, q * 10 + 10));
      hitsSharded += merged[q]!.keys.filter((k) => truth.has(k as number)).length;
      hitsSingle += [...single.search(queries[q]!, 10, { ef: 64 }).ids].filter((k) => truth.has(k)).length;
    }
    console.log(`recall@10 at ef 64: sharded ${hitsSharded / (NQ * 10)}, single ${hitsSingle / (NQ * 10)}`);
    expect(hitsSharded / (NQ * 10)).toBeGreaterThanOrEqual(hitsSingle / (NQ * 10) - 0.01);
  });

  test('search --nats prints the JSON line of a local search, with recall against global keys', async () => {
    const exact = await FlatIndex.build(mnist.train, { metric: 'l2' }).searchBatch(mnist.test, 10);
    const gt = join(dir, 'gt.ivecs');
    writeFileSync(gt, writeIvecs(NQ, 10, exact.ids));
    const queriesFile = join(mnistDir(), 't10k-images-idx3-ubyte');
    const common = [
      '--nats',
      nats.url,
      '--service',
      SERVICE,
      '--shards',
      '3',
      '--queries',
      queriesFile,
      '--limit',
      String(NQ),
      '--groundtruth',
      gt,
    ];
    const run = await cli(
      'search',
      ...common,
      '--ef',
      '3000',
      '--concurrency',
      '4',
      '--timeout-ms',
      '60000',
      '--out',
      join(dir, 'res.ivecs'),
    );
    expectOk(run);
    const json = lastJson(run);
    expect(json).toMatchObject({ queries: NQ, k: 10, ef: 3000, backend: 'nats', index: 'sharded', shards: 3, partialQueries: 0 });
    expect(json['recall']).toBe(1);
    expect(readIvecs(new Uint8Array(readFileSync(join(dir, 'res.ivecs')))).rows).toBe(NQ);
    const batched = await cli('search', ...common, '--ef', '64', '--batch', '25');
    expectOk(batched);
    expect(lastJson(batched)).toMatchObject({ batch: 25, backend: 'nats' });
    expect(lastJson(batched)['recall']).toBeGreaterThan(0.95);
    const usage = await cli('search', '--nats', nats.url, '--queries', queriesFile);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--shards/);
    const local = await cli('search', '--nats', nats.url, '--shards', '3', '--queries', queriesFile, '--threads', '2');
    expect(local.code).toBe(2);
    expect(local.stderr).toMatch(/--threads applies to a local --index/);
  });

  test('killing one replica under a steady query load fails no request', async () => {
    const failures: unknown[] = [];
    let answered = 0;
    let answeredAfterKill = 0;
    let killed = false;
    let stop = false;
    const load = async (worker: number) => {
      for (let i = worker; !stop; i += 4) {
        try {
          const r = await client.search(queries[i % NQ]!, 10, { ef: 64 });
          if (r.keys.length !== 10) failures.push(new Error(`query ${i % NQ}: ${r.keys.length} keys`));
          answered++;
          if (killed) answeredAfterKill++;
        } catch (err) {
          failures.push(err);
        }
      }
    };
    const running = Promise.all([0, 1, 2, 3].map(load));
    // Both replicas of shard 1 have answered by now (the queue group spreads the load).
    for (let i = 0; i < 200 && answered < 100; i++) await new Promise((r) => setTimeout(r, 10));
    await replicas[1]![0]!.kill();
    killed = true;
    for (let i = 0; i < 500 && answeredAfterKill < 200; i++) await new Promise((r) => setTimeout(r, 10));
    stop = true;
    await running;
    expect(failures).toEqual([]);
    expect(answeredAfterKill).toBeGreaterThanOrEqual(200);
  });

  test('a shard with no replica left fails the search naming it, or with allowPartial leaves a partial result', async () => {
    await Promise.all(replicas[2]!.map((p) => p.kill()));
    const failed = await client.search(queries[0]!, 10, { ef: 64 }, { timeoutMs: 300, retries: 1 }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(WebannoloError);
    expect((failed as WebannoloError).code).toBe('UNAVAILABLE');
    expect((failed as Error).message).toMatch(/shard 2 \(no replica is serving it/);
    expect((failed as Error).message).not.toMatch(/shard [01] \(/);

    const partial = await client.search(queries[0]!, 10, { ef: 64 }, { allowPartial: true, timeoutMs: 300, retries: 1 });
    expect(partial.partial).toBe(true);
    expect(partial.missingShards).toEqual([2]);
    expect(partial.keys).toHaveLength(10);
    for (const key of partial.keys) expect(shardOfKey(key!, SHARDS)).not.toBe(2);
  });
});

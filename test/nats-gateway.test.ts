import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebannoloError } from '../src/errors.js';
import { loadMnist, mnistDir } from '../src/node/mnist.js';
import { startHttpServer } from '../src/serve/http/server.js';
import { GatewayBackend } from '../src/serve/nats/gateway-backend.js';
import { decodeSearchReply, encodeSearchRequest } from '../src/serve/nats/messages.js';
import { readShardAnnotations } from '../src/serve/nats/shard-index.js';
import { shardOfKey } from '../src/serve/nats/shard-of-key.js';
import { connectNats } from '../src/serve/nats/sharded-client.js';
import { lookupSubject, searchSubject } from '../src/serve/nats/subjects.js';
import { cli, expectOk, lastJson } from './helpers/cli.js';
import { type NatsServer, type ServeProcess, startNatsServer, startServe } from './helpers/nats-server.js';

// Writes through the gateway: 2 shards x 2 replicas of 2000 MNIST rows (keys = row numbers);
// new items keyed 100000 + i, from MNIST rows the index does not hold.
const N = 2000;
const SHARDS = 2;
const SERVICE = 'writes';

let nats: NatsServer;
let dir: string;
let replicas: ServeProcess[][] = [];
let gateway: GatewayBackend;
const mnist = loadMnist(N + 80);
/** A vector no other item has, for the upsert. */
const upserted = mnist.train.get(N + 40);
const newKeys = Array.from({ length: 40 }, (_, i) => 100_000 + i);
const newVectors = newKeys.map((_, i) => mnist.train.get(N + i));
/** Rows N+41.. : vectors for the races and refusals below, none in the index. */
const spare = (i: number) => mnist.train.get(N + 41 + i);

const replicaFile = (shard: number, r: number) => join(dir, `shard${shard}-replica${r}.wann`);
/** Replica 0 of each shard snapshots every 3 changes and searches on one thread; replica 1 keeps the defaults. */
const startReplica = (shard: number, r: number) =>
  startServe([
    ...(r === 0 ? ['--snapshot-every', '3', '--threads', '1'] : []),
    '--index',
    replicaFile(shard, r),
    '--nats',
    nats.url,
    '--service',
    SERVICE,
    '--shard',
    String(shard),
    '--shards',
    String(SHARDS),
  ]);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'webannolo-nats-gateway-'));
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
    join(dir, 'w.wann'),
    '--shards',
    String(SHARDS),
    '--quiet',
  );
  expectOk(built);
  const files = lastJson(built)['files'] as string[];
  for (let shard = 0; shard < SHARDS; shard++) for (const r of [0, 1]) copyFileSync(files[shard]!, replicaFile(shard, r));
  replicas = await Promise.all([0, 1].map((shard) => Promise.all([0, 1].map((r) => startReplica(shard, r)))));
  gateway = await GatewayBackend.open({ servers: nats.url, service: SERVICE, shards: SHARDS, timeoutMs: 2000 });
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all(replicas.flat().map((p) => p.kill()));
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Shard `shard`'s answer to a search from every one of its replicas (asked until each has answered once). */
async function fromEveryReplica(shard: number, query: Float32Array): Promise<Map<string, { keys: unknown[]; scores: number[] }>> {
  const nc = await connectNats(nats.url);
  const seen = new Map<string, { keys: unknown[]; scores: number[] }>();
  try {
    const payload = encodeSearchRequest({ queries: [query], k: 1, params: { ef: 200 }, minSeq: 0, waitMs: 0 });
    for (let i = 0; i < 200 && seen.size < 2; i++) {
      const reply = decodeSearchReply(
        (await nc.request(searchSubject({ service: SERVICE, shards: SHARDS }, shard), payload, { timeout: 2000 })).data,
      );
      if ('error' in reply) throw new Error(reply.error.message);
      seen.set(reply.replica!, reply.hits[0]!);
    }
  } finally {
    await nc.close();
  }
  expect(seen.size, `replicas of shard ${shard} that answered`).toBe(2);
  return seen;
}

/** Which of `keys` shard `shard` holds, as one of its replicas answers. */
async function held(shard: number, keys: readonly number[]): Promise<boolean[]> {
  const nc = await connectNats(nats.url);
  try {
    const reply = await nc.request(lookupSubject({ service: SERVICE, shards: SHARDS }, shard), JSON.stringify({ keys }), { timeout: 2000 });
    return reply.json<{ present: boolean[] }>().present;
  } finally {
    await nc.close();
  }
}

describe('gateway writes', () => {
  test('describe sums the shards', () => {
    const d = gateway.describe();
    expect(d).toMatchObject({ kind: 'gateway', dim: 784, metric: 'l2', items: N, writable: true, failure: null });
  });

  test('an add lands in the owning shard only, and the next search through the gateway sees it', async () => {
    const ack = await gateway.add({ keys: newKeys.slice(0, 30), vectors: newVectors.slice(0, 30) });
    expect(ack.items).toBe(30);
    expect(ack.seq).toBeGreaterThan(0);
    const hits = await gateway.searchMany(newVectors.slice(0, 30), 1, { ef: 64 });
    hits.forEach((h, i) => {
      expect(h.keys[0], `item ${newKeys[i]}`).toBe(newKeys[i]);
      expect(h.scores[0]).toBe(0);
    });
    for (let shard = 0; shard < SHARDS; shard++) {
      const present = await held(shard, newKeys.slice(0, 30));
      present.forEach((p, i) => {
        expect(p, `key ${newKeys[i]} in shard ${shard}`).toBe(shardOfKey(newKeys[i]!, SHARDS) === shard);
      });
    }
  });

  test('adding a key already there fails, upsert replaces it, removing an unknown key fails and removes nothing', async () => {
    const dup = await gateway.add({ keys: [newKeys[0]!], vectors: [upserted] }).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(WebannoloError);
    expect((dup as Error).message).toMatch(/already in the index/);
    await gateway.add({ keys: [newKeys[0]!], vectors: [upserted], upsert: true });
    expect((await gateway.search(upserted, 1, { ef: 64 })).keys[0]).toBe(newKeys[0]);

    const unknown = await gateway.remove([newKeys[1]!, 999_999]).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(WebannoloError);
    expect((unknown as Error).message).toMatch(/999999 is not in the index/);
    expect((await gateway.search(newVectors[1]!, 1, { ef: 64 })).keys[0]).toBe(newKeys[1]);
  });

  test('an add through the gateway is acknowledged once applied, and the next search sees it (latency printed)', async () => {
    const times: string[] = [];
    for (let i = 0; i < 5; i++) {
      const key = 200_000 + i;
      const t0 = performance.now();
      await gateway.add({ keys: [key], vectors: [spare(i)] });
      const t1 = performance.now();
      const hits = await gateway.search(spare(i), 1, { ef: 64 });
      const t2 = performance.now();
      expect(hits.keys[0]).toBe(key);
      times.push(`${(t1 - t0).toFixed(1)} + ${(t2 - t1).toFixed(1)}`);
    }
    console.log(`gateway add (acknowledged = applied) + next search, ms: ${times.join('; ')}`);
  });

  test('two gateways adding the same key at once: one succeeds, the other gets the refusal, every replica holds the winner', async () => {
    const other = await GatewayBackend.open({ servers: nats.url, service: SERVICE, shards: SHARDS, timeoutMs: 2000 });
    try {
      for (let round = 0; round < 3; round++) {
        const key = 300_000 + round;
        const vectors = [spare(5 + 2 * round), spare(6 + 2 * round)];
        const settled = await Promise.allSettled([
          gateway.add({ keys: [key], vectors: [vectors[0]!] }),
          other.add({ keys: [key], vectors: [vectors[1]!] }),
        ]);
        const won = settled.flatMap((s, i) => (s.status === 'fulfilled' ? [i] : []));
        expect(won, `round ${round}: ${JSON.stringify(settled.map((s) => s.status))}`).toHaveLength(1);
        const lost = settled[1 - won[0]!] as PromiseRejectedResult;
        expect(lost.reason).toBeInstanceOf(WebannoloError);
        expect((lost.reason as WebannoloError).code).toBe('INVALID_ARGUMENT');
        expect((lost.reason as Error).message).toMatch(/already in the index/);
        const answers = await fromEveryReplica(shardOfKey(key, SHARDS), vectors[won[0]!]!);
        for (const [replica, hits] of answers) {
          expect(hits.keys[0], `replica ${replica}`).toBe(key);
          expect(hits.scores[0], `replica ${replica}`).toBe(0);
        }
      }
    } finally {
      await other.close();
    }
  });

  test('without the up-front check the replicas refuse: the whole write for one shard, the refused part for several', async () => {
    const unchecked = await GatewayBackend.open({ servers: nats.url, service: SERVICE, shards: SHARDS, timeoutMs: 2000, checkKeys: false });
    try {
      const held0 = 200_000; // added above
      const dup = await unchecked.add({ keys: [held0], vectors: [spare(20)] }).catch((e: unknown) => e);
      expect(dup).toBeInstanceOf(WebannoloError);
      expect((dup as WebannoloError).code).toBe('INVALID_ARGUMENT');
      expect((dup as Error).message).toMatch(new RegExp(`shard ${shardOfKey(held0, SHARDS)} refused the change: key ${held0} is already`));
      expect((await unchecked.search(spare(0), 1, { ef: 64 })).keys[0]).toBe(held0);
      expect((await unchecked.search(spare(20), 1, { ef: 64 })).scores[0]).toBeGreaterThan(0);

      // A key of the other shard than held0's, new: its part applies, held0's is refused.
      const fresh = [400_000, 400_001, 400_002, 400_003].find((k) => shardOfKey(k, SHARDS) !== shardOfKey(held0, SHARDS))!;
      const mixed = await unchecked.add({ keys: [held0, fresh], vectors: [spare(21), spare(22)] }).catch((e: unknown) => e);
      expect(mixed).toBeInstanceOf(WebannoloError);
      expect((mixed as WebannoloError).code).toBe('INVALID_ARGUMENT');
      const message = (mixed as Error).message;
      expect(message).toMatch(new RegExp(`shard ${shardOfKey(held0, SHARDS)} refused its part`));
      expect(message).toMatch(new RegExp(`part of shard ${shardOfKey(fresh, SHARDS)} was applied`));
      expect((await unchecked.search(spare(22), 1, { ef: 64 })).keys[0]).toBe(fresh);
      expect((await unchecked.search(spare(0), 1, { ef: 64 })).keys[0]).toBe(held0);
      expect(unchecked.stats().writes).toMatchObject({ refused: 2, applied: 1 });
    } finally {
      await unchecked.close();
    }
  });

  test('over HTTP a refused write is a 400 with its code, and /metrics counts requests, shard requests and write parts', async () => {
    const server = await startHttpServer(gateway, { auth: { allowAnonymousWrites: true } });
    try {
      const post = (body: unknown) =>
        fetch(`${server.url}/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const dup = await post({ keys: [200_001], vectors: [Array.from(spare(23))] });
      expect(dup.status).toBe(400);
      expect(await dup.json()).toMatchObject({ code: 'INVALID_ARGUMENT' });
      const ok = await post({ keys: [500_000], vectors: [Array.from(spare(23))] });
      expect(ok.status).toBe(200);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(/webannolo_http_requests_total\{method="POST",route="\/items",status="400"\} 1/);
      expect(metrics).toMatch(/webannolo_http_request_duration_seconds_count\{method="POST",route="\/items"\} 2/);
      expect(metrics).toMatch(/webannolo_shard_requests_total [1-9]/);
      expect(metrics).toMatch(/webannolo_shard_write_parts_total\{outcome="applied"\} [1-9]/);
      expect(metrics).toMatch(/webannolo_backend_info\{kind="gateway"/);
    } finally {
      await server.close();
    }
  });

  test('a remove takes items out of every replica of their shard', async () => {
    await gateway.remove(newKeys.slice(1, 11));
    const hits = await gateway.searchMany(newVectors.slice(1, 11), 10, { ef: 64 });
    for (const h of hits) for (const k of newKeys.slice(1, 11)) expect(h.keys).not.toContain(k);
  });

  test('a replica takes --snapshot-every (its file records the log position), not the flags of a local log', async () => {
    for (let shard = 0; shard < SHARDS; shard++) {
      let seq = 0;
      for (let i = 0; i < 100 && seq === 0; i++) {
        seq = (await readShardAnnotations(replicaFile(shard, 0))).seq;
        if (seq === 0) await new Promise((r) => setTimeout(r, 50));
      }
      expect(seq, `shard ${shard} replica 0 snapshot`).toBeGreaterThanOrEqual(3);
      expect((await readShardAnnotations(replicaFile(shard, 1))).seq, `shard ${shard} replica 1 (every 10000)`).toBe(0);
    }
    const base = ['serve', '--nats', nats.url, '--service', SERVICE, '--shards', String(SHARDS)];
    const fsync = await cli(...base, '--index', replicaFile(0, 0), '--shard', '0', '--fsync', 'false');
    expect(fsync.code).toBe(2);
    expect(fsync.stderr).toMatch(/--fsync only applies to a local index/);
    const gatewayThreads = await cli(...base, '--gateway', '--threads', '2');
    expect(gatewayThreads.code).toBe(2);
    expect(gatewayThreads.stderr).toMatch(/--threads only applies to an index/);
  });

  test('acknowledged writes survive every replica of a shard restarting', async () => {
    await gateway.add({ keys: newKeys.slice(30, 40), vectors: newVectors.slice(30, 40) });
    const shard = shardOfKey(newKeys[30]!, SHARDS);
    await Promise.all(replicas[shard]!.map((p) => p.kill()));
    replicas[shard] = await Promise.all([0, 1].map((r) => startReplica(shard, r)));
    const owned = (keys: number[]) => keys.filter((k) => shardOfKey(k, SHARDS) === shard);
    const kept = owned([newKeys[0]!, ...newKeys.slice(11, 40)]);
    const removed = owned(newKeys.slice(1, 11));
    // Ask each restarted replica: kill the other, then look.
    for (const r of [0, 1]) {
      const other = replicas[shard]![1 - r]!;
      await other.kill();
      expect(await held(shard, kept)).toEqual(kept.map(() => true));
      expect(await held(shard, removed)).toEqual(removed.map(() => false));
      replicas[shard]![1 - r] = await startReplica(shard, 1 - r);
    }
    const hits = await gateway.searchMany(newVectors.slice(30, 40), 1, { ef: 64 });
    hits.forEach((h, i) => {
      expect(h.keys[0]).toBe(newKeys[30 + i]);
    });
  });
});

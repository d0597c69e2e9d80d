import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebannoloError } from '../src/errors.js';
import { loadMnist, mnistDir } from '../src/node/mnist.js';
import { GatewayBackend } from '../src/serve/nats/gateway-backend.js';
import { shardOfKey } from '../src/serve/nats/shard-of-key.js';
import { connectNats } from '../src/serve/nats/sharded-client.js';
import { lookupSubject } from '../src/serve/nats/subjects.js';
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
const mnist = loadMnist(N + 41);
/** A vector no other item has, for the upsert. */
const upserted = mnist.train.get(N + 40);
const newKeys = Array.from({ length: 40 }, (_, i) => 100_000 + i);
const newVectors = newKeys.map((_, i) => mnist.train.get(N + i));

const replicaFile = (shard: number, r: number) => join(dir, `shard${shard}-replica${r}.wann`);
const startReplica = (shard: number, r: number) =>
  startServe([
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
      present.forEach((p, i) => expect(p, `key ${newKeys[i]} in shard ${shard}`).toBe(shardOfKey(newKeys[i]!, SHARDS) === shard));
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

  test('a remove takes items out of every replica of their shard', async () => {
    await gateway.remove(newKeys.slice(1, 11));
    const hits = await gateway.searchMany(newVectors.slice(1, 11), 10, { ef: 64 });
    for (const h of hits) for (const k of newKeys.slice(1, 11)) expect(h.keys).not.toContain(k);
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
    hits.forEach((h, i) => expect(h.keys[0]).toBe(newKeys[30 + i]));
  });
});

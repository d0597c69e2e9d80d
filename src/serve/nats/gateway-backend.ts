import { type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { fail, WebannoloError } from '../../errors.js';
import type { ItemKey } from '../../indexes/items/item-keys.js';
import type { Vector } from '../../types.js';
import type { AddChange, BackendInfo, Hits, QueryParams, ServeBackend, SnapshotInfo, WriteAck } from '../backend.js';
import { ensureChangeStream } from './change-log.js';
import { encodeChange } from './messages.js';
import { shardOfKey } from './shard-of-key.js';
import type { ShardInfo } from './shard-replica.js';
import { connectNats, ShardedClient, type ShardedClientOptions, type ShardedHits } from './sharded-client.js';
import { changesStream, changesSubject, lookupSubject } from './subjects.js';

export interface GatewayOptions extends ShardedClientOptions {
  /** NATS server URLs, comma-separated. */
  readonly servers: string;
  /** How often the shards' descriptions (items, dim, metric) are refreshed for describe(), in ms (default 5000). */
  readonly refreshMs?: number;
  readonly onLog?: (line: string) => void;
}

/**
 * The HTTP API's backend in front of a sharded service on NATS (`webannolo serve --nats URL
 * --gateway`). Reads scatter to every shard and merge (ShardedClient). A write is split by
 * owning shard (shardOfKey), each part published to that shard's change log (a JetStream
 * stream) and acknowledged once JetStream has stored it (its PubAck): from then on it is
 * durable and every replica of the shard applies it, in log order.
 *
 * Read-your-writes: the gateway remembers, per shard, the last log position it was
 * acknowledged, and its searches ask the answering replica to hold that position first (it
 * waits for its log up to the request's timeout). A write through one gateway is therefore
 * seen by every later search through the same gateway; another gateway sees it once a
 * replica has applied it (usually within milliseconds).
 *
 * A write's keys are checked against the shards first (an add of a key the shard holds fails
 * unless it upserts; a remove of a key it does not hold fails), and writes through one
 * gateway run one at a time so that those checks hold. Two gateways writing the same key at
 * once can both pass them; the shard then applies the first and refuses the second alike on
 * every replica.
 */
export class GatewayBackend implements ServeBackend {
  private infos: (ShardInfo | null)[];
  private readonly acked: number[];
  private writes: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly nc: NatsConnection,
    readonly client: ShardedClient,
    private readonly js: JetStreamClient | null,
    infos: (ShardInfo | null)[],
    private readonly options: GatewayOptions,
  ) {
    this.infos = infos;
    this.acked = new Array<number>(client.shards).fill(0);
  }

  /** Connects, makes sure every shard's change log exists, and reads the shards' descriptions. */
  static async open(options: GatewayOptions): Promise<GatewayBackend> {
    const nc = await connectNats(options.servers, `webannolo ${options.service} gateway`);
    try {
      const client = new ShardedClient(nc, options, false);
      let js: JetStreamClient | null = null;
      try {
        const jsm = await jetstreamManager(nc);
        for (let shard = 0; shard < client.shards; shard++)
          await ensureChangeStream(jsm, { service: options.service, shards: client.shards }, shard);
        js = jetstream(nc);
      } catch (err) {
        options.onLog?.(`gateway: no JetStream (${(err as Error).message}): serving searches only`);
      }
      const gateway = new GatewayBackend(nc, client, js, await client.shardInfos(), options);
      gateway.timer = setInterval(() => void gateway.refresh(), options.refreshMs ?? 5000);
      gateway.timer.unref();
      return gateway;
    } catch (err) {
      await nc.close();
      throw err;
    }
  }

  describe(): BackendInfo {
    const up = this.infos.filter((i): i is ShardInfo => i !== null);
    const down = this.infos.flatMap((i, s) => (i === null ? [s] : []));
    return {
      kind: 'gateway',
      dim: up[0]?.dim ?? 0,
      metric: (up[0]?.metric ?? 'l2') as BackendInfo['metric'],
      items: up.reduce((s, i) => s + i.items, 0),
      writable: this.js !== null,
      backend: 'nats',
      gpuMode: 'none',
      failure:
        down.length === 0 ? null : `shard${down.length > 1 ? 's' : ''} ${down.join(', ')} of service ${this.options.service} not answering`,
    };
  }

  async search(query: Vector, k: number, params: QueryParams, signal?: AbortSignal): Promise<Hits> {
    return (await this.searchMany([query], k, params, signal))[0]!;
  }

  async searchMany(queries: readonly Vector[], k: number, params: QueryParams, signal?: AbortSignal): Promise<Hits[]> {
    const hits = await this.client.searchMany(queries, k, params, { minSeqs: this.acked, ...(signal ? { signal } : {}) });
    return hits.map(plainHits);
  }

  add(change: AddChange): Promise<WriteAck> {
    const n = change.keys.length;
    if (n === 0) fail('INVALID_ARGUMENT', 'add: no items');
    if (change.vectors.length !== n) fail('DIMENSION_MISMATCH', `add: ${change.vectors.length} vectors for ${n} keys`);
    if (change.labels !== undefined && change.labels.length !== n)
      fail('DIMENSION_MISMATCH', `add: ${change.labels.length} label rows for ${n} keys`);
    const dim = this.describe().dim;
    change.vectors.forEach((v, i) => {
      if (v instanceof Float32Array && dim > 0 && v.length !== dim)
        fail('DIMENSION_MISMATCH', `add: vector ${i} has dimension ${v.length}, the service has ${dim}`);
    });
    return this.write(change.keys, async (shard, rows) => {
      if (!change.upsert)
        await this.refuse(
          shard,
          rows.map((r) => change.keys[r]!),
          true,
        );
      const part: AddChange = {
        keys: rows.map((r) => change.keys[r]!),
        vectors: rows.map((r) => change.vectors[r]!),
        ...(change.labels ? { labels: rows.map((r) => change.labels![r]!) } : {}),
        ...(change.upsert ? { upsert: true } : {}),
      };
      return encodeChange({ op: 'add', change: part });
    });
  }

  remove(keys: readonly ItemKey[]): Promise<WriteAck> {
    if (keys.length === 0) fail('INVALID_ARGUMENT', 'remove: no keys');
    return this.write(keys, async (shard, rows) => {
      const part = rows.map((r) => keys[r]!);
      await this.refuse(shard, part, false);
      return encodeChange({ op: 'remove', keys: part });
    });
  }

  /** A gateway keeps no index of its own: snapshots are the replicas' business. */
  async snapshot(): Promise<SnapshotInfo | null> {
    return null;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.timer) clearInterval(this.timer);
      await this.writes.catch(() => {});
      if (!this.nc.isClosed()) await this.nc.drain().catch(() => {});
    })();
    return this.closing;
  }

  /**
   * Splits keys by owning shard, checks every part (prepare), then publishes them; resolves
   * with the highest log position acknowledged (each shard has its own log, so a change
   * spanning shards has one position per shard) once JetStream acknowledged every part.
   */
  private write(keys: readonly ItemKey[], prepare: (shard: number, rows: number[]) => Promise<Uint8Array>): Promise<WriteAck> {
    const js = this.js;
    if (js === null)
      return Promise.reject(
        new WebannoloError(
          'READ_ONLY',
          `service ${this.options.service}: no JetStream on the NATS server, so no change log: writes are refused`,
        ),
      );
    if (this.closing) return Promise.reject(new WebannoloError('CLOSED', 'the gateway is closed'));
    const run = async (): Promise<WriteAck> => {
      const byShard = new Map<number, number[]>();
      keys.forEach((key, row) => {
        const shard = shardOfKey(key, this.client.shards);
        byShard.set(shard, [...(byShard.get(shard) ?? []), row]);
      });
      const payloads = new Map<number, Uint8Array>();
      for (const [shard, rows] of byShard) payloads.set(shard, await prepare(shard, rows));
      let seq = 0;
      await Promise.all(
        [...payloads].map(async ([shard, payload]) => {
          const names = { service: this.options.service, shards: this.client.shards };
          const ack = await js.publish(changesSubject(names, shard), payload, { expect: { streamName: changesStream(names, shard) } });
          this.acked[shard] = Math.max(this.acked[shard]!, ack.seq);
          seq = Math.max(seq, ack.seq);
        }),
      );
      return { seq, items: keys.length };
    };
    const result = this.writes.then(run, run);
    this.writes = result.catch(() => {});
    return result;
  }

  /** Fails when some of `keys` are (present: true) or are not (false) in `shard`, as of this gateway's last write there. */
  private async refuse(shard: number, keys: readonly ItemKey[], present: boolean): Promise<void> {
    const timeout = this.options.timeoutMs ?? 2000;
    const subject = lookupSubject({ service: this.options.service, shards: this.client.shards }, shard);
    let reply: { present?: boolean[]; error?: { message: string } };
    try {
      const msg = await this.nc.request(subject, JSON.stringify({ keys, minSeq: this.acked[shard], waitMs: timeout }), { timeout });
      reply = msg.json();
    } catch (err) {
      return fail(
        'OVERLOADED',
        `shard ${shard} of service ${this.options.service} did not answer (${(err as Error).message}): the write was not made`,
      );
    }
    if (reply.error || !Array.isArray(reply.present))
      fail('OVERLOADED', `shard ${shard}: ${reply.error?.message ?? 'a malformed lookup reply'}`);
    const bad = keys.filter((_, i) => reply.present![i] === present);
    if (bad.length > 0)
      fail(
        'INVALID_ARGUMENT',
        present
          ? `key ${JSON.stringify(bad[0])} is already in the index: remove it first, or add with upsert`
          : `key ${JSON.stringify(bad[0])} is not in the index: nothing was removed`,
      );
  }

  private async refresh(): Promise<void> {
    try {
      this.infos = await this.client.shardInfos();
    } catch {
      // Closed meanwhile: describe() keeps the last descriptions.
    }
  }
}

function plainHits(h: ShardedHits): Hits {
  return h.partial ? { keys: h.keys, scores: h.scores, missingShards: h.missingShards } : { keys: h.keys, scores: h.scores };
}

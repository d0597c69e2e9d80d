import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { fail, WebannoloError } from '../../errors.js';
import type { ItemKey } from '../../indexes/items/item-keys.js';
import type { Vector } from '../../types.js';
import type { AddChange, BackendInfo, Hits, QueryParams, ServeBackend, SnapshotInfo, WriteAck } from '../backend.js';
import type { ShardCounters } from './ask-shard.js';
import { ensureChangeStream } from './change-log.js';
import { encodeChange } from './messages.js';
import { shardOfKey } from './shard-of-key.js';
import type { ShardInfo } from './shard-replica.js';
import { ShardWriter, type WriteCounters, writeError } from './shard-writer.js';
import { connectNats, ShardedClient, type ShardedClientOptions, type ShardedHits } from './sharded-client.js';

/** Options of GatewayBackend.open: the NATS connection and service, and how shards are asked. */
export interface GatewayOptions extends ShardedClientOptions {
  /** NATS server URLs, comma-separated. */
  readonly servers: string;
  /** How often the shards' descriptions (items, dim, metric) are refreshed for describe(), in ms (default 5000). */
  readonly refreshMs?: number;
  /**
   * Check a write's keys against their shards before publishing it (default true): one round
   * trip per shard more, and in return a write that would be refused (a duplicate add, a
   * remove of an unknown key) is refused whole, before any part reaches a log. Without the
   * check the replicas refuse such a part themselves, as they do a write that loses a race.
   */
  readonly checkKeys?: boolean;
  /** Where the gateway's notices go, one line each (say, serving searches only without JetStream). */
  readonly onLog?: (line: string) => void;
}

/** What the gateway counted, for metrics (ServeMetrics reads it through stats()). */
export interface GatewayStats {
  /** Requests to the shards: attempts, retries, shards missing, partial answers. */
  readonly shards: Readonly<ShardCounters>;
  /** Write parts by outcome: applied, refused, unknown. */
  readonly writes: Readonly<WriteCounters>;
}

/**
 * The HTTP API's backend in front of a sharded service on NATS (`webannolo serve --nats URL
 * --gateway`). Reads scatter to every shard and merge (ShardedClient).
 *
 * Writes. A write is split by owning shard (shardOfKey); each part is published to its shard's
 * change log (a JetStream stream) and, once JetStream has stored it (its PubAck, at log
 * position S), the gateway asks the shard's replicas what applying S did (NAME.applied.I; a
 * replica answers as soon as it has applied S, within milliseconds on an idle system). A write
 * resolves only when its parts are durable in the log AND applied; a part the replicas
 * refused (all-or-nothing: its shard is unchanged, on every replica alike) fails the write
 * with the refusal's error, so two gateways adding the same key at once get one success and
 * one refusal, never two successes.
 *
 * Before publishing, a write's keys are checked against their shards (GatewayOptions.checkKeys,
 * default on): an add of a key the shard holds, or a remove of one it does not, is refused
 * then, before any part reaches a log, so such a write changes nothing even when it spans
 * shards. The check is a fast path, not the guarantee: a concurrent write can change the
 * keys between the check and the log, and then the replicas' refusal is what the caller gets.
 *
 * A write that spans shards is all-or-nothing per shard, not as a whole: when some parts were
 * applied and others refused (a race the check could not see), the write fails with an error
 * naming the shards whose part was refused and those whose part was applied (which stay so).
 *
 * Outcome unknown. A replica remembers what each change it applied did (ApplyResults); one
 * that loaded a snapshot already holding S does not know, and the gateway asks again (another
 * replica may). When no replica can say within the attempts, or JetStream never acknowledged
 * the publish, the write fails with UNAVAILABLE saying that its part may or may not be
 * applied: a change in the log is always applied or refused in the end, never lost, so the
 * caller should look the keys up (or write with upsert) rather than assume either.
 *
 * Read-your-writes: the gateway remembers, per shard, the last log position it published
 * there, and its searches ask the answering replica to hold that position first (it waits for
 * its log up to the request's timeout, else answers UNAVAILABLE and the search is retried,
 * usually by another replica). A write through one gateway is therefore seen by every later
 * search through the same gateway; another gateway sees it once a replica has applied it.
 */
export class GatewayBackend implements ServeBackend {
  private infos: (ShardInfo | null)[];
  private readonly acked: number[];
  private readonly inFlight = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly nc: NatsConnection,
    /** The client that searches the shards. */
    readonly client: ShardedClient,
    private readonly writer: ShardWriter | null,
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
      const names = { service: options.service, shards: client.shards };
      let writer: ShardWriter | null = null;
      try {
        const jsm = await jetstreamManager(nc);
        for (let shard = 0; shard < client.shards; shard++) await ensureChangeStream(jsm, names, shard);
        const ask = { timeoutMs: options.timeoutMs ?? 2000, retries: options.retries ?? 2, counters: client.counters };
        writer = new ShardWriter(nc, jetstream(nc), names, ask);
      } catch (err) {
        options.onLog?.(`gateway: no JetStream (${(err as Error).message}): serving searches only`);
      }
      const gateway = new GatewayBackend(nc, client, writer, await client.shardInfos(), options);
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
      writable: this.writer !== null,
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
    return this.write(change.keys, (rows) => {
      const part: AddChange = {
        keys: rows.map((r) => change.keys[r]!),
        vectors: rows.map((r) => change.vectors[r]!),
        ...(change.labels ? { labels: rows.map((r) => change.labels![r]!) } : {}),
        ...(change.upsert ? { upsert: true } : {}),
      };
      // An upsert takes keys present or not: nothing to check.
      return { payload: encodeChange({ op: 'add', change: part }), check: change.upsert ? null : { keys: part.keys, present: true } };
    });
  }

  remove(keys: readonly ItemKey[]): Promise<WriteAck> {
    if (keys.length === 0) fail('INVALID_ARGUMENT', 'remove: no keys');
    return this.write(keys, (rows) => {
      const part = rows.map((r) => keys[r]!);
      return { payload: encodeChange({ op: 'remove', keys: part }), check: { keys: part, present: false } };
    });
  }

  /** Requests to shards and what became of write parts, for metrics. */
  stats(): GatewayStats {
    return { shards: { ...this.client.counters }, writes: { ...(this.writer?.counters ?? { applied: 0, refused: 0, unknown: 0 }) } };
  }

  /** A gateway keeps no index of its own: snapshots are the replicas' business. */
  async snapshot(): Promise<SnapshotInfo | null> {
    return null;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.timer) clearInterval(this.timer);
      await Promise.allSettled([...this.inFlight]);
      if (!this.nc.isClosed()) await this.nc.drain().catch(() => {});
    })();
    return this.closing;
  }

  /**
   * Splits keys by owning shard, checks every part's keys (unless checkKeys is off), then
   * publishes the parts and learns what applying each did; resolves once every part is
   * applied, with the highest log position among them (each shard has its own log).
   */
  private write(
    keys: readonly ItemKey[],
    partOf: (rows: number[]) => { payload: Uint8Array; check: { keys: readonly ItemKey[]; present: boolean } | null },
  ): Promise<WriteAck> {
    const writer = this.writer;
    if (writer === null)
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
      const parts = [...byShard].map(([shard, rows]) => ({ shard, ...partOf(rows) }));
      // Every part is checked before any is published: a write the check refuses changes nothing.
      if (this.options.checkKeys !== false)
        await Promise.all(
          parts.map((p) => (p.check ? writer.check(p.shard, p.check.keys, p.check.present, this.acked[p.shard]!) : undefined)),
        );
      const results = await Promise.all(parts.map((p) => writer.publish(p.shard, p.payload)));
      // A refused part moved the shard's log on too: later reads wait for it like for the others.
      for (const r of results) if (r.seq !== null) this.acked[r.shard] = Math.max(this.acked[r.shard]!, r.seq);
      if (results.some((r) => r.outcome !== 'applied')) throw writeError(this.options.service, results);
      return { seq: Math.max(...results.map((r) => r.seq ?? 0)), items: keys.length };
    };
    const result = run();
    this.inFlight.add(result);
    void result.catch(() => {}).finally(() => this.inFlight.delete(result));
    return result;
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

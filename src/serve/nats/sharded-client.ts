import { connect, errors, type NatsConnection } from '@nats-io/transport-node';
import { checkInteger, fail } from '../../errors.js';
import type { Metric, Vector } from '../../types.js';
import type { Hits, QueryParams } from '../backend.js';
import { askShard, closedError, newShardCounters, type ShardCounters } from './ask-shard.js';
import { mergeHits } from './merge-hits.js';
import { decodeSearchReply, encodeSearchRequest, type SearchReply } from './messages.js';
import type { ShardInfo } from './shard-replica.js';
import { checkService, infoSubject, type ServiceNames, searchSubject } from './subjects.js';
import { fromWireError } from './wire.js';

/** Options of ShardedClient.connect (and of the gateway). */
export interface ShardedClientOptions {
  /** The service's name (its subjects start with it). */
  readonly service: string;
  /** How many shards it has (build --shards N). */
  readonly shards: number;
  /** How long one attempt waits for a shard's reply, in ms (default 2000). */
  readonly timeoutMs?: number;
  /** Attempts after the first for a shard that did not answer (default 2); NATS gives each to a replica of the shard's queue group. */
  readonly retries?: number;
  /** Default of the per-call `allowPartial` (false). */
  readonly allowPartial?: boolean;
}

/** Per-search options of ShardedClient.search, beside ef, rerank and filter. */
export interface ShardedSearchOptions {
  /** Return what the shards that answered found, marked partial, instead of failing when some did not. */
  readonly allowPartial?: boolean;
  /** Wait per attempt for a shard, in ms (the client's when left out). */
  readonly timeoutMs?: number;
  /** Attempts after the first for a shard that did not answer (the client's when left out). */
  readonly retries?: number;
  /** Checked before each attempt: an aborted call rejects with CANCELLED. */
  readonly signal?: AbortSignal;
  /**
   * Per shard, a change-log position the answering replica must hold first (read-your-writes
   * after a write through the gateway); 0 or missing: none. It waits at most the attempt's timeout.
   */
  readonly minSeqs?: readonly number[];
}

/** One query's merged answer: the k best over the shards that answered. */
export interface ShardedHits extends Hits {
  /** True when some shards did not answer (only with allowPartial). */
  readonly partial: boolean;
  readonly missingShards: number[];
}

const DEFAULT_TIMEOUT_MS = 2000;
const DEFAULT_RETRIES = 2;
/** Request bodies stay under this share of the server's max_payload (queries are split into several requests). */
const PAYLOAD_SHARE = 0.5;

/**
 * Searches a sharded service on NATS (replicas started by `webannolo serve --nats URL
 * --service NAME --shard I --shards N`): each call goes to every shard (subject
 * NAME.search.I, answered by one replica of the shard's queue group), and the shards' hits
 * are merged into the k best exactly as one index over all items would rank them. A shard
 * that does not answer within the timeout is asked again (NATS hands the retry to another
 * replica when the first is gone); one that still does not answer fails the call with an
 * UNAVAILABLE error naming it, or, with `allowPartial`, leaves a result marked `partial` with
 * `missingShards`. A replica that is behind the log a read must see (minSeqs) answers
 * UNAVAILABLE, and that attempt is retried the same way. A shard's other refusals (a bad
 * query; OVERLOADED, a replica's full queue, which the caller should back off from) fail the
 * call at once.
 *
 * @example
 * const client = await ShardedClient.connect('nats://127.0.0.1:4222', { service: 'mnist', shards: 3 });
 * const { keys, scores } = await client.search(query, 10, { ef: 64 });
 * await client.close();
 */
export class ShardedClient {
  private readonly names: ServiceNames;
  private readonly timeoutMs: number;
  private readonly retries: number;
  /** Requests to shards, retries, shards missing and partial answers so far (for metrics). */
  readonly counters: ShardCounters = newShardCounters();

  /** Uses `nc` (not closed by close()). */
  constructor(
    /** The NATS connection. */
    readonly nc: NatsConnection,
    private readonly options: ShardedClientOptions,
    private readonly ownsConnection = false,
  ) {
    this.names = checkService(options.service, options.shards);
    this.timeoutMs = checkInteger('timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS, 1);
    this.retries = checkInteger('retries', options.retries ?? DEFAULT_RETRIES, 0, 100);
  }

  /** Connects to the NATS server(s) at `servers` (comma-separated URLs); close() closes the connection. */
  static async connect(servers: string, options: ShardedClientOptions): Promise<ShardedClient> {
    checkService(options.service, options.shards);
    const nc = await connectNats(servers);
    return new ShardedClient(nc, options, true);
  }

  /** How many shards the service has. */
  get shards(): number {
    return this.names.shards;
  }

  /** The k best items of one query over all shards. */
  async search(query: Vector, k: number, params: QueryParams = {}, options: ShardedSearchOptions = {}): Promise<ShardedHits> {
    return (await this.searchMany([query], k, params, options))[0]!;
  }

  /** Row q answers queries[q]; each shard gets the queries in as few requests as its payload limit allows. */
  async searchMany(
    queries: readonly Vector[],
    k: number,
    params: QueryParams = {},
    options: ShardedSearchOptions = {},
  ): Promise<ShardedHits[]> {
    checkInteger('k', k, 1);
    if (queries.length === 0) return [];
    const timeoutMs = checkInteger('timeoutMs', options.timeoutMs ?? this.timeoutMs, 1);
    const retries = checkInteger('retries', options.retries ?? this.retries, 0, 100);
    const allowPartial = options.allowPartial ?? this.options.allowPartial ?? false;
    const chunks = this.chunk(queries);
    const perShard = await Promise.all(
      Array.from({ length: this.shards }, async (_, shard) => {
        const minSeq = options.minSeqs?.[shard] ?? 0;
        const replies: SearchReply[] = [];
        for (const part of chunks) {
          const payload = encodeSearchRequest({ queries: part, k, params, minSeq, waitMs: timeoutMs });
          const reply = await this.ask(shard, payload, timeoutMs, retries, options.signal);
          if (typeof reply === 'string') return reply;
          replies.push(reply);
        }
        return replies;
      }),
    );
    const missing: { shard: number; why: string }[] = [];
    const answered: SearchReply[][] = [];
    for (let shard = 0; shard < this.shards; shard++) {
      const r = perShard[shard]!;
      if (typeof r === 'string') missing.push({ shard, why: r });
      else answered.push(r);
    }
    if (missing.length > 0 && (!allowPartial || answered.length === 0)) {
      const list = missing.map((m) => `shard ${m.shard} (${m.why})`).join(', ');
      fail(
        'UNAVAILABLE',
        `service ${this.names.service}: ${missing.length} of ${this.shards} shards did not answer: ${list}${allowPartial ? '' : '; allowPartial returns the others'}`,
      );
    }
    const metric = answered[0]![0]!.metric as Metric;
    const missingShards = missing.map((m) => m.shard);
    if (missingShards.length > 0) this.counters.partial += queries.length;
    const out: ShardedHits[] = [];
    for (let q = 0, c = 0, inChunk = 0; q < queries.length; q++, inChunk++) {
      if (inChunk === chunks[c]!.length) {
        c++;
        inChunk = 0;
      }
      const merged = mergeHits(
        answered.map((replies) => replies[c]!.hits[inChunk]!),
        k,
        metric,
      );
      out.push({ ...merged, partial: missingShards.length > 0, missingShards });
    }
    return out;
  }

  /** Each shard's description from one of its replicas (null: no replica answered). */
  async shardInfos(timeoutMs = this.timeoutMs): Promise<(ShardInfo | null)[]> {
    return Promise.all(
      Array.from({ length: this.shards }, async (_, shard) => {
        try {
          return (await this.nc.request(infoSubject(this.names, shard), '', { timeout: timeoutMs })).json<ShardInfo>();
        } catch (err) {
          if (this.nc.isClosed()) throw closedError(this.names.service);
          if (err instanceof errors.RequestError || err instanceof errors.TimeoutError) return null;
          throw err;
        }
      }),
    );
  }

  /** Closes the connection when this client opened it. */
  async close(): Promise<void> {
    if (this.ownsConnection && !this.nc.isClosed()) await this.nc.drain();
  }

  /** One shard's reply (see askShard), or a string saying why none came. */
  private ask(
    shard: number,
    payload: Uint8Array,
    timeoutMs: number,
    retries: number,
    signal: AbortSignal | undefined,
  ): Promise<SearchReply | string> {
    const options = { timeoutMs, retries, signal, counters: this.counters, service: this.names.service };
    return askShard<SearchReply>(this.nc, searchSubject(this.names, shard), payload, options, (data) => {
      const reply = decodeSearchReply(data);
      if (!('error' in reply)) return reply;
      // A replica still applying the log a read must see: another replica may hold it already.
      if (reply.error.code === 'UNAVAILABLE') return { again: reply.error.message };
      throw fromWireError(reply.error, `shard ${shard}`);
    });
  }

  /** Splits the queries so that each request stays well under the server's payload limit. */
  private chunk(queries: readonly Vector[]): Vector[][] {
    const limit = (this.nc.info?.max_payload ?? 1 << 20) * PAYLOAD_SHARE;
    const chunks: Vector[][] = [[]];
    let bytes = 0;
    for (const q of queries) {
      const size = q instanceof Float32Array ? q.byteLength : q.indices.byteLength + q.values.byteLength + 8;
      if (bytes + size > limit && chunks[chunks.length - 1]!.length > 0) {
        chunks.push([]);
        bytes = 0;
      }
      chunks[chunks.length - 1]!.push(q);
      bytes += size;
    }
    return chunks;
  }
}

/** Connects to NATS: comma-separated server URLs; a clear error when none can be reached. */
export async function connectNats(servers: string, name = 'webannolo'): Promise<NatsConnection> {
  const list = servers
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (list.length === 0) fail('INVALID_ARGUMENT', 'nats: give at least one server URL (nats://host:port)');
  try {
    return await connect({ servers: list, name, maxReconnectAttempts: -1 });
  } catch (err) {
    return fail('INVALID_ARGUMENT', `nats: cannot connect to ${list.join(', ')}: ${(err as Error).message}`);
  }
}

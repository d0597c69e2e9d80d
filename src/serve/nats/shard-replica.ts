import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { fail, WebannoloError } from '../../errors.js';
import type { ItemKey } from '../../indexes/items/item-keys.js';
import { type ApplyOutcome, ApplyResults } from './apply-results.js';
import { type Following, followChanges } from './change-log.js';
import { decodeChange, decodeSearchRequest, encodeErrorReply, encodeSearchReply } from './messages.js';
import type { ShardIndex } from './shard-index.js';
import {
  appliedSubject,
  checkService,
  checkShard,
  infoSubject,
  lookupSubject,
  queueGroup,
  type ServiceNames,
  searchSubject,
} from './subjects.js';
import { toWireError, type WireError } from './wire.js';

/** Options of ShardReplica.start: the connection, the service and shard, the index. */
export interface ShardReplicaOptions {
  /** The NATS connection. */
  readonly nc: NatsConnection;
  /** The service name, prefix of its subjects. */
  readonly service: string;
  /** How many shards the service has. */
  readonly shards: number;
  /** Which shard this replica serves (0 .. shards - 1). */
  readonly shard: number;
  /** The shard's index. */
  readonly index: ShardIndex;
  /**
   * Follow the shard's change log (a JetStream stream) and apply it; default true. The replica
   * applies what the log holds past its file before it answers any search. false: reads only.
   */
  readonly followChanges?: boolean;
  /** Where the replica reports what it does (applied changes that failed, the log ending). */
  readonly onLog?: (line: string) => void;
  /** Refused changes remembered for NAME.applied.I (default 10000; see ApplyResults). */
  readonly keptRefusals?: number;
}

/** NAME.applied.I's request: what did change `seq` do? Wait at most `waitMs` for it to be applied. */
export interface AppliedRequest {
  readonly seq: number;
  readonly waitMs: number;
}

/** NAME.applied.I's reply: the outcome, or `error` (UNAVAILABLE: not applied within the wait). */
export type AppliedReply = ApplyOutcome | { readonly error: WireError };

/** What NAME.info.I answers, as JSON. */
export interface ShardInfo {
  /** Which shard. */
  readonly shard: number;
  /** How many shards the service has. */
  readonly shards: number;
  /** Dimension of the vectors. */
  readonly dim: number;
  /** 'l2' or 'ip'. */
  readonly metric: string;
  /** Live items in the shard. */
  readonly items: number;
  /** The last change-log position the replica has handled (applied or refused). */
  readonly appliedSeq: number;
  /** The replica that answered. */
  readonly replica: string;
}

/**
 * One replica of one shard of a sharded service on NATS: it answers the shard's searches in
 * the shard's queue group (so NATS gives each request to one replica, and to the others when
 * one is gone) and applies the shard's change log in order, as JetStream delivers it (the
 * consumer pushes each change as it is stored, so a change is applied within milliseconds of
 * its PubAck). It remembers what each change did (ApplyResults) and says so on NAME.applied.I,
 * which is how a gateway learns whether the write it published was applied or refused.
 */
export class ShardReplica {
  private readonly subs: Subscription[] = [];
  private readonly running = new Set<Promise<void>>();
  private following: Following | null = null;
  private waiters: { seq: number; wake: () => void }[] = [];
  private readonly results: ApplyResults;
  private closed = false;
  /** The log ended with an error: searches are refused from then on. */
  private failure: string | null = null;
  /** A name for this replica: its process id and a random suffix. */
  readonly replica = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  private constructor(
    private readonly options: ShardReplicaOptions,
    private readonly names: ServiceNames,
  ) {
    this.results = new ApplyResults(options.index.appliedSeq, options.keptRefusals);
  }

  /** Starts the replica: catches up with the change log, then subscribes to its subjects. */
  static async start(options: ShardReplicaOptions): Promise<ShardReplica> {
    const names = checkService(options.service, options.shards);
    checkShard(names, options.shard);
    const r = new ShardReplica(options, names);
    if (options.followChanges !== false) await r.follow();
    const { nc, shard } = options;
    const queue = queueGroup(names, shard);
    const serve = (subject: string, handle: (m: Msg) => Promise<void>) =>
      r.subs.push(nc.subscribe(subject, { queue, callback: (err, m) => (err ? r.log(`${subject}: ${err.message}`) : r.track(handle(m))) }));
    serve(searchSubject(names, shard), (m) => r.onSearch(m));
    serve(infoSubject(names, shard), async (m) => void m.respond(JSON.stringify(r.info())));
    serve(lookupSubject(names, shard), (m) => r.onLookup(m));
    serve(appliedSubject(names, shard), (m) => r.onApplied(m));
    await nc.flush();
    return r;
  }

  /** What this replica serves, as it answers NAME.info.I requests. */
  info(): ShardInfo {
    const d = this.options.index.describe();
    return {
      shard: this.options.shard,
      shards: this.names.shards,
      dim: d.dim,
      metric: d.metric,
      items: d.items,
      appliedSeq: this.results.seq,
      replica: this.replica,
    };
  }

  /** Stops answering, lets the requests in hand finish, stops following the log. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.subs.map((s) => s.drain().catch(() => {})));
    await Promise.all(this.running);
    await this.following?.stop();
    for (const w of this.waiters) w.wake();
    this.waiters = [];
  }

  private async follow(): Promise<void> {
    const { following, lastSeq } = await followChanges(this.options.nc, this.names, this.options.shard, this.results.seq, (bytes, seq) =>
      this.apply(bytes, seq),
    );
    this.following = following;
    following.ended.then(
      () => this.closed || this.log('the change log ended'),
      (err: Error) => {
        this.failure = `the change log failed: ${err.message}`;
        this.log(this.failure);
      },
    );
    // Searches start once the replica holds everything the log held when it started.
    if (this.results.seq < lastSeq && !(await this.waitApplied(lastSeq, 120_000)))
      fail('INVALID_ARGUMENT', `shard ${this.options.shard}: could not apply the change log up to ${lastSeq} within 120 s`);
  }

  private async apply(bytes: Uint8Array, seq: number): Promise<void> {
    // A redelivery (the ordered consumer starts over after a gap): handled already.
    if (seq <= this.results.seq) return;
    let refusal: WireError | null = null;
    try {
      await this.options.index.applyChange(decodeChange(bytes), seq);
    } catch (err) {
      // Closing under the change: it was not applied here, and this replica answers no more.
      if (err instanceof WebannoloError && err.code === 'CLOSED') return;
      // Every replica refuses the same change alike (same state), so skipping it keeps them equal.
      refusal = toWireError(err);
      this.log(`change ${seq} refused: ${refusal.message}`);
    }
    this.results.record(seq, refusal);
    const ready = this.waiters.filter((w) => w.seq <= seq);
    this.waiters = this.waiters.filter((w) => w.seq > seq);
    for (const w of ready) w.wake();
  }

  /** Resolves true once the replica has handled log position `seq`, false after `ms`. */
  private waitApplied(seq: number, ms: number): Promise<boolean> {
    if (this.results.seq >= seq) return Promise.resolve(true);
    if (ms <= 0 || this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter = { seq, wake: () => resolve(this.results.seq >= seq) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, ms);
      waiter.wake = () => {
        clearTimeout(timer);
        resolve(this.results.seq >= seq);
      };
      this.waiters.push(waiter);
    });
  }

  private async onSearch(m: Msg): Promise<void> {
    try {
      if (this.failure) fail('UNAVAILABLE', `shard ${this.options.shard}: ${this.failure}`);
      const req = decodeSearchRequest(m.data);
      if (req.minSeq > 0) await this.holdOrRefuse(req.minSeq, req.waitMs);
      const hits = await this.options.index.searchMany(req.queries, req.k, req.params);
      const metric = this.options.index.describe().metric;
      m.respond(encodeSearchReply({ metric, hits, appliedSeq: this.results.seq, replica: this.replica }));
    } catch (err) {
      m.respond(encodeErrorReply(toWireError(err)));
    }
  }

  /** NAME.lookup.I: {keys, minSeq?} -> {present: boolean[], appliedSeq}. */
  private async onLookup(m: Msg): Promise<void> {
    try {
      const req = m.json<{ keys: ItemKey[]; minSeq?: number; waitMs?: number }>();
      if (!Array.isArray(req.keys)) fail('INVALID_ARGUMENT', 'lookup: keys must be a list');
      if (req.minSeq) await this.holdOrRefuse(req.minSeq, req.waitMs ?? 0);
      const index = this.options.index;
      m.respond(JSON.stringify({ present: req.keys.map((k) => index.has(k)), appliedSeq: this.results.seq, replica: this.replica }));
    } catch (err) {
      m.respond(JSON.stringify({ error: toWireError(err) }));
    }
  }

  /** NAME.applied.I: {seq, waitMs} -> AppliedReply, once the replica has handled `seq` (or UNAVAILABLE after waitMs). */
  private async onApplied(m: Msg): Promise<void> {
    let reply: AppliedReply;
    try {
      const req = m.json<AppliedRequest>();
      if (!Number.isSafeInteger(req.seq) || req.seq < 1) fail('INVALID_ARGUMENT', 'applied: seq must be a log position (>= 1)');
      await this.holdOrRefuse(req.seq, typeof req.waitMs === 'number' ? req.waitMs : 0);
      reply = this.results.outcome(req.seq);
    } catch (err) {
      reply = { error: toWireError(err) };
    }
    m.respond(JSON.stringify(reply));
  }

  /**
   * Waits (at most `waitMs`) until this replica has handled log position `seq`; fails with
   * UNAVAILABLE when it has not by then, so that the caller asks again (NATS may hand the
   * retry to another replica of the queue group, one further along).
   */
  private async holdOrRefuse(seq: number, waitMs: number): Promise<void> {
    if (this.failure) fail('UNAVAILABLE', `shard ${this.options.shard}: ${this.failure}`);
    if (!(await this.waitApplied(seq, waitMs)))
      fail(
        'UNAVAILABLE',
        `shard ${this.options.shard} replica ${this.replica} has not applied change ${seq} within ${waitMs} ms (at ${this.results.seq})`,
      );
  }

  private track(p: Promise<void>): void {
    this.running.add(p);
    p.catch((err: Error) => this.log(`request failed: ${err.message}`)).finally(() => this.running.delete(p));
  }

  private log(line: string): void {
    this.options.onLog?.(`shard ${this.options.shard} replica ${this.replica}: ${line}`);
  }
}

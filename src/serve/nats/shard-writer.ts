import { randomBytes } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { fail, WebannoloError } from '../../errors.js';
import type { ItemKey } from '../../indexes/items/item-keys.js';
import type { ApplyOutcome } from './apply-results.js';
import { askShard, type ShardCounters } from './ask-shard.js';
import type { AppliedReply } from './shard-replica.js';
import { appliedSubject, changesStream, changesSubject, lookupSubject, type ServiceNames } from './subjects.js';
import { fromWireError, type WireError } from './wire.js';

/** Write parts by what became of them, for metrics. */
export interface WriteCounters {
  applied: number;
  refused: number;
  /** Durable in the log (or perhaps so), but no replica said what applying it did. */
  unknown: number;
}

/** What became of one shard's part of a write. */
export type PartResult =
  | { readonly shard: number; readonly seq: number; readonly outcome: 'applied' }
  | { readonly shard: number; readonly seq: number; readonly outcome: 'refused'; readonly refusal: WireError }
  | { readonly shard: number; readonly seq: number | null; readonly outcome: 'unknown'; readonly why: string };

/**
 * A gateway's writes to the shards' change logs, one shard's part at a time: the optional
 * up-front key check (NAME.lookup.I), the publish to the shard's JetStream stream (durable once
 * its PubAck arrives, at log position S), and the question to the shard's replicas of what
 * applying S did (NAME.applied.I: a replica answers once it has applied S, which it does as
 * soon as JetStream delivers it).
 */
export class ShardWriter {
  readonly counters: WriteCounters = { applied: 0, refused: 0, unknown: 0 };

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly names: ServiceNames,
    private readonly ask: { readonly timeoutMs: number; readonly retries: number; readonly counters: ShardCounters },
  ) {}

  /**
   * Fails when some of `keys` are (present: true) or are not (false) in `shard`, as of log
   * position `minSeq` at least. A check only: another writer may change the keys before this
   * write's part reaches the log, and then the replicas refuse the part (see publish).
   */
  async check(shard: number, keys: readonly ItemKey[], present: boolean, minSeq: number): Promise<void> {
    const { timeoutMs } = this.ask;
    const payload = JSON.stringify({ keys, minSeq, waitMs: timeoutMs });
    const reply = await askShard<boolean[]>(this.nc, lookupSubject(this.names, shard), payload, this.askOptions(), (data) => {
      const r = JSON.parse(new TextDecoder().decode(data)) as { present?: boolean[]; error?: WireError };
      if (r.error?.code === 'UNAVAILABLE') return { again: r.error.message };
      if (r.error) throw fromWireError(r.error, `shard ${shard}`);
      if (!Array.isArray(r.present) || r.present.length !== keys.length)
        fail('INVALID_ARGUMENT', `shard ${shard}: a malformed lookup reply`);
      return r.present;
    });
    if (typeof reply === 'string')
      fail('UNAVAILABLE', `shard ${shard} of service ${this.names.service} did not answer (${reply}): the write was not made`);
    const bad = keys.filter((_, i) => reply[i] === present);
    if (bad.length > 0)
      fail(
        'INVALID_ARGUMENT',
        present
          ? `key ${JSON.stringify(bad[0])} is already in the index: remove it first, or add with upsert`
          : `key ${JSON.stringify(bad[0])} is not in the index: nothing was removed`,
      );
  }

  /**
   * Publishes one shard's part of a write and learns what applying it did: `applied` and
   * `refused` are what every replica of the shard did (they apply the same log to the same
   * state); `unknown` when the publish was not acknowledged (the part may or may not be in the
   * log) or no replica could say within the attempts.
   */
  async publish(shard: number, payload: Uint8Array): Promise<PartResult> {
    const seq = await this.append(shard, payload);
    if (typeof seq === 'string') {
      this.counters.unknown++;
      return { shard, seq: null, outcome: 'unknown', why: seq };
    }
    const result = await this.outcome(shard, seq);
    this.counters[result.outcome]++;
    return result;
  }

  /**
   * Appends a part to the shard's stream: its log position once JetStream acknowledged it, or
   * why not. A publish without an answer is sent again under the same message id, which
   * JetStream's duplicate window recognises (the PubAck of a duplicate names the first's
   * position), so a retry never logs a part twice.
   */
  private async append(shard: number, payload: Uint8Array): Promise<number | string> {
    const msgID = randomBytes(12).toString('hex');
    let why = '';
    for (let attempt = 0; attempt <= this.ask.retries; attempt++) {
      try {
        const ack = await this.js.publish(changesSubject(this.names, shard), payload, {
          msgID,
          expect: { streamName: changesStream(this.names, shard) },
          timeout: this.ask.timeoutMs,
        });
        return ack.seq;
      } catch (err) {
        if (this.nc.isClosed()) throw new WebannoloError('CLOSED', `service ${this.names.service}: the NATS connection is closed`);
        why = (err as Error).message;
      }
    }
    return `the change log did not acknowledge it (${why}, ${this.ask.retries + 1} attempts)`;
  }

  /** What applying log position `seq` of `shard` did, asked of its replicas. */
  private async outcome(shard: number, seq: number): Promise<PartResult> {
    const { timeoutMs } = this.ask;
    // The replica answers UNAVAILABLE at waitMs; the request waits a little longer for that answer.
    const payload = JSON.stringify({ seq, waitMs: timeoutMs });
    const options = { ...this.askOptions(), timeoutMs: timeoutMs + 250 };
    let unknown = '';
    const reply = await askShard<ApplyOutcome>(this.nc, appliedSubject(this.names, shard), payload, options, (data) => {
      const r = JSON.parse(new TextDecoder().decode(data)) as AppliedReply;
      if ('error' in r) {
        if (r.error.code === 'UNAVAILABLE') return { again: r.error.message };
        throw fromWireError(r.error, `shard ${shard}`);
      }
      // This replica loaded a snapshot past `seq`: another one may have applied it itself.
      if (r.outcome === 'unknown') {
        unknown = `the replicas that answered hold change ${seq} from a snapshot and no longer know what it did`;
        return { again: unknown };
      }
      return r;
    });
    if (typeof reply === 'string') return { shard, seq, outcome: 'unknown', why: unknown || `no replica applied it (${reply})` };
    return reply.outcome === 'refused' ? { shard, seq, outcome: 'refused', refusal: reply.refusal } : { shard, seq, outcome: 'applied' };
  }

  private askOptions() {
    return { timeoutMs: this.ask.timeoutMs, retries: this.ask.retries, counters: this.ask.counters, service: this.names.service };
  }
}

/**
 * The error of a write some of whose parts were not applied: the refusal itself for a write
 * to one shard; for one that spans shards, a message naming each shard whose part was refused
 * (or whose outcome is unknown) and the shards whose parts were applied (they stay applied).
 * A refusal's own code wins (the request was wrong: a 400); otherwise UNAVAILABLE.
 */
export function writeError(service: string, results: readonly PartResult[]): WebannoloError {
  const refused = results.filter((r) => r.outcome === 'refused');
  const unknown = results.filter((r) => r.outcome === 'unknown');
  const applied = results.filter((r) => r.outcome === 'applied').map((r) => r.shard);
  const first = refused[0];
  if (results.length === 1 && first) return fromWireError(first.refusal, `shard ${first.shard} refused the change`);
  const parts = [
    ...refused.map((r) => `shard ${r.shard} refused its part (${r.refusal.message})`),
    ...unknown.map(
      (r) =>
        `shard ${r.shard}: its part${r.seq === null ? '' : ` (change ${r.seq})`} may or may not be applied: ${r.why}; look its keys up before writing them again`,
    ),
  ];
  const tail =
    applied.length > 0
      ? `; the part${applied.length > 1 ? 's' : ''} of shard${applied.length > 1 ? 's' : ''} ${applied.join(', ')} ${applied.length > 1 ? 'were' : 'was'} applied`
      : '';
  const message = `service ${service}: ${parts.join('; ')}${tail}`;
  return new WebannoloError(first ? fromWireError(first.refusal, '').code : 'UNAVAILABLE', message);
}

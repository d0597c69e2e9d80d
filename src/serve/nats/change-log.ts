import { DeliverPolicy, JetStreamApiError, type JetStreamManager, jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { changesStream, changesSubject, type ServiceNames } from './subjects.js';

/**
 * A shard's change log: one JetStream stream per shard (NAME_changes_I on subject
 * NAME.changes.I, file storage, every message kept), the replicated, durable log its replicas
 * apply in order. The gateway publishes a change and acknowledges it after JetStream's PubAck;
 * a replica applies the messages from the sequence after the one its index file holds.
 * A stream's sequence numbers are the shard's log positions.
 */

/** Creates shard `shard`'s stream unless it exists; returns its last sequence. */
export async function ensureChangeStream(jsm: JetStreamManager, names: ServiceNames, shard: number): Promise<number> {
  const name = changesStream(names, shard);
  try {
    return (await jsm.streams.info(name)).state.last_seq;
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== 10059) throw err;
  }
  try {
    return (await jsm.streams.add({ name, subjects: [changesSubject(names, shard)], storage: StorageType.File })).state.last_seq;
  } catch (err) {
    // Another process made it meanwhile (stream name already in use): same configuration.
    if (err instanceof JetStreamApiError && err.code === 10058) return (await jsm.streams.info(name)).state.last_seq;
    throw err;
  }
}

/** Stops a follower. */
export interface Following {
  stop(): Promise<void>;
  /** Settles when the follower ends: rejects if it failed, resolves when stopped. */
  readonly ended: Promise<void>;
}

/**
 * Applies shard `shard`'s changes in log order, from sequence `from + 1` on, as they come
 * (an ordered consumer: JetStream redelivers from the last one seen after any gap).
 * Resolves once the consumer is set up, with the stream's last sequence at that moment.
 *
 * consume() keeps a pull request open on the server at all times (renewed before it expires,
 * idle or not), so JetStream pushes each change the moment it stores it: a change reaches
 * the replica about when its PubAck reaches the publisher (a few ms), after any idle time.
 */
export async function followChanges(
  nc: NatsConnection,
  names: ServiceNames,
  shard: number,
  from: number,
  apply: (change: Uint8Array, seq: number) => Promise<void>,
): Promise<{ following: Following; lastSeq: number }> {
  const jsm = await jetstreamManager(nc);
  const lastSeq = await ensureChangeStream(jsm, names, shard);
  const consumer = await jetstream(nc).consumers.get(changesStream(names, shard), {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: from + 1,
  });
  const messages = await consumer.consume();
  const ended = (async () => {
    for await (const m of messages) await apply(m.data, m.seq);
  })();
  ended.catch(() => {});
  return {
    lastSeq,
    following: {
      ended,
      stop: async () => {
        await messages.close();
        await ended.catch(() => {});
      },
    },
  };
}

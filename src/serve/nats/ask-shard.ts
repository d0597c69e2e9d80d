import { errors, type NatsConnection } from '@nats-io/transport-node';
import { fail, WebannoloError } from '../../errors.js';

/** Running totals of the requests to shards, for metrics (ServeMetrics reads them at each scrape). */
export interface ShardCounters {
  /** Requests sent to a shard's queue group, every attempt counted. */
  attempts: number;
  /** Attempts that repeated an earlier one (no reply, no replica, or a replica behind the log). */
  retries: number;
  /** Times a shard gave no usable reply after every attempt. */
  missing: number;
  /** Searches answered without some shards (allowPartial). */
  partial: number;
}

export function newShardCounters(): ShardCounters {
  return { attempts: 0, retries: 0, missing: 0, partial: 0 };
}

/** What `decode` returns to have the request asked again: why this reply would not do. */
export interface AskAgain {
  readonly again: string;
}

export interface AskOptions {
  /** How long one attempt waits for the reply, in ms. */
  readonly timeoutMs: number;
  /** Attempts after the first. */
  readonly retries: number;
  /** Checked before each attempt: an aborted call rejects with CANCELLED. */
  readonly signal?: AbortSignal | undefined;
  readonly counters?: ShardCounters | undefined;
  /** Names the service in errors. */
  readonly service: string;
}

/**
 * Asks one shard (a request to its queue group, `subject`) up to 1 + retries times, and
 * returns the decoded reply, or a string saying why none came. NATS hands each attempt to one
 * replica of the group, so a retry usually reaches another one when the first is gone or
 * behind. `decode` returns the reply, an AskAgain (a replica that could not answer yet:
 * UNAVAILABLE), or throws: the shard's own refusal (bad input) rejects at once, since asking
 * again would not help.
 */
export async function askShard<T>(
  nc: NatsConnection,
  subject: string,
  payload: Uint8Array | string,
  options: AskOptions,
  decode: (data: Uint8Array) => T | AskAgain,
): Promise<T | string> {
  const { timeoutMs, retries, signal, counters } = options;
  let why = '';
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (signal?.aborted) fail('CANCELLED', `service ${options.service}: request cancelled`);
    if (counters) {
      counters.attempts++;
      if (attempt > 0) counters.retries++;
    }
    try {
      const msg = await nc.request(subject, payload, { timeout: timeoutMs });
      const reply = decode(msg.data);
      if (!isAskAgain(reply)) return reply;
      why = reply.again;
    } catch (err) {
      if (err instanceof WebannoloError) throw err;
      if (nc.isClosed()) throw closedError(options.service);
      if (err instanceof errors.RequestError && err.isNoResponders()) {
        why = 'no replica is serving it';
        // Replicas may be starting or reconnecting: wait a little before asking again.
        if (attempt < retries) await sleep(Math.min(timeoutMs, 50 * 2 ** attempt));
      } else if (err instanceof errors.TimeoutError || (err instanceof errors.RequestError && err.cause instanceof errors.TimeoutError)) {
        why = `no reply within ${timeoutMs} ms`;
      } else {
        throw err;
      }
    }
  }
  if (counters) counters.missing++;
  return `${why}, ${retries + 1} attempt${retries === 0 ? '' : 's'}`;
}

function isAskAgain(x: unknown): x is AskAgain {
  return typeof x === 'object' && x !== null && typeof (x as { again?: unknown }).again === 'string';
}

export function closedError(service: string): WebannoloError {
  return new WebannoloError('CLOSED', `service ${service}: the NATS connection is closed`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

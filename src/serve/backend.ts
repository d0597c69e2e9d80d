import type { SearchFilter } from '../indexes/filter.js';
import type { LabelRow } from '../indexes/hnsw/living/living-index.js';
import type { ItemKey } from '../indexes/items/item-keys.js';
import type { Metric, Vector } from '../types.js';

/**
 * What the HTTP front of `webannolo serve` talks to: one index in this process (LocalBackend:
 * a QueryBatcher in front of it, writes through its write-ahead log) or a sharded service on
 * NATS (the gateway). The routes only translate HTTP to these calls and back, so both serve
 * the same API.
 */
export interface ServeBackend {
  /** What is served, for /health and /metrics. */
  describe(): BackendInfo;
  /** The k best items of one query. Rejects with a WebannoloError (INVALID_ARGUMENT, OVERLOADED, ...). */
  search(query: Vector, k: number, params: QueryParams, signal?: AbortSignal): Promise<Hits>;
  /** Row q answers queries[q]. */
  searchMany(queries: readonly Vector[], k: number, params: QueryParams, signal?: AbortSignal): Promise<Hits[]>;
  /** Adds (or with upsert replaces) items; resolves once the change is durable. */
  add(change: AddChange): Promise<WriteAck>;
  /** Removes items by key; resolves once the change is durable. An unknown key removes nothing and rejects. */
  remove(keys: readonly ItemKey[]): Promise<WriteAck>;
  /** Writes a snapshot (index file atomically, log truncated); null where the backend has none. */
  snapshot(): Promise<SnapshotInfo | null>;
  /** Stops taking work, finishes what runs, flushes; idempotent. */
  close(): Promise<void>;
}

/** Per-query parameters a request may set. */
export interface QueryParams {
  /** Beam width (raised to k); the server's default when left out. */
  ef?: number;
  /** Candidates re-scored by their plain vectors. */
  rerank?: number;
  /** Only items this filter allows. */
  filter?: SearchFilter;
}

/** One query's answer, best first: keys (ids on an index without keys) and natural scores. */
export interface Hits {
  /** The keys of the results (ids on an index without keys), best first. */
  readonly keys: (ItemKey | null)[];
  /** Their scores: squared L2 distance (smaller is nearer) or inner product (larger is nearer). */
  readonly scores: number[];
  /** Shards that did not answer, when a sharded search was allowed to be partial. */
  readonly missingShards?: number[];
}

export interface AddChange {
  /** A key per new item. */
  readonly keys: readonly ItemKey[];
  /** A vector per new item. */
  readonly vectors: readonly Vector[];
  /** Labels per new item. */
  readonly labels?: readonly LabelRow[];
  /** Replace items whose key is already there (default: that is an error). */
  readonly upsert?: boolean;
}

/** A durable change: its sequence number in the log, and how many items it touched. */
export interface WriteAck {
  /** The change's sequence number in the log. */
  readonly seq: number;
  /** Items it added or removed. */
  readonly items: number;
}

export interface SnapshotInfo {
  /** The log position the snapshot holds everything up to. */
  readonly seq: number;
  /** Size of the index file written. */
  readonly bytes: number;
  /** How long the snapshot took. */
  readonly seconds: number;
}

export interface BackendInfo {
  /** 'local' (one index in this process) or 'gateway' (shards on NATS). */
  readonly kind: 'local' | 'gateway';
  /** Dimension of the vectors. */
  readonly dim: number;
  /** 'l2' or 'ip'. */
  readonly metric: Metric;
  /** Live items (the sum over shards for a gateway). */
  readonly items: number;
  /** Whether writes are possible (an index with keys, a log). */
  readonly writable: boolean;
  /** 'cpu', 'gpu' or 'auto', and the GPU mode last used ('resident', 'hybrid', 'none'). */
  readonly backend: string;
  /** The GPU mode of the last batch. */
  readonly gpuMode: string;
  /** Set when the backend cannot serve (say the log failed): /health reports not ready. */
  readonly failure: string | null;
}

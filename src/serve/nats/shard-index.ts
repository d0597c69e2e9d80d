import type { QueryBatcherOptions } from '../../batching/batcher-options.js';
import { fail } from '../../errors.js';
import { HnswIndex } from '../../indexes/hnsw/hnsw-index.js';
import type { ItemKey } from '../../indexes/items/item-keys.js';
import { readIndexHeader } from '../../node/index-files.js';
import type { Vector } from '../../types.js';
import type { BackendInfo, Hits, QueryParams, SnapshotInfo } from '../backend.js';
import type { DurableIndex, DurableOptions } from '../durable/durable-index.js';
import { LocalBackend } from '../local-backend.js';
import type { ShardChange } from './messages.js';

/** What a shard replica needs of the index it serves. */
export interface ShardIndex {
  /** What the shard holds: dimension, metric, items. */
  describe(): BackendInfo;
  /** Row q answers queries[q]; k is cut to the shard's size (a shard may hold fewer than k items). */
  searchMany(queries: readonly Vector[], k: number, params: QueryParams): Promise<Hits[]>;
  /**
   * Applies change `seq` of the shard's log; changes come in log order, each once. The index
   * holds `seq` afterwards even when the change is refused (a duplicate key, an unknown one):
   * every replica refuses it alike, so they stay equal.
   */
  applyChange(change: ShardChange, seq: number): Promise<void>;
  /** Whether a live item has this key. */
  has(key: ItemKey): boolean;
  /** The last log sequence the index holds: the file's, then each applied change's. */
  readonly appliedSeq: number;
  /** Releases the index (and its log). */
  close(): Promise<void>;
}

/** A shard file's annotations: which shard it is, and the change-log position it holds (0: none). */
export interface ShardAnnotations {
  readonly shard: number | undefined;
  readonly shards: number | undefined;
  readonly seq: number;
}

/** Reads a shard file's annotations (written by `build --shards`, and by snapshots). */
export async function readShardAnnotations(path: string): Promise<ShardAnnotations> {
  const { header } = await readIndexHeader(path);
  const a = (header['annotations'] ?? {}) as Record<string, unknown>;
  const int = (x: unknown) => (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 ? x : undefined);
  return { shard: int(a['shard']), shards: int(a['shards']), seq: int((a['externalLog'] as { seq?: unknown } | undefined)?.seq) ?? 0 };
}

/**
 * An HNSW index file served as a shard through a LocalBackend: its QueryBatcher batches the
 * queries of concurrent requests; changes come from the shard's JetStream stream through the
 * DurableIndex's applyReplicated (in the stream's order; its snapshots write the file with the
 * stream position, annotation `externalLog: {name, seq}`, so a restart resumes after it).
 * The file is locked while served: each replica serves its own copy. Without a log
 * (`externalLog` undefined) the file is served read-only.
 */
export class LocalShardIndex implements ShardIndex {
  private readonly index: HnswIndex;
  private readonly durable: DurableIndex | null;

  private constructor(private readonly backend: LocalBackend) {
    this.index = backend.index as HnswIndex;
    this.durable = backend.durable;
  }

  /** Opens a shard file (an hnsw index with keys): read-only, or following an external change log as a replica does. */
  static async open(
    path: string,
    options: { externalLog?: string; batcher?: QueryBatcherOptions; durable?: DurableOptions } = {},
  ): Promise<LocalShardIndex> {
    const log =
      options.externalLog === undefined
        ? false
        : { ...options.durable, externalLog: options.externalLog, command: 'webannolo serve --nats' };
    const backend = await LocalBackend.open(path, { log, ...(options.batcher ? { batcher: options.batcher } : {}) });
    const index = backend.index;
    if (!(index instanceof HnswIndex) || index.keys === null || (options.externalLog !== undefined && backend.durable === null)) {
      await backend.close();
      return fail('INVALID_ARGUMENT', `${path}: a shard must be an hnsw index with keys (build it with \`webannolo build --shards N\`)`);
    }
    return new LocalShardIndex(backend);
  }

  get appliedSeq(): number {
    return this.durable?.stats.seq ?? 0;
  }

  has(key: ItemKey): boolean {
    return this.index.has(key);
  }

  /** What the shard holds: dimension, metric, items. */
  describe(): BackendInfo {
    return this.backend.describe();
  }

  searchMany(queries: readonly Vector[], k: number, params: QueryParams): Promise<Hits[]> {
    // A shard may hold fewer than k items: it answers what it has.
    return this.backend.searchMany(queries, Math.min(k, this.index.capacity), params);
  }

  async applyChange(change: ShardChange, seq: number): Promise<void> {
    if (this.durable === null) fail('READ_ONLY', 'this shard is served read-only: it follows no change log');
    const { error } = this.durable.applyReplicated(
      change.op === 'remove'
        ? { seq, op: 'remove', keys: change.keys }
        : {
            seq,
            op: 'add',
            keys: change.change.keys,
            vectors: change.change.vectors,
            ...(change.change.labels ? { labels: change.change.labels } : {}),
            upsert: change.change.upsert === true,
          },
    );
    if (error) throw error;
  }

  /** Writes the file with everything applied so far (and the stream position); null when read-only. */
  snapshot(): Promise<SnapshotInfo | null> {
    return this.backend.snapshot();
  }

  /** Releases the index (and its log). */
  close(): Promise<void> {
    return this.backend.close();
  }
}

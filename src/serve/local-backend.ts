import type { BatchInfo, QueryBatcherOptions, QueryBatcherStats } from '../batching/batcher-options.js';
import { QueryBatcher } from '../batching/query-batcher.js';
import { WebannoloError } from '../errors.js';
import { HnswIndex } from '../indexes/hnsw/hnsw-index.js';
import type { AnyIndex } from '../indexes/index-codec.js';
import type { ItemKey } from '../indexes/items/item-keys.js';
import { closeIndex, type LoadIndexOptions, loadIndexFile } from '../node/index-files.js';
import type { SearchResult, Vector } from '../types.js';
import type { AddChange, BackendInfo, Hits, QueryParams, ServeBackend, SnapshotInfo, WriteAck } from './backend.js';
import { DurableIndex, type DurableOptions, type DurableStats } from './durable/durable-index.js';

/** Options of LocalBackend.open. */
export interface LocalBackendOptions {
  /** How concurrent queries are batched and on what they run (maxBatch, maxWaitMs, maxQueue, batchParams: backend, threads, gpu). */
  batcher?: QueryBatcherOptions;
  /**
   * The write-ahead log (fsync, snapshot policy). false serves the file read-only: no log, no
   * lock, writes refused with READ_ONLY. Default: a log, for an HNSW index with keys; an index
   * without keys (or a flat one) is served read-only.
   */
  log?: DurableOptions | false;
  /** How the index file is loaded when it is served read-only. */
  load?: LoadIndexOptions;
}

/** What a LocalBackend reports to metrics: its batcher's and its log's figures. */
export interface LocalBackendStats {
  /** The query batcher's counters. */
  readonly batcher: QueryBatcherStats;
  /** Null when served read-only. */
  readonly log: DurableStats | null;
  /** GPU round trips of every batch so far. */
  readonly roundTrips: number;
  /** The last batch's backend ('cpu', 'gpu', 'gpu+cpu') and GPU mode. */
  readonly lastBackend: string;
  /** The last batch's GPU mode ('resident', 'hybrid', 'none'). */
  readonly lastGpuMode: string;
}

/**
 * One index in this process behind the ServeBackend interface: queries batched by a
 * QueryBatcher, changes through a DurableIndex (its write-ahead log) and acknowledged once
 * durable.
 */
export class LocalBackend implements ServeBackend {
  private roundTrips = 0;
  private lastBackend = 'none';
  private lastGpuMode = 'none';
  private closing: Promise<void> | null = null;

  private constructor(
    /** The index served. */
    readonly index: AnyIndex,
    /** Its write-ahead log and snapshots; null when served read-only. */
    readonly durable: DurableIndex | null,
    private readonly backendChoice: string,
    batcherOptions: QueryBatcherOptions,
  ) {
    const onBatch = batcherOptions.onBatch;
    this.batcher = new QueryBatcher(index, {
      ...batcherOptions,
      onBatch: (info: BatchInfo) => {
        if (info.result) {
          this.roundTrips += info.result.roundTrips;
          this.lastBackend = info.result.backend;
          this.lastGpuMode = info.result.gpuMode;
        }
        onBatch?.(info);
      },
    });
  }

  /** The QueryBatcher that runs concurrent searches as batches. */
  readonly batcher: QueryBatcher;

  /** Opens `indexPath`: with its write-ahead log (replayed) where it can take changes, else read-only. */
  static async open(indexPath: string, options: LocalBackendOptions = {}): Promise<LocalBackend> {
    const batcherOptions = options.batcher ?? {};
    const choice = String(batcherOptions.batchParams?.backend ?? 'cpu');
    if (options.log !== false) {
      try {
        const durable = await DurableIndex.open(indexPath, { load: options.load, ...options.log });
        return new LocalBackend(durable.index, durable, choice, batcherOptions);
      } catch (e) {
        // Not writable by nature (no keys, flat): serve it read-only. Anything else (a locked
        // file, a damaged log) must not be papered over.
        if (!(e instanceof WebannoloError && e.code === 'READ_ONLY')) throw e;
      }
    }
    const index = await loadIndexFile(indexPath, options.load);
    return new LocalBackend(index, null, choice, batcherOptions);
  }

  describe(): BackendInfo {
    return {
      kind: 'local',
      dim: this.index.dim,
      metric: this.index.metric,
      items: this.index.size,
      writable: this.durable !== null,
      backend: this.backendChoice,
      gpuMode: this.lastGpuMode,
      failure: this.durable?.failure ?? null,
    };
  }

  async search(query: Vector, k: number, params: QueryParams, signal?: AbortSignal): Promise<Hits> {
    const result = await this.batcher.search(query, k, searchParams(params), signal ? { signal } : {});
    return hitsOf(result);
  }

  async searchMany(queries: readonly Vector[], k: number, params: QueryParams, signal?: AbortSignal): Promise<Hits[]> {
    // Each query joins the batcher's queue, so a multi-query request shares batches with the
    // single queries of other clients; all-or-nothing for the request.
    const results = await Promise.all(queries.map((q) => this.batcher.search(q, k, searchParams(params), signal ? { signal } : {})));
    return results.map(hitsOf);
  }

  add(change: AddChange): Promise<WriteAck> {
    return this.writable().add(change);
  }

  remove(keys: readonly ItemKey[]): Promise<WriteAck> {
    return this.writable().remove(keys);
  }

  async snapshot(): Promise<SnapshotInfo | null> {
    return this.durable ? this.durable.snapshot() : null;
  }

  /** The batcher's and the log's figures now, for metrics. */
  stats(): LocalBackendStats {
    return {
      batcher: this.batcher.stats,
      log: this.durable?.stats ?? null,
      roundTrips: this.roundTrips,
      lastBackend: this.lastBackend,
      lastGpuMode: this.lastGpuMode,
    };
  }

  /** Finishes the queued and running searches, makes every change durable, closes the log and the index's files. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.batcher.close();
      await this.durable?.close();
      if (this.index instanceof HnswIndex) await this.index.close();
      closeIndex(this.index);
    })();
    return this.closing;
  }

  private writable(): DurableIndex {
    if (this.durable === null)
      throw new WebannoloError(
        'READ_ONLY',
        this.index instanceof HnswIndex && this.index.keys !== null
          ? 'this index is served read-only'
          : 'this index has no keys, so it is served read-only: changes go by key (rebuild it with --keys)',
      );
    return this.durable;
  }
}

function searchParams(p: QueryParams) {
  const out: { ef?: number; rerank?: number; filter?: QueryParams['filter'] } = {};
  if (p.ef !== undefined) out.ef = p.ef;
  if (p.rerank !== undefined) out.rerank = p.rerank;
  if (p.filter !== undefined) out.filter = p.filter;
  return out;
}

/** A result as the service answers it: keys (ids without keys) and scores, the -1 padding of a short result left out. */
export function hitsOf(result: SearchResult): Hits {
  const keys: (ItemKey | null)[] = [];
  const scores: number[] = [];
  for (let i = 0; i < result.ids.length; i++) {
    if (result.ids[i]! < 0) continue;
    keys.push(result.keys ? result.keys[i]! : result.ids[i]!);
    scores.push(result.scores[i]!);
  }
  return { keys, scores };
}

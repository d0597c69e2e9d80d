import type { SearchResult } from '../../types.js';
import type { FilterContext } from '../filter.js';
import type { IndexState } from './living/mutations.js';
import { HnswSearcher } from './search/searcher.js';
import { WorkerAttachment } from './workers/worker-attachment.js';

/**
 * One installed state of an index as searches see it: its searcher, what its filters resolve
 * against, how its results turn into ids and keys, and its worker attachment. A search takes
 * the snapshot once and reads only it, so a state installed meanwhile (a compact ending
 * during a batch) changes nothing under it. HnswIndex makes a new one per installed state.
 */
export class Snapshot {
  readonly searcher: HnswSearcher;
  private attachment: WorkerAttachment | null | undefined;
  /** Batches running on this snapshot: its workers stay attached until the last one ends. */
  private batches = 0;
  /** A newer state was installed: the workers let go once no batch runs here. */
  private retired = false;

  constructor(
    readonly state: IndexState,
    private readonly build: { readonly efConstruction: number },
  ) {
    this.searcher = new HnswSearcher(state);
  }

  /** What a filter is resolved against (see SearchFilter). */
  filterContext(): FilterContext {
    const { graph, labels, keys, removed } = this.state;
    return { n: graph.n, labels, keys, removed: removed.count > 0 ? removed : null, order: this.state.order ?? null };
  }

  /**
   * Results over slots as the caller sees them: ids (not slots), with keys, keys, and with
   * `reranked` >= 0 (a single search that re-ranked) that count.
   */
  results(slots: Int32Array, scores: Float32Array, reranked = -1): SearchResult {
    const { order, keys } = this.state;
    const ids = order ? order.idsOf(slots) : slots;
    if (reranked < 0) return keys ? { ids, scores, keys: keys.keysOf(slots) } : { ids, scores };
    return keys ? { ids, scores, keys: keys.keysOf(slots), reranked } : { ids, scores, reranked };
  }

  /** The snapshot as worker threads see it (made on first use), or null when a store cannot be shared. */
  workers(): WorkerAttachment | null {
    if (this.attachment === undefined || (this.attachment !== null && !this.attachment.usable)) {
      const { graph, store, rerankStore } = this.state;
      this.attachment = WorkerAttachment.create(graph, store, rerankStore, this.build);
    }
    return this.attachment;
  }

  /** Runs a batch on this snapshot, keeping its workers attached until the batch ends. */
  async during<T>(batch: () => Promise<T>): Promise<T> {
    this.batches++;
    try {
      return await batch();
    } finally {
      if (--this.batches === 0 && this.retired) void this.releaseWorkers(false);
    }
  }

  /** A newer state replaced this one: its workers are released now, or when its last batch ends. */
  retire(): void {
    this.retired = true;
    if (this.batches === 0) void this.releaseWorkers(false);
  }

  /** Detaches the workers (ending the pool with endPoolIfLast when no index uses it; see WorkerAttachment.close). */
  releaseWorkers(endPoolIfLast: boolean): Promise<void> {
    const a = this.attachment;
    this.attachment = undefined;
    return a?.close(endPoolIfLast) ?? Promise.resolve();
  }
}

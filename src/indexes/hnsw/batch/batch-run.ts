import type { GpuContext } from '../../../gpu/device.js';
import type { BatchSearchResult, GpuMode } from '../../../types.js';
import type { HostTimer } from '../../../util/host-timer.js';
import type { HnswSearcher } from '../search/searcher.js';
import type { Snapshot } from '../snapshot.js';
import type { SearchPlan } from './search-plan.js';

/**
 * What actually ran in one batch, as the runners record it. The result's backend, gpuMode,
 * device and threads are read from it in one place (the getters), never rewritten on the way.
 */
export class RunRecord {
  /** The accelerated path: what computed its distances ('gpu', or a caller's evaluator's backend), its mode and its device. */
  private accelerated: { readonly name: string; readonly mode: GpuMode; readonly ctx: GpuContext | null } | null = null;
  /** The CPU took over work (queries, or a hybrid lane's distances) after the accelerated path started. */
  private cpuTookOver = false;
  private cpuThreads = 1;

  /** The resident kernel or the hybrid controller starts on the batch. */
  accelerator(name: string, mode: GpuMode, ctx: GpuContext | null): void {
    this.accelerated = { name, mode, ctx };
  }

  /** The CPU searched queries on `threads` threads (worker threads, or 1: this one). */
  cpu(threads: number): void {
    if (this.accelerated !== null) this.cpuTookOver = true;
    if (threads > this.cpuThreads) this.cpuThreads = threads;
  }

  /** A hybrid lane's evaluator failed and the CPU computed its distances from then on. */
  failedOver(): void {
    this.cpuTookOver = true;
  }

  /**
   * 'cpu' when nothing else computed distances (the CPU part that times 'auto' does not
   * count); else the accelerated path's name, with '+cpu' when the CPU took over part of
   * its work (a fault, a filtered query the widened beam left short, 'auto' after a probe).
   */
  get backend(): string {
    const a = this.accelerated;
    if (a === null || a.name === 'cpu') return 'cpu';
    return this.cpuTookOver ? `${a.name}+cpu` : a.name;
  }

  get gpuMode(): GpuMode | 'none' {
    const a = this.accelerated;
    return a !== null && a.ctx !== null && a.name !== 'cpu' ? a.mode : 'none';
  }

  get device(): string | undefined {
    return this.accelerated?.ctx?.description;
  }

  get threads(): number {
    return this.cpuThreads;
  }
}

/** One searchBatch call as it runs: its snapshot and plan, the results, the host clock and what ran. */
export class BatchRun {
  readonly ids: Int32Array;
  readonly scores: Float32Array;
  /** Per query, the candidates re-ranking scored (null when the batch does not re-rank). */
  readonly reranked: Uint32Array | null;
  readonly ran = new RunRecord();
  readonly searcher: HnswSearcher;

  constructor(
    readonly snap: Snapshot,
    readonly plan: SearchPlan,
    readonly timer: HostTimer,
  ) {
    this.searcher = snap.searcher;
    this.ids = new Int32Array(plan.queries.size * plan.search.k);
    this.scores = new Float32Array(plan.queries.size * plan.search.k);
    this.reranked = plan.search.rerank > 0 ? new Uint32Array(plan.queries.size) : null;
  }

  /** Records that query `row` re-ranked `count` candidates. */
  rerankedAt(row: number, count: number): void {
    if (this.reranked !== null) this.reranked[row] = count;
  }

  /** The result over slots (the caller turns slots into ids and keys). */
  result(): BatchSearchResult {
    this.timer.pause();
    const { plan, ran } = this;
    // The call's own counters (its context is a gpuCall), whatever else ran on the device meanwhile.
    const traffic = plan.gpu ? { ...plan.gpu.resources.traffic } : { roundTrips: 0, bytesUp: 0, bytesDown: 0 };
    const device = ran.device;
    return {
      count: plan.queries.size,
      k: plan.search.k,
      ids: this.ids,
      scores: this.scores,
      backend: ran.backend,
      ...(device !== undefined ? { device } : {}),
      gpuMode: ran.gpuMode,
      ...traffic,
      hostMs: this.timer.ms,
      threads: ran.threads,
      ...(plan.filters ? { filtered: true } : {}),
      ...(this.reranked !== null ? { reranked: this.reranked } : {}),
    };
  }
}

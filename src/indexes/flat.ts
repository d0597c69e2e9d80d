import { fail } from '../errors.js';
import { gpuCall } from '../gpu/call.js';
import { GPU_MAX_K } from '../gpu/exact.js';
import { type BackendOptions, chooseGpu, gpuFaultHandler } from '../gpu/select.js';
import { PlainQuantizer } from '../quant/plain.js';
import { gpuExactSearch, gpuExactSupports } from '../quant/registry.js';
import type { BatchSearchResult, Dataset, Metric, SearchResult, Vector, VectorStore } from '../types.js';
import { METRICS, toScore } from '../types.js';
import { MaxHeap } from '../util/heap.js';
import { HostTimer } from '../util/host-timer.js';
import { BATCH_PARAM_NAMES, checkOptionNames, FLAT_OPTION_NAMES, NO_PARAMS } from './option-names.js';
import { asQueryDataset, checkK, checkQueryAt, emitTopK } from './results.js';

const CHUNK = 1024;

/**
 * Exact search: scores every item. The baseline every approximate index is judged against,
 * and the way ground truth is computed. Works over any VectorStore (plain or PQ codes).
 */
export class FlatIndex {
  private readonly top = new MaxHeap(64);
  private readonly chunkIds = new Uint32Array(CHUNK);
  private readonly chunkDists = new Float64Array(CHUNK);
  private scratchIds = new Uint32Array(64);
  private scratchDists = new Float64Array(64);

  constructor(
    /** The vectors (or codes) every search scores. */
    readonly store: VectorStore,
  ) {}

  /** An exact index over `data`: every search scores every item. */
  static build(data: Dataset, options: { metric: Metric }): FlatIndex {
    checkOptionNames('FlatIndex.build', options, FLAT_OPTION_NAMES);
    if (!METRICS.includes(options.metric)) fail('INVALID_ARGUMENT', `metric must be 'l2' or 'ip', got ${String(options.metric)}`);
    return new FlatIndex(new PlainQuantizer().encode(data, options.metric));
  }

  /** Items in the index. */
  get size(): number {
    return this.store.size;
  }
  /** Dimension of the vectors. */
  get dim(): number {
    return this.store.dim;
  }
  /** 'l2' or 'ip'. */
  get metric(): Metric {
    return this.store.metric;
  }

  /** The exact k nearest items to `query`, best first. */
  search(query: Vector, k: number): SearchResult {
    checkK(k, this.size);
    this.store.checkQuery(query);
    const ids = new Int32Array(k);
    const scores = new Float32Array(k);
    this.searchInto(query, k, ids, scores, 0);
    return { ids, scores };
  }

  /**
   * Exact k-NN of every query: on the GPU when `backend` asks for it (brute-force distances
   * and on-GPU top-k; dense and PQ stores, k <= 1024), else on the CPU. A GPU fault finishes
   * the work on the CPU. It takes HnswIndex.searchBatch's parameter names too (so that a
   * QueryBatcher can serve either index) and ignores those of the graph search; unknown names fail.
   */
  async searchBatch(queries: Dataset | readonly Vector[], k: number, options: BackendOptions = NO_PARAMS): Promise<BatchSearchResult> {
    if (options !== NO_PARAMS) checkOptionNames('FlatIndex.searchBatch', options, BATCH_PARAM_NAMES);
    checkK(k, this.size);
    const qs = asQueryDataset(queries, this.dim);
    for (let q = 0; q < qs.size; q++) checkQueryAt(this.store, qs, q);
    const ids = new Int32Array(qs.size * k);
    const scores = new Float32Array(qs.size * k);
    const timer = new HostTimer();
    timer.resume();
    if (options.backend === 'gpu' && k > GPU_MAX_K)
      fail(
        'INVALID_ARGUMENT',
        `k = ${k} is above GPU_MAX_K (${GPU_MAX_K}), the most the exact GPU search returns: use backend 'auto' or 'cpu'`,
      );
    const device = gpuExactSupports(this.store, k) || options.backend === 'gpu' ? await chooseGpu(options, qs.size) : null;
    // This call's own context on the device: its traffic, its faults, and its waits stop this call's timer.
    const gpu = device ? gpuCall(device, timer) : null;
    if (gpu) {
      if (!gpuExactSupports(this.store, k))
        fail('NO_GPU', `exact GPU search supports dense and PQ stores, not a '${this.store.kind}' store: use backend 'auto' or 'cpu'`);
      try {
        const r = await gpuExactSearch(gpu, this.store, qs, k);
        for (let i = 0; i < r.ids.length; i++) {
          const found = r.dists[i] !== Number.POSITIVE_INFINITY;
          ids[i] = found ? r.ids[i]! : -1;
          scores[i] = found ? toScore(this.metric, r.dists[i]!) : Number.NaN;
        }
        timer.pause();
        return {
          count: qs.size,
          k,
          ids,
          scores,
          backend: 'gpu',
          device: gpu.description,
          gpuMode: 'exact',
          ...gpu.resources.traffic,
          hostMs: timer.ms,
          threads: 1,
        };
      } catch (error) {
        gpuFaultHandler(gpu, options)(error);
      }
    }
    for (let q = 0; q < qs.size; q++) this.searchInto(qs.get(q), k, ids, scores, q * k);
    timer.pause();
    // After a GPU fault the traffic it caused is still reported.
    const traffic = gpu ? { ...gpu.resources.traffic } : { roundTrips: 0, bytesUp: 0, bytesDown: 0 };
    return {
      count: qs.size,
      k,
      ids,
      scores,
      backend: gpu ? 'gpu+cpu' : 'cpu',
      ...(gpu ? { device: gpu.description } : {}),
      gpuMode: gpu ? 'exact' : 'none',
      ...traffic,
      hostMs: timer.ms,
      threads: 1,
    };
  }

  private searchInto(query: Vector, k: number, ids: Int32Array, scores: Float32Array, offset: number): void {
    const ev = this.store.queryEvaluator(query);
    const top = this.top;
    top.clear();
    const n = this.size;
    const chunkIds = this.chunkIds;
    const chunkDists = this.chunkDists;
    for (let start = 0; start < n; start += CHUNK) {
      const count = Math.min(CHUNK, n - start);
      for (let i = 0; i < count; i++) chunkIds[i] = start + i;
      ev.distances(chunkIds, count, chunkDists);
      for (let i = 0; i < count; i++) {
        const d = chunkDists[i]!;
        // Ties at the k-th place keep the smaller id (it came first), as the ground truth does.
        if (top.size < k) top.push(start + i, d);
        else if (d < top.topDist()) {
          top.pop();
          top.push(start + i, d);
        }
      }
    }
    ev.release?.();
    if (this.scratchIds.length < k) {
      this.scratchIds = new Uint32Array(k);
      this.scratchDists = new Float64Array(k);
    }
    emitTopK(top, k, this.metric, ids, scores, offset, this.scratchIds, this.scratchDists);
  }
}

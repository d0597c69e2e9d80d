import { checkInteger, fail } from '../../../errors.js';
import { AUTO_PROBE_QUERIES, decideAuto, recordResidentSpeed, residentSpeed } from '../../../gpu/auto.js';
import type { GpuContext } from '../../../gpu/device.js';
import { ResidentSearcher } from '../../../gpu/resident/resident-search.js';
import { type GpuTraffic, trafficSince } from '../../../gpu/resources.js';
import { type Backend, type BackendOptions, checkBackend, gpuContextFor, gpuFaultHandler } from '../../../gpu/select.js';
import { WorkerPool } from '../../../parallel/pool.js';
import { gpuEvaluatorFor, residentKernelFor } from '../../../quant/registry.js';
import type { BatchEvaluator, BatchSearchResult, Dataset, GpuMode, Vector } from '../../../types.js';
import { HostTimer } from '../../../util/host-timer.js';
import { yieldToEventLoop } from '../../../util/yield.js';
import { isAllowed, QueryFilters, type SearchFilter } from '../../filter.js';
import { asQueryDataset, checkQueryAt } from '../../results.js';
import { FilteredSearcher } from '../search/filtered-search.js';
import type { Snapshot } from '../snapshot.js';
import { searchOnWorkers } from '../workers/parallel-search.js';
import { FaultTolerantEvaluator } from './fault-tolerant.js';
import { runHybrid } from './hybrid.js';

export interface HnswSearchParams {
  /** Beam width; raised to k when smaller. Default max(k, 64). */
  ef?: number;
  /**
   * Re-rank the best `rerank` candidates of the beam (at most ef) by their plain vectors,
   * when the index keeps them (see quantize). Default 0: no re-ranking.
   */
  rerank?: number;
  /** Only items this filter allows (labels, a predicate on keys, a bitset); see SearchFilter. */
  filter?: SearchFilter;
  /**
   * Distance-adaptive early termination (CPU, unfiltered searches): the beam also stops when
   * its best unexpanded candidate is worse than the k-th result by more than lambda x |k-th
   * distance|; ef stays the cap, so pair it with a generous ef. Off by default (undefined);
   * 0.2 with ef 200 is the documented setting for L2 data (docs/early-termination.md; on
   * SPLADE's inner products it does not pay). Filtered searches and the GPU kernels ignore it.
   */
  lambda?: number;
}

export interface HnswBatchParams extends Omit<HnswSearchParams, 'filter'>, BackendOptions {
  /**
   * One filter for every query, or one per query (null: unfiltered). With backend 'gpu', a
   * batch whose filters all let most items through runs on the resident kernel (see
   * filteredOnGpu); other filtered batches run on the CPU (every thread). `backend` says which.
   */
  filter?: SearchFilter | readonly (SearchFilter | null)[];
  /**
   * On the GPU: 'resident' (default) runs the whole search in one kernel, one round trip per
   * batch; 'hybrid' keeps the beam on the CPU and sends each round's distances to the GPU.
   * Without an explicit mode, a search the resident kernel cannot run (e.g. ef above its
   * workgroup-memory capacity) takes the hybrid path, and the result's gpuMode says so.
   */
  gpuMode?: GpuMode;
  /** Queries a hybrid lockstep batch holds. Default 1024 (each round costs a submit: fewer, fuller rounds). */
  batchSize?: number;
  /**
   * Hybrid batches in flight at once (when there are that many), so CPU rounds overlap GPU
   * rounds. Default 2 on a hardware adapter; 1 on a software one (SwiftShader), whose "GPU"
   * runs on the same cores as the controller, so overlapping them can only slow both.
   */
  hybridLanes?: number;
  /**
   * Candidates each query expands per round (w). Default: 1 on the hybrid path (exact
   * beam-search semantics); on the resident path enough to fill 64 threads (64 / (2m)).
   */
  width?: number;
  /** Computes the distances on the hybrid path (a custom BatchEvaluator); implies 'hybrid'. */
  evaluator?: BatchEvaluator;
  /**
   * Threads of a CPU search: the queries are shared out to worker threads, each running the
   * single-query search. Default: every core. 1 searches on the calling thread (yielding to
   * the event loop every 20 ms); so does a batch of one query.
   */
  threads?: number;
}

export interface ResolvedBatch {
  k: number;
  ef: number;
  rerank: number;
  /** Early-termination slack (see HnswSearchParams.lambda); Infinity when off. */
  lambda: number;
}

/** Milliseconds of CPU search between event-loop turns. */
const CPU_SLICE_MS = 20;
const GPU_MODES: readonly GpuMode[] = ['resident', 'hybrid'];
/** Lockstep batches in flight on a hardware GPU's hybrid path: the CPU works on one while the GPU scores the other. */
const HYBRID_LANES = 2;

/**
 * searchBatch of HnswIndex: on the CPU a loop of the single-query search (the fastest CPU
 * path, yielding to the event loop every 20 ms); on the GPU the resident kernel or the
 * hybrid lockstep controller; with 'auto', whichever the measurements favour.
 */
export async function searchHnswBatch(
  snap: Snapshot,
  queries: Dataset | readonly Vector[],
  base: ResolvedBatch,
  params: HnswBatchParams,
): Promise<BatchSearchResult> {
  if (params.gpuMode !== undefined && !GPU_MODES.includes(params.gpuMode))
    fail('INVALID_ARGUMENT', `gpuMode must be 'resident' or 'hybrid', got ${String(params.gpuMode)}`);
  const backend = checkBackend(params);
  const batchSize = checkInteger('batchSize', params.batchSize ?? 1024, 1);
  if (params.width !== undefined) checkInteger('width', params.width, 1, 64);
  if (params.hybridLanes !== undefined) checkInteger('hybridLanes', params.hybridLanes, 1, 16);
  if (params.threads !== undefined) checkInteger('threads', params.threads, 1, 1024);
  const qs = asQueryDataset(queries, snap.searcher.store.dim);
  for (let q = 0; q < qs.size; q++) checkQueryAt(snap.searcher.store, qs, q);
  const filters = params.filter === undefined ? null : QueryFilters.resolve(params.filter, qs.size, snap.filterContext());
  const threads = qs.size > 1 ? await WorkerPool.threadsFor(params.threads) : 1;
  const run = new BatchRun(snap, qs, base, threads, filters);

  if (filters !== null && backend === 'gpu' && !params.evaluator && params.gpuMode !== 'hybrid' && snap.searcher.graph.entryPoint >= 0) {
    const done = await filteredOnGpu(run, filters, params, width(snap, params));
    if (done) return done;
  }
  if (filters !== null || snap.searcher.graph.entryPoint < 0) {
    // Filters the GPU does not take (see filteredOnGpu) run on the CPU, as do searches of an
    // index whose items were all removed (every result is -1).
    await run.cpu(0, qs.size);
    return run.result(null);
  }

  if (params.evaluator) {
    const given = params.evaluator;
    await run.hybrid(() => given, 1, null, batchSize, params.width ?? 1, params);
    return run.result(null);
  }
  const ctx = await gpuContextFor(params);
  if (!ctx) {
    await run.cpu(0, qs.size);
    return run.result(null);
  }
  ctx.resources.clock = run.timer;
  try {
    return await onGpu(run, ctx, params, backend, batchSize);
  } finally {
    ctx.resources.clock = null;
  }
}

/** The GPU part of searchHnswBatch: resident, hybrid, or the CPU after auto's measurements. */
async function onGpu(
  run: BatchRun,
  ctx: GpuContext,
  params: HnswBatchParams,
  backend: Backend,
  batchSize: number,
): Promise<BatchSearchResult> {
  const { snap, base, queries: qs } = run;
  const before = { ...ctx.resources.traffic };
  let resident: ResidentSearcher | null = null;
  if (params.gpuMode !== 'hybrid') {
    const support = ResidentSearcher.for(
      ctx,
      snap.searcher.graph,
      snap.searcher.store,
      () => residentKernelFor(ctx, snap.searcher.store),
      base.ef,
      width(snap, params),
    );
    if (support.ok) resident = support.searcher;
    else if (params.gpuMode === 'resident')
      fail('INVALID_ARGUMENT', `gpuMode 'resident' cannot run this search: ${support.reason}; use gpuMode 'hybrid'`);
  }
  let from = 0;
  if (backend === 'auto') {
    from = await run.autoPrefix(ctx, resident);
    if (from === qs.size) return run.result({ ctx, before });
  }
  if (resident) await run.resident(ctx, resident, from, params);
  else {
    let first: BatchEvaluator | null = null;
    try {
      first = gpuEvaluatorFor(ctx, snap.searcher.store);
    } catch (error) {
      gpuFaultHandler(ctx, params)(error);
    }
    if (first === null) {
      if (backend === 'gpu') fail('NO_GPU', `the GPU cannot search a '${snap.searcher.store.kind}' store: use backend 'auto' or 'cpu'`);
      await run.cpu(from, qs.size);
      return run.result(null);
    }
    // The first lane takes the evaluator made above; later lanes get their own.
    let spare: BatchEvaluator | null = first;
    const makeEvaluator = () => {
      const ev = spare ?? gpuEvaluatorFor(ctx, snap.searcher.store)!;
      spare = null;
      return ev;
    };
    const lanes = params.hybridLanes ?? (ctx.software ? 1 : HYBRID_LANES);
    await run.hybrid(makeEvaluator, lanes, ctx, batchSize, params.width ?? 1, params, from);
  }
  return run.result({ ctx, before });
}

/** Candidates the resident kernel expands per round: as given, else what fills 64 threads. */
function width(snap: Snapshot, params: HnswBatchParams): number {
  return params.width ?? Math.max(1, Math.min(8, Math.floor(64 / snap.searcher.graph.m0)));
}

/**
 * A filtered batch on the resident kernel, where every filter lets most items through
 * (FilteredSearcher.mostlyAllowed, the case where the CPU walks the whole graph too): the
 * kernel searches unfiltered with its beam widened to ef / share (so about ef allowed items
 * stay in it) and returns the whole beam; the host keeps the allowed items. A query left with
 * fewer than min(k, allowed) of them is searched on the CPU. Returns null, having done
 * nothing, when the GPU cannot take this batch (narrower filters, no adapter, a beam wider
 * than the kernel holds): the caller then searches on the CPU.
 */
async function filteredOnGpu(run: BatchRun, filters: QueryFilters, params: HnswBatchParams, w: number): Promise<BatchSearchResult | null> {
  const { snap, base } = run;
  const n = snap.searcher.graph.n;
  let share = 1;
  for (const set of filters.sets) {
    if (!FilteredSearcher.mostlyAllowed(set, n)) return null;
    share = Math.min(share, set.count / n);
  }
  const ctx = await gpuContextFor(params);
  if (!ctx) return null;
  const support = ResidentSearcher.for(
    ctx,
    snap.searcher.graph,
    snap.searcher.store,
    () => residentKernelFor(ctx, snap.searcher.store),
    Math.ceil(base.ef / share),
    w,
  );
  if (!support.ok) return null;
  ctx.resources.clock = run.timer;
  try {
    const before = { ...ctx.resources.traffic };
    await run.resident(ctx, support.searcher, 0, params);
    return run.result({ ctx, before });
  } finally {
    ctx.resources.clock = null;
  }
}

/** The state of one searchBatch call: results, the host clock and what ran. */
class BatchRun {
  readonly ids: Int32Array;
  readonly scores: Float32Array;
  readonly timer = new HostTimer();
  backend = 'cpu';
  gpuMode: GpuMode | 'none' = 'none';
  /** Threads that ran CPU searches: raised when workers took part. */
  threadsUsed = 1;
  private usedGpu: GpuContext | null = null;

  constructor(
    readonly snap: Snapshot,
    readonly queries: Dataset,
    readonly base: ResolvedBatch,
    readonly threads: number,
    readonly filters: QueryFilters | null = null,
  ) {
    this.ids = new Int32Array(queries.size * base.k);
    this.scores = new Float32Array(queries.size * base.k);
    this.timer.resume();
  }

  /**
   * Queries [from, to) on the CPU: on worker threads when there are several threads and
   * queries (and the index can be shared), else one at a time on this thread.
   */
  async cpu(from: number, to: number, inline = false): Promise<void> {
    const { k, ef, rerank, lambda } = this.base;
    const attachment = !inline && this.threads > 1 && to - from > 1 ? this.snap.workers() : null;
    if (attachment !== null) {
      await this.timer.wait(
        searchOnWorkers(
          attachment,
          this.snap.searcher.graph,
          this.queries,
          from,
          to,
          this.base,
          this.threads,
          this.ids,
          this.scores,
          this.filters,
        ),
      );
      this.threadsUsed = this.threads;
      if (this.usedGpu && !this.backend.endsWith('+cpu')) this.backend = `${this.backend}+cpu`;
      return;
    }
    let sliceStart = performance.now();
    for (let q = from; q < to; q++) {
      this.snap.searcher.searchInto(this.queries.get(q), k, ef, rerank, this.ids, this.scores, q * k, this.filters?.for(q) ?? null, lambda);
      if (performance.now() - sliceStart > CPU_SLICE_MS && q + 1 < to) {
        await this.timer.wait(yieldToEventLoop());
        sliceStart = performance.now();
      }
    }
    if (this.usedGpu && to > from && !this.backend.endsWith('+cpu')) this.backend = `${this.backend}+cpu`;
  }

  /**
   * backend 'auto': times the CPU on the first queries, then lets decideAuto pick; returns
   * how many queries are already done (all of them when the CPU keeps the batch).
   */
  async autoPrefix(ctx: GpuContext, resident: ResidentSearcher | null): Promise<number> {
    const nq = this.queries.size;
    const timed = Math.min(nq, 4);
    const t0 = performance.now();
    await this.cpu(0, timed, true);
    // The rest of a CPU batch runs on every thread.
    const cpuMsPerQuery = (performance.now() - t0) / timed / this.threads;
    let from = timed;
    const inputs = () => ({
      remaining: nq - from,
      cpuMsPerQuery,
      roundTripMs: ctx.roundTripMs,
      software: ctx.software,
      gpuMsPerQuery: resident ? residentSpeed(ctx, this.snap.searcher.store, resident.ef) : null,
      queriesPerSubmit: 16384,
    });
    let choice = resident ? decideAuto(inputs()) : 'cpu';
    if (choice === 'probe') {
      const t = performance.now();
      await this.resident(ctx, resident!, from, {}, from + AUTO_PROBE_QUERIES);
      from += AUTO_PROBE_QUERIES;
      recordResidentSpeed(ctx, this.snap.searcher.store, resident!.ef, (performance.now() - t) / AUTO_PROBE_QUERIES);
      choice = decideAuto(inputs());
    }
    if (choice !== 'gpu') {
      await this.cpu(from, nq);
      return nq;
    }
    return from;
  }

  /** Queries [from, to) with the resident kernel; a GPU fault finishes them on the CPU. */
  async resident(
    ctx: GpuContext,
    searcher: ResidentSearcher,
    from: number,
    options: BackendOptions,
    to = this.queries.size,
  ): Promise<void> {
    const { k, ef, rerank } = this.base;
    // As on the CPU, re-ranking draws from the beam: at most ef candidates. A filtered batch
    // takes the whole (widened) beam and keeps its allowed items.
    const outK = this.filters ? searcher.ef : Math.max(k, Math.min(rerank, ef));
    this.usedGpu = ctx;
    this.backend = 'gpu';
    this.gpuMode = 'resident';
    const perSubmit = searcher.queriesPerSubmit(outK);
    for (let start = from; start < to; start += perSubmit) {
      const count = Math.min(perSubmit, to - start);
      let batch;
      try {
        const t = performance.now();
        batch = await searcher.search(this.queries, start, count, outK);
        recordResidentSpeed(ctx, this.snap.searcher.store, searcher.ef, (performance.now() - t) / count);
      } catch (error) {
        gpuFaultHandler(ctx, options)(error);
        await this.cpu(start, to);
        return;
      }
      for (let q = 0; q < count; q++) {
        const allowed = this.filters?.for(start + q) ?? null;
        const kept = allowed === null ? outK : keepAllowed(batch.ids, batch.dists, q * outK, outK, allowed.bits);
        if (allowed !== null && kept < Math.min(k, allowed.count)) {
          this.snap.searcher.searchInto(this.queries.get(start + q), k, ef, rerank, this.ids, this.scores, (start + q) * k, allowed);
          if (!this.backend.endsWith('+cpu')) this.backend = `${this.backend}+cpu`;
          continue;
        }
        this.snap.searcher.writer.fromSorted(
          batch.ids,
          batch.dists,
          q * outK,
          kept,
          this.queries.get(start + q),
          k,
          rerank,
          this.ids,
          this.scores,
          (start + q) * k,
        );
      }
    }
  }

  /**
   * Queries [from, end) through the hybrid lockstep controller, with `lanes` batches in
   * flight (one evaluator each). A fault is reported once, however many lanes see it.
   */
  async hybrid(
    makePrimary: () => BatchEvaluator,
    lanes: number,
    ctx: GpuContext | null,
    batchSize: number,
    width: number,
    options: BackendOptions,
    from = 0,
  ): Promise<void> {
    const { k, ef, rerank } = this.base;
    this.usedGpu = ctx;
    const report = ctx ? gpuFaultHandler(ctx, options) : (e: unknown) => options.onFallback?.(e);
    let reported = false;
    const onFault = (e: unknown) => {
      if (reported) return;
      reported = true;
      report(e);
    };
    // Full batches only: splitting one batch across lanes would double its rounds (each round
    // costs a submit), so a batch of at most batchSize queries runs in one lane, alone.
    const busy = Math.max(1, Math.min(lanes, Math.ceil((this.queries.size - from) / batchSize)));
    const evaluators: FaultTolerantEvaluator[] = [];
    for (let i = 0; i < busy; i++)
      evaluators.push(new FaultTolerantEvaluator(makePrimary(), () => this.snap.searcher.store.batchEvaluator(), onFault));
    const primaryBackend = evaluators[0]!.backend;
    try {
      await runHybrid(this.snap.searcher.graph, evaluators, this.queries, from, { ef, width, batchSize }, (q, top) => {
        this.snap.searcher.writer.fromHeap(top, this.queries.get(q), k, rerank, this.ids, this.scores, q * k);
      });
    } finally {
      for (const e of evaluators) if (ctx !== null || e.didFailOver) e.dispose();
    }
    const failedOver = evaluators.some((e) => e.didFailOver);
    this.backend = failedOver && primaryBackend !== 'cpu' ? `${primaryBackend}+cpu` : primaryBackend;
    this.gpuMode = ctx && primaryBackend !== 'cpu' ? 'hybrid' : 'none';
  }

  result(gpu: { ctx: GpuContext; before: GpuTraffic } | null): BatchSearchResult {
    this.timer.pause();
    const traffic = gpu ? trafficSince(gpu.ctx.resources.traffic, gpu.before) : { roundTrips: 0, bytesUp: 0, bytesDown: 0 };
    const device = this.usedGpu?.description;
    return {
      count: this.queries.size,
      k: this.base.k,
      ids: this.ids,
      scores: this.scores,
      backend: this.backend,
      ...(device !== undefined ? { device } : {}),
      gpuMode: this.gpuMode,
      ...traffic,
      hostMs: this.timer.ms,
      threads: this.threadsUsed,
      ...(this.filters ? { filtered: true } : {}),
    };
  }
}

/**
 * Moves the allowed entries of candidates [from, from + count) (sorted, id -1 ending them) to
 * its front, in order; returns how many there are.
 */
function keepAllowed(ids: Int32Array, dists: Float32Array, from: number, count: number, bits: Uint32Array): number {
  let kept = 0;
  for (let i = 0; i < count; i++) {
    const id = ids[from + i]!;
    if (id < 0) break;
    if (!isAllowed(bits, id)) continue;
    ids[from + kept] = id;
    dists[from + kept] = dists[from + i]!;
    kept++;
  }
  if (kept < count) ids[from + kept] = -1;
  return kept;
}

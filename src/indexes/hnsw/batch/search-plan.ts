import { checkInteger, fail } from '../../../errors.js';
import { gpuCall } from '../../../gpu/call.js';
import type { GpuContext } from '../../../gpu/device.js';
import { ResidentSearcher } from '../../../gpu/resident/resident-search.js';
import { type Backend, type BackendOptions, checkBackend, gpuContextFor, gpuFaultHandler } from '../../../gpu/select.js';
import { WorkerPool } from '../../../parallel/pool.js';
import { gpuEvaluatorFor, residentKernelFor } from '../../../quant/registry.js';
import type { BatchEvaluator, Dataset, GpuMode, Vector } from '../../../types.js';
import type { HostTimer } from '../../../util/host-timer.js';
import { QueryFilters } from '../../filter.js';
import { asQueryDataset, checkQueryAt } from '../../results.js';
import type { HnswGraph } from '../graph/graph.js';
import { FilteredSearcher } from '../search/filtered-search.js';
import type { HnswSearcher } from '../search/searcher.js';
import type { Snapshot } from '../snapshot.js';
import type { HnswBatchParams, ResolvedSearch } from './search-params.js';

/** The hybrid lockstep controller: the beam on the CPU, each round's distances through an evaluator per lane. */
export interface HybridRoute {
  readonly kind: 'hybrid';
  /** The device the evaluators run on; null for a caller's own evaluator. */
  readonly ctx: GpuContext | null;
  /** A new evaluator for a lane. */
  readonly evaluator: () => BatchEvaluator;
  readonly lanes: number;
  readonly batchSize: number;
  readonly width: number;
}

/** Where a batch's queries go. */
export type Route =
  /** Every query on the CPU: on worker threads, or on this thread. */
  | { readonly kind: 'cpu' }
  /** The resident kernel (a GPU fault finishes on the CPU). */
  | { readonly kind: 'resident'; readonly ctx: GpuContext; readonly searcher: ResidentSearcher }
  /** backend 'auto': the CPU times the first queries, then the measurements pick the CPU or the resident kernel. */
  | { readonly kind: 'auto'; readonly ctx: GpuContext; readonly searcher: ResidentSearcher }
  | HybridRoute;

/**
 * Everything a batch decides before it runs, once per call: its checked queries and
 * filters, the threads of its CPU parts, where filters apply, and the route (CPU, resident,
 * auto, hybrid) with that route's device, width, lanes and batch size. The runners follow it;
 * the result reports from it and from what actually ran (see RunRecord).
 */
export interface SearchPlan {
  readonly queries: Dataset;
  readonly search: ResolvedSearch;
  readonly filters: QueryFilters | null;
  /**
   * Where the filters apply: 'none' (unfiltered), 'cpu' (the filtered search), or 'gpu' (the
   * resident kernel's beam, widened, with the host keeping the allowed items).
   */
  readonly filterOn: 'none' | 'cpu' | 'gpu';
  /** Threads of the CPU parts (1: this thread). */
  readonly threads: number;
  readonly route: Route;
  /**
   * This call's context on the device it opened (gpuCall): its traffic counters and faults are
   * the call's own, and its device waits stop the call's host clock; null when no device was opened.
   */
  readonly gpu: GpuContext | null;
  /** The caller's onFallback, told of a GPU fault. */
  readonly options: BackendOptions;
}

const GPU_MODES: readonly GpuMode[] = ['resident', 'hybrid'];
/** Lockstep batches in flight on a hardware GPU's hybrid path: the CPU works on one while the GPU scores the other. */
const HYBRID_LANES = 2;

type Chosen = Pick<SearchPlan, 'route' | 'gpu'>;
const ON_CPU: Chosen = { route: { kind: 'cpu' }, gpu: null };

/**
 * Checks a batch's parameters and queries, resolves its filters against the snapshot, and
 * picks its route. `timer` (the call's host clock) starts once the request is checked.
 */
export async function planSearch(
  snap: Snapshot,
  queries: Dataset | readonly Vector[],
  search: ResolvedSearch,
  params: HnswBatchParams,
  timer: HostTimer,
): Promise<SearchPlan> {
  if (params.gpuMode !== undefined && !GPU_MODES.includes(params.gpuMode))
    fail('INVALID_ARGUMENT', `gpuMode must be 'resident' or 'hybrid', got ${String(params.gpuMode)}`);
  const backend = checkBackend(params);
  const batchSize = checkInteger('batchSize', params.batchSize ?? 1024, 1);
  if (params.width !== undefined) checkInteger('width', params.width, 1, 64);
  if (params.hybridLanes !== undefined) checkInteger('hybridLanes', params.hybridLanes, 1, 16);
  if (params.threads !== undefined) checkInteger('threads', params.threads, 1, 1024);
  const { store } = snap.searcher;
  const qs = asQueryDataset(queries, store.dim);
  for (let q = 0; q < qs.size; q++) checkQueryAt(store, qs, q);
  const filters = params.filter === undefined ? null : QueryFilters.resolve(params.filter, qs.size, snap.filterContext());
  const threads = qs.size > 1 ? await WorkerPool.threadsFor(params.threads) : 1;
  timer.resume();
  const chosen = await routeFor(snap.searcher, filters, search.ef, params, backend, batchSize, timer);
  const filterOn = filters === null ? 'none' : chosen.route.kind === 'resident' ? 'gpu' : 'cpu';
  return { queries: qs, search, filters, filterOn, threads, ...chosen, options: params };
}

async function routeFor(
  searcher: HnswSearcher,
  filters: QueryFilters | null,
  ef: number,
  params: HnswBatchParams,
  backend: Backend,
  batchSize: number,
  timer: HostTimer,
): Promise<Chosen> {
  const { graph, store } = searcher;
  // Every item was removed: every result is -1, which the CPU writes at once.
  if (graph.entryPoint < 0) return ON_CPU;
  if (filters !== null) {
    // Filters the GPU does not take (see filteredOnGpu) run on the CPU (every thread).
    const gpuMayTake = backend === 'gpu' && !params.evaluator && params.gpuMode !== 'hybrid';
    return gpuMayTake ? filteredOnGpu(searcher, filters, ef, params, timer) : ON_CPU;
  }
  if (params.evaluator) {
    const given = params.evaluator;
    return { route: { kind: 'hybrid', ctx: null, evaluator: () => given, lanes: 1, batchSize, width: params.width ?? 1 }, gpu: null };
  }
  const device = await gpuContextFor(params);
  if (!device) return ON_CPU;
  // The call's own view of the device: its traffic, host clock and faults (see gpuCall).
  const ctx = gpuCall(device, timer);
  let resident: ResidentSearcher | null = null;
  if (params.gpuMode !== 'hybrid') {
    const support = ResidentSearcher.for(ctx, graph, store, () => residentKernelFor(ctx, store), ef, residentWidth(graph, params));
    if (support.ok) resident = support.searcher;
    else if (params.gpuMode === 'resident')
      fail('INVALID_ARGUMENT', `gpuMode 'resident' cannot run this search: ${support.reason}; use gpuMode 'hybrid'`);
  }
  // 'auto' weighs the CPU against the resident kernel only: without it the CPU keeps the batch.
  if (backend === 'auto') return { route: resident ? { kind: 'auto', ctx, searcher: resident } : { kind: 'cpu' }, gpu: ctx };
  if (resident) return { route: { kind: 'resident', ctx, searcher: resident }, gpu: ctx };
  return { route: hybridOn(ctx, store, params, batchSize), gpu: ctx };
}

/** The hybrid route on `ctx` (backend 'gpu'): a store kind the GPU cannot score is NO_GPU. */
function hybridOn(ctx: GpuContext, store: HnswSearcher['store'], params: HnswBatchParams, batchSize: number): HybridRoute {
  let first: BatchEvaluator | null = null;
  try {
    first = gpuEvaluatorFor(ctx, store);
  } catch (error) {
    gpuFaultHandler(ctx, params)(error);
  }
  if (first === null) fail('NO_GPU', `the GPU cannot search a '${store.kind}' store: use backend 'auto' or 'cpu'`);
  // The first lane takes the evaluator made here; later lanes get their own.
  let spare: BatchEvaluator | null = first;
  const evaluator = () => {
    const ev = spare ?? gpuEvaluatorFor(ctx, store)!;
    spare = null;
    return ev;
  };
  const lanes = params.hybridLanes ?? (ctx.software ? 1 : HYBRID_LANES);
  return { kind: 'hybrid', ctx, evaluator, lanes, batchSize, width: params.width ?? 1 };
}

/** Candidates the resident kernel expands per round: as given, else what fills 64 threads. */
function residentWidth(graph: HnswGraph, params: HnswBatchParams): number {
  return params.width ?? Math.max(1, Math.min(8, Math.floor(64 / graph.m0)));
}

/**
 * A filtered batch on the resident kernel, where every filter lets most items through
 * (FilteredSearcher.mostlyAllowed, the case where the CPU walks the whole graph too): the
 * kernel searches unfiltered with its beam widened to ef / share (so about ef allowed items
 * stay in it) and returns the whole beam; the host keeps the allowed items, and a query left
 * with fewer than min(k, allowed) of them is searched on the CPU (see searchOnResident). The
 * CPU takes the batch when the GPU cannot: narrower filters, no adapter, a beam wider than the
 * kernel holds.
 */
async function filteredOnGpu(
  searcher: HnswSearcher,
  filters: QueryFilters,
  ef: number,
  params: HnswBatchParams,
  timer: HostTimer,
): Promise<Chosen> {
  const { graph, store } = searcher;
  const n = graph.n;
  let share = 1;
  for (const set of filters.sets) {
    if (!FilteredSearcher.mostlyAllowed(set, n)) return ON_CPU;
    share = Math.min(share, set.count / n);
  }
  const device = await gpuContextFor(params);
  if (!device) return ON_CPU;
  const ctx = gpuCall(device, timer);
  const widened = Math.ceil(ef / share);
  const support = ResidentSearcher.for(ctx, graph, store, () => residentKernelFor(ctx, store), widened, residentWidth(graph, params));
  if (!support.ok) return ON_CPU;
  return { route: { kind: 'resident', ctx, searcher: support.searcher }, gpu: ctx };
}

import type { SearchFilter } from '../src/index.js';
import {
  type BatchSearchResult,
  type Dataset,
  FlatIndex,
  type GpuMode,
  type GroundTruth,
  type HnswBatchParams,
  type HnswIndex,
  recallAtK,
  type Vector,
} from '../src/index.js';
import type { Loaded } from './datasets.js';
import { type DemoGpu, gpuOptions } from './gpu.js';
import { rerankParams } from './store-choice.js';

/** Searching, timing and scoring, on the backend the user picked. */

export type Backend = 'gpu' | 'cpu';

export interface Timed {
  ids: Int32Array;
  scores: Float32Array;
  /** What really computed the distances, as the library reports it. */
  backend: string;
  ms: number;
}

/** Ground truth keeps this many neighbours per query, so recall@k works for any k up to it. */
export const GT_DEPTH = 100;

type Batchable = { searchBatch(q: Dataset | readonly Vector[], k: number, o?: HnswBatchParams): Promise<BatchSearchResult> };

/** searchBatch with the backend options of `backend` (FlatIndex takes the BackendOptions part). */
function batch(
  target: Batchable,
  queries: Dataset | readonly Vector[],
  k: number,
  backend: Backend,
  gpu: DemoGpu | null,
  extra: HnswBatchParams = {},
): Promise<BatchSearchResult> {
  const opts: HnswBatchParams = backend === 'gpu' && gpu ? { ...extra, ...gpuOptions(gpu) } : { ...extra, backend: 'cpu' };
  return target.searchBatch(queries, k, opts);
}

const nextFrame = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

export interface Truth {
  flat: FlatIndex;
  gt: GroundTruth;
  backend: string;
  ms: number;
}

/**
 * Exact neighbours of every query, by brute force on the GPU when there is a hardware one. A
 * software adapter (SwiftShader) emulates the GPU on the CPU, some 30x slower than the CPU's own
 * SIMD kernels for a full scan: there the CPU computes the ground truth (as for sparse data,
 * which the exact GPU scan does not take).
 */
export async function groundTruth(data: Loaded, gpu: DemoGpu | null): Promise<Truth> {
  const flat = FlatIndex.build(data.base, { metric: data.metric });
  const depth = Math.min(GT_DEPTH, data.base.size);
  const start = performance.now();
  if (gpu && !gpu.software && data.base.kind === 'dense') {
    try {
      const r = await batch(flat, data.queries, depth, 'gpu', gpu);
      return { flat, gt: { rows: r.count, dim: depth, data: r.ids, scores: r.scores }, backend: r.backend, ms: performance.now() - start };
    } catch (e) {
      console.warn('ground truth on the GPU failed, using the CPU', e);
    }
  }
  // CPU, a few queries at a time so that the page keeps answering.
  const nq = data.queries.size;
  const ids = new Int32Array(nq * depth);
  const scores = new Float32Array(nq * depth);
  let last = performance.now();
  for (let q = 0; q < nq; q++) {
    const r = flat.search(data.queries.get(q), depth);
    ids.set(r.ids, q * depth);
    scores.set(r.scores, q * depth);
    if (performance.now() - last > 30) {
      await nextFrame();
      last = performance.now();
    }
  }
  return { flat, gt: { rows: nq, dim: depth, data: ids, scores }, backend: 'cpu', ms: performance.now() - start };
}

/** recall@k of the first `rows` queries (all by default). */
export function recallOf(r: { ids: Int32Array; scores: Float32Array }, k: number, gt: GroundTruth, rows = gt.rows): number {
  const sub: GroundTruth = {
    rows,
    dim: gt.dim,
    data: gt.data.subarray(0, rows * gt.dim),
    ...(gt.scores ? { scores: gt.scores.subarray(0, rows * gt.dim) } : {}),
  };
  return recallAtK(r.ids, k, sub, { scores: r.scores });
}

/** One query. The CPU uses the single-query search; the GPU a batch of one. Codes re-rank as the store panel says. */
export async function searchOne(
  index: HnswIndex,
  query: Vector,
  k: number,
  ef: number,
  backend: Backend,
  gpu: DemoGpu | null,
  filter?: SearchFilter,
): Promise<Timed> {
  const params = { ef, ...rerankParams(index, ef), ...(filter ? { filter } : {}) };
  if (backend === 'cpu') {
    const start = performance.now();
    const r = index.search(query, k, params);
    return { ids: r.ids, scores: r.scores, backend: 'cpu', ms: performance.now() - start };
  }
  const start = performance.now();
  // A filtered batch runs on the CPU (the GPU kernels take no filter yet): result.backend says so.
  const r = await batch(index, [query], k, backend, gpu, params);
  return { ids: r.ids, scores: r.scores, backend: r.backend, ms: performance.now() - start };
}

/** Every query in one batched call (on the GPU: resident unless `gpuMode` says hybrid). */
export async function searchAll(
  index: HnswIndex,
  queries: Dataset | readonly Vector[],
  k: number,
  ef: number,
  backend: Backend,
  gpu: DemoGpu | null,
  gpuMode?: GpuMode,
): Promise<Timed> {
  const start = performance.now();
  const r = await batch(index, queries, k, backend, gpu, { ef, ...rerankParams(index, ef), ...(gpuMode ? { gpuMode } : {}) });
  return { ids: r.ids, scores: r.scores, backend: r.backend, ms: performance.now() - start };
}

/**
 * The first `count` queries one at a time (for single-query latency), results concatenated.
 * With a budget, stops once the searches took budgetMs (after at least `min` queries).
 */
export async function searchEach(
  index: HnswIndex,
  queries: Dataset,
  count: number,
  k: number,
  ef: number,
  backend: Backend,
  gpu: DemoGpu | null,
  budget: { budgetMs: number; min: number } = { budgetMs: Infinity, min: count },
): Promise<Timed> {
  let ids = new Int32Array(count * k);
  let scores = new Float32Array(count * k);
  const ran = new Set<string>();
  let ms = 0;
  for (let q = 0; q < count; q++) {
    if (q >= budget.min && ms >= budget.budgetMs) {
      ids = ids.slice(0, q * k);
      scores = scores.slice(0, q * k);
      break;
    }
    const r = await searchOne(index, queries.get(q), k, ef, backend, gpu);
    ids.set(r.ids, q * k);
    scores.set(r.scores, q * k);
    ran.add(r.backend);
    ms += r.ms;
    if (q % 8 === 7) await nextFrame();
  }
  return { ids, scores, backend: [...ran].join(','), ms };
}

import { fail, WebannoloError } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { GPU_MAX_K, gpuExactTopK } from '../gpu/exact.js';
import type { ResidentStoreKernel } from '../gpu/resident/store-kernels.js';
import type { BatchEvaluator, Dataset, VectorStore } from '../types.js';
import { denseKind } from './dense/kind.js';
import { pqKind } from './pq/kind.js';
import { rabitqKind } from './rabitq/kind.js';
import { scalarKinds } from './scalar/kind.js';
import { sparseKind } from './sparse/kind.js';
import type { SharedStore, StoreCodec, StoreKind } from './store-kind.js';

export type { SharedStore, StoreCodec, StoreKind } from './store-kind.js';

/**
 * Every store kind the library knows, by the `kind` string its stores report. The indexes,
 * the file codec, the worker threads and the GPU paths ask here and never name a store
 * class: adding a kind is its folder and one entry in this list.
 */
const kinds = new Map<string, StoreKind>();
for (const kind of [denseKind, sparseKind, pqKind, ...scalarKinds, rabitqKind]) kinds.set(kind.kind, kind);

/** The registered kinds (the conformance test walks them). */
export function storeKinds(): readonly StoreKind[] {
  return [...kinds.values()];
}

/**
 * Registers a file codec: a new kind known to the file format only (its stores stay on one
 * thread and the CPU), or a replacement codec for a known kind, which keeps its other parts.
 */
export function registerStoreCodec(codec: StoreCodec): void {
  const known = kinds.get(codec.kind);
  kinds.set(codec.kind, known ? { ...known, codec } : { kind: codec.kind, codec, owns: (_store): _store is never => false });
}

export function hasStoreCodec(kind: string): boolean {
  return kinds.has(kind);
}

export function storeCodec(kind: string): StoreCodec {
  const known = kinds.get(kind);
  if (!known) return fail('UNSUPPORTED_FORMAT', `index file holds a '${kind}' store, which this build of webannolo cannot read`);
  return known.codec;
}

/** The kind of `store` when the store is that kind's own class, else null (a custom or file-backed store). */
function kindOf(store: VectorStore): StoreKind | null {
  const kind = kinds.get(store.kind);
  return kind?.owns(store) ? kind : null;
}

/**
 * The store's shared form, or null for a store worker threads cannot use (a custom store, a
 * file-backed one): callers then stay on one thread.
 */
export function shareStore(store: VectorStore): SharedStore | null {
  return kindOf(store)?.workers?.share(store) ?? null;
}

/** The store a worker thread searches: the shared memory, bound to this thread's kernels. */
export function attachStore(s: SharedStore): VectorStore {
  const workers = kinds.get(s.kind)?.workers;
  if (!workers) return fail('INVALID_ARGUMENT', `internal: a '${s.kind}' store cannot be attached in a worker`);
  return workers.attach(s);
}

/** The exact vectors a plain store holds (what a quantizer encodes), or null for encoded and foreign stores. */
export function plainVectorsOf(store: VectorStore): Dataset | null {
  return kindOf(store)?.plainVectors?.(store) ?? null;
}

/** The GPU BatchEvaluator for a store (the hybrid path), or null for kinds the GPU does not handle. */
export function gpuEvaluatorFor(ctx: GpuContext, store: VectorStore): BatchEvaluator | null {
  return kindOf(store)?.gpuPairs?.(ctx, store) ?? null;
}

/** The store's snippet for the resident kernel, or null for kinds that have none. */
export function residentKernelFor(ctx: GpuContext, store: VectorStore): ResidentStoreKernel | null {
  return kindOf(store)?.residentKernel?.(ctx, store) ?? null;
}

/** Whether gpuExactSearch can serve `store` and `k`. */
export function gpuExactSupports(store: VectorStore, k: number): boolean {
  return k <= GPU_MAX_K && kindOf(store)?.exactScan !== undefined;
}

/**
 * Exact k-NN on the GPU: the kind's distance matrix per block of queries, then top-k passes
 * (gpu/exact.ts). Returns internal distances (`dists`, smaller is better) and `ids`, row-major,
 * best first.
 */
export async function gpuExactSearch(
  ctx: GpuContext,
  store: VectorStore,
  queries: Dataset,
  k: number,
): Promise<{ ids: Uint32Array; dists: Float32Array }> {
  if (k > GPU_MAX_K)
    throw new WebannoloError('INVALID_ARGUMENT', `k = ${k} is above GPU_MAX_K (${GPU_MAX_K}), the most the exact GPU search returns`);
  const scan = kindOf(store)?.exactScan?.(ctx, store);
  if (!scan) throw new WebannoloError('NO_GPU', `exact GPU search supports dense and PQ stores, not a '${store.kind}' store`);
  return gpuExactTopK(ctx, scan, queries, k);
}

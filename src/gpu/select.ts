import { fail } from '../errors.js';
import { type GpuContext, noGpu, requestGpu, retireGpu } from './device.js';

/** Where a batch runs: 'cpu', 'gpu' (WebGPU, or an error), or 'auto' (chosen by measurement). */
export type Backend = 'auto' | 'gpu' | 'cpu';
/** Every Backend value, for argument checks. */
export const BACKENDS: readonly Backend[] = ['auto', 'gpu', 'cpu'];

/** With backend 'auto', batches smaller than this stay on the CPU (round trips would dominate). */
export const AUTO_MIN_BATCH = 64;

/** Where a batched search runs, for HnswIndex.searchBatch and FlatIndex.searchBatch. */
export interface BackendOptions {
  /** 'auto' (GPU when there is one and the batch is large enough), 'gpu' (or an error), 'cpu'. Default 'cpu'. */
  backend?: Backend;
  /** A GPU context to use; default the process-wide one from requestGpu(). */
  gpu?: GpuContext | null;
  /**
   * Called once if the GPU fails mid-search and the work finishes on the CPU. The fault is this
   * call's: other calls running on the device go on there (unless the device was lost), later
   * calls use the CPU until requestGpu({ renew: true }).
   */
  onFallback?: (error: unknown) => void;
}

/** The validated `backend` option (default 'cpu'). */
export function checkBackend(options: BackendOptions): Backend {
  const backend = options.backend ?? 'cpu';
  if (!BACKENDS.includes(backend)) fail('INVALID_ARGUMENT', `backend must be 'auto', 'gpu' or 'cpu', got ${String(backend)}`);
  return backend;
}

/**
 * The GPU context `options` ask for: null for 'cpu' or where there is no usable adapter
 * ('auto'); NO_GPU for 'gpu' without one.
 */
export async function gpuContextFor(options: BackendOptions): Promise<GpuContext | null> {
  const backend = checkBackend(options);
  if (backend === 'cpu') return null;
  const ctx = options.gpu !== undefined ? (options.gpu?.usable ? options.gpu : null) : await requestGpu();
  if (!ctx && backend === 'gpu') noGpu();
  return ctx;
}

/** The GPU context to use for `queryCount` queries, or null for the CPU (FlatIndex's rule). */
export async function chooseGpu(options: BackendOptions, queryCount: number): Promise<GpuContext | null> {
  if (checkBackend(options) === 'auto' && queryCount < AUTO_MIN_BATCH) return null;
  return gpuContextFor(options);
}

let warned = false;

/** What happens on a GPU fault: retire the device, warn once per process (or tell the caller). */
export function gpuFaultHandler(ctx: GpuContext, options: BackendOptions): (error: unknown) => void {
  return (error) => {
    retireGpu(ctx, error instanceof Error ? error.message : String(error));
    if (options.onFallback) options.onFallback(error);
    else if (!warned) {
      warned = true;
      console.warn(
        `webannolo: GPU failed (${error instanceof Error ? error.message : String(error)}); finishing on the CPU, later searches use the CPU until requestGpu({ renew: true })`,
      );
    }
  };
}

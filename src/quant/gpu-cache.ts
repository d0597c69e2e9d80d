import type { GpuContext } from '../gpu/device.js';

const storeCaches = new WeakMap<GPUDevice, WeakMap<object, unknown>>();

/**
 * Per-device cache of uploaded stores (each kind's GPU data: rows, codes, CSR arrays), so a
 * store goes up once per device; re-uploaded only if the chunk limit changed.
 */
export function cachedUpload<T extends { rowsPerChunk: number }>(
  ctx: GpuContext,
  store: object,
  rowsPerChunkNow: number,
  make: () => T,
): T {
  // Keyed by device: every call's context on a device (see gpuCall) shares the uploads.
  let cache = storeCaches.get(ctx.device);
  if (!cache) storeCaches.set(ctx.device, (cache = new WeakMap()));
  const hit = cache.get(store) as T | undefined;
  if (hit && hit.rowsPerChunk === rowsPerChunkNow) return hit;
  const made = make();
  cache.set(store, made);
  return made;
}

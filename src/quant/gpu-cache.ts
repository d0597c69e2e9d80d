import type { GpuContext } from '../gpu/device.js';

/**
 * Per-context cache of uploaded stores (each kind's GPU data: rows, codes, CSR arrays), so a
 * store goes up once per device; re-uploaded only if the chunk limit changed.
 */
export function cachedUpload<T extends { rowsPerChunk: number }>(
  ctx: GpuContext,
  store: object,
  rowsPerChunkNow: number,
  make: () => T,
): T {
  const cache = ((ctx as unknown as { storeCache?: WeakMap<object, unknown> }).storeCache ??= new WeakMap());
  const hit = cache.get(store) as T | undefined;
  if (hit && hit.rowsPerChunk === rowsPerChunkNow) return hit;
  const made = make();
  cache.set(store, made);
  return made;
}

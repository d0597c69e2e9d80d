import { WebannoloError } from '../errors.js';
import { denseData, padRows } from '../quant/dense/gpu-pairs.js';
import { PlainDenseStore } from '../quant/dense/store.js';
import { buildLuts, pqData } from '../quant/pq/gpu-pairs.js';
import { PQ_KSUB, PqStore } from '../quant/pq/pq.js';
import type { Dataset, VectorStore } from '../types.js';
import type { GpuContext } from './device.js';
import { encodeDispatch, grid, guarded } from './dispatch.js';

/**
 * The top-k pass keeps k of every segment of SEG entries, and must keep at most half to make
 * progress: segments of 1024 up to k = 512, of 2048 (16 KiB of workgroup memory) up to 1024.
 */
export const GPU_MAX_K = 1024;
const segmentFor = (k: number) => (k > 512 ? 2048 : 1024);

export function gpuExactSupports(store: VectorStore, k: number): boolean {
  return k <= GPU_MAX_K && (store instanceof PlainDenseStore || store instanceof PqStore);
}

/**
 * Exact k-NN on the GPU: for each block of queries, the full distance matrix (dense_scan or
 * pq_scan, chunk by chunk), then top-k passes (topk.wgsl) until one segment per row remains.
 * Returns internal distances (smaller is better) and ids, row-major, best first.
 */
export async function gpuExactSearch(
  ctx: GpuContext,
  store: VectorStore,
  queries: Dataset,
  k: number,
): Promise<{ ids: Uint32Array; dists: Float32Array }> {
  if (!gpuExactSupports(store, k))
    throw new WebannoloError('GPU_FAILURE', `exact GPU search supports dense and PQ stores with k <= ${GPU_MAX_K}`);
  const n = store.size;
  const nq = queries.size;
  const limit = ctx.limits.maxStorageBufferBindingSize;
  const rowsPerBlock = Math.max(1, Math.min(256, Math.floor(limit / (n * 4))));
  if (n * 4 > limit) throw new WebannoloError('GPU_FAILURE', `one row of ${n} distances exceeds the GPU binding limit`);
  const ids = new Uint32Array(nq * k);
  const dists = new Float32Array(nq * k);
  for (let start = 0; start < nq; start += rowsPerBlock) {
    const rows = Math.min(rowsPerBlock, nq - start);
    const block = await guarded(ctx, () => searchBlock(ctx, store, queries, start, rows, k));
    ids.set(block.ids, start * k);
    dists.set(block.dists, start * k);
  }
  return { ids, dists };
}

async function searchBlock(ctx: GpuContext, store: VectorStore, queries: Dataset, start: number, rows: number, k: number) {
  const { device, resources } = ctx;
  const n = store.size;
  const encoder = device.createCommandEncoder();
  const matrix = resources.storage(rows * n * 4);
  const releases: (() => void)[] = [];
  const keep = (b: GPUBuffer) => {
    releases.push(() => resources.release(b));
    return b;
  };
  if (store instanceof PlainDenseStore) {
    const data = denseData(ctx, store);
    const stride = data.vecsPerRow * 4;
    const q = new Float32Array(rows * stride);
    for (let s = 0; s < rows; s++) q.set(padRows(queries.get(start + s) as Float32Array, store.dim, 0, 1, stride), s * stride);
    const qBuf = keep(resources.storage(q.byteLength));
    resources.write(qBuf, q);
    const pipeline = await resources.pipeline('dense_scan');
    data.chunks.forEach((chunk, c) => {
      const idBase = c * data.rowsPerChunk;
      const items = Math.min(data.rowsPerChunk, n - idBase);
      const g = grid(Math.ceil((rows * items) / 64));
      const p = keep(resources.params([rows, items, data.vecsPerRow, store.metric === 'l2' ? 0 : 1, n, idBase, g.x, 0]));
      encodeDispatch(device, encoder, pipeline, [chunk, qBuf, matrix, p], g);
    });
  } else {
    const pqStore = store as PqStore;
    const data = pqData(ctx, pqStore);
    const built = await buildLuts(ctx, data, queries, start, rows, encoder);
    releases.push(built.release, () => resources.release(built.luts));
    const pipeline = await resources.pipeline('pq_scan');
    data.chunks.forEach((chunk, c) => {
      const idBase = c * data.rowsPerChunk;
      const items = Math.min(data.rowsPerChunk, n - idBase);
      const g = grid(Math.ceil((rows * items) / 64));
      const p = keep(resources.params([rows, items, pqStore.pq.m, data.wordsPerRow, n, idBase, g.x, 0]));
      encodeDispatch(device, encoder, pipeline, [chunk, built.luts, matrix, p], g);
    });
    void PQ_KSUB;
  }
  // Top-k passes, ping-ponging between two (distance, id) buffer pairs.
  const SEG = segmentFor(k);
  const topk = await resources.pipeline('topk', { SEG });
  let len = n;
  let inDist = matrix;
  let inIds = keep(resources.storage(16)); // unused by the first pass (implicit ids)
  let implicit = 1;
  const kk = Math.min(k, n);
  for (;;) {
    const segs = Math.ceil(len / SEG);
    const outLen = segs * kk;
    const outDist = keep(resources.storage(rows * outLen * 4));
    const outIds = keep(resources.storage(rows * outLen * 4));
    const p = keep(resources.params([len, segs, kk, implicit]));
    encodeDispatch(device, encoder, topk, [inDist, inIds, outDist, outIds, p], { x: segs, y: rows });
    inDist = outDist;
    inIds = outIds;
    implicit = 0;
    len = outLen;
    if (segs === 1) break;
  }
  const readD = resources.readback(rows * kk * 4);
  const readI = resources.readback(rows * kk * 4);
  encoder.copyBufferToBuffer(inDist, 0, readD, 0, rows * kk * 4);
  encoder.copyBufferToBuffer(inIds, 0, readI, 0, rows * kk * 4);
  device.queue.submit([encoder.finish()]);
  const [d, i] = (await resources.readAll([
    { buffer: readD, bytes: rows * kk * 4 },
    { buffer: readI, bytes: rows * kk * 4 },
  ])) as [ArrayBuffer, ArrayBuffer];
  resources.release(matrix);
  for (const r of releases) r();
  const dists = new Float32Array(rows * k).fill(Number.POSITIVE_INFINITY);
  const ids = new Uint32Array(rows * k).fill(0xffffffff);
  const dd = new Float32Array(d);
  const ii = new Uint32Array(i);
  for (let r = 0; r < rows; r++) {
    dists.set(dd.subarray(r * kk, (r + 1) * kk), r * k);
    ids.set(ii.subarray(r * kk, (r + 1) * kk), r * k);
  }
  return { ids, dists };
}

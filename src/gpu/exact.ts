import { WebannoloError } from '../errors.js';
import type { Dataset } from '../types.js';
import type { GpuContext } from './device.js';
import { encodeDispatch, fenced } from './dispatch.js';
import { GPU_KERNELS } from './kernels.js';

/**
 * The top-k pass keeps k of every segment of SEG entries, and must keep at most half to make
 * progress: segments of 1024 up to k = 512, of 2048 (16 KiB of workgroup memory) up to 1024.
 */
export const GPU_MAX_K = 1024;
const segmentFor = (k: number) => (k > 512 ? 2048 : 1024);

/**
 * A store kind's part of the exact search: the full distance matrix of a block of queries.
 * The kinds that have one (quant/dense/exact-scan.ts, quant/pq/exact-scan.ts) say so in their
 * StoreKind; the top-k passes below are the same for all.
 */
export interface ExactScan {
  /** Items scanned: the matrix has this many columns. */
  readonly size: number;
  /** Compiles what encode() dispatches (before the fenced section that encodes). */
  ready(): Promise<void>;
  /**
   * Encodes into `encoder` the internal distances of queries [start, start+rows) to every
   * item, row-major into `matrix` (rows x size f32), and returns what to release once the
   * work has been submitted and read back. Synchronous: it runs inside a fenced section.
   */
  encode(encoder: GPUCommandEncoder, queries: Dataset, start: number, rows: number, matrix: GPUBuffer): () => void;
}

/**
 * Exact k-NN on the GPU: for each block of queries, the full distance matrix (the kind's scan,
 * chunk by chunk), then top-k passes (topk.wgsl) until one segment per row remains. Returns
 * internal distances (smaller is better) and ids, row-major, best first.
 */
export async function gpuExactTopK(
  ctx: GpuContext,
  scan: ExactScan,
  queries: Dataset,
  k: number,
): Promise<{ ids: Uint32Array; dists: Float32Array }> {
  if (k > GPU_MAX_K)
    throw new WebannoloError('INVALID_ARGUMENT', `k = ${k} is above GPU_MAX_K (${GPU_MAX_K}), the most the exact GPU search returns`);
  const n = scan.size;
  const nq = queries.size;
  const limit = ctx.limits.maxStorageBufferBindingSize;
  const rowsPerBlock = Math.max(1, Math.min(256, Math.floor(limit / (n * 4))));
  if (n * 4 > limit) throw new WebannoloError('GPU_FAILURE', `one row of ${n} distances exceeds the GPU binding limit`);
  const ids = new Uint32Array(nq * k);
  const dists = new Float32Array(nq * k);
  for (let start = 0; start < nq; start += rowsPerBlock) {
    const rows = Math.min(rowsPerBlock, nq - start);
    const block = await searchBlock(ctx, scan, queries, start, rows, k);
    ids.set(block.ids, start * k);
    dists.set(block.dists, start * k);
  }
  return { ids, dists };
}

/** One block of queries: the distance matrix and every top-k pass in one fenced submit, one read. */
async function searchBlock(ctx: GpuContext, scan: ExactScan, queries: Dataset, start: number, rows: number, k: number) {
  const { device, resources } = ctx;
  const n = scan.size;
  const SEG = segmentFor(k);
  await scan.ready();
  const topk = await resources.pipeline('topk', { SEG });
  const kk = Math.min(k, n);
  const releases: (() => void)[] = [];
  const keep = (b: GPUBuffer) => {
    releases.push(() => resources.release(b));
    return b;
  };
  let d: ArrayBuffer;
  let i: ArrayBuffer;
  try {
    [d, i] = (await fenced(ctx, () => {
      const encoder = device.createCommandEncoder();
      const matrix = keep(resources.storage(rows * n * 4, 'exact distance matrix'));
      releases.push(scan.encode(encoder, queries, start, rows, matrix));
      // Top-k passes, ping-ponging between two (distance, id) buffer pairs.
      let len = n;
      let inDist = matrix;
      let inIds = keep(resources.storage(16, 'topk.inIds (implicit)')); // unused by the first pass (implicit ids)
      let implicit = 1;
      for (;;) {
        const segs = Math.ceil(len / SEG);
        const outLen = segs * kk;
        const outDist = keep(resources.storage(rows * outLen * 4, 'topk.outDist'));
        const outIds = keep(resources.storage(rows * outLen * 4, 'topk.outIds'));
        const p = keep(resources.params(GPU_KERNELS.topk, { len, segs, k: kk, implicitIds: implicit }));
        encodeDispatch(device, encoder, topk, [inDist, inIds, outDist, outIds, p], { x: segs, y: rows });
        inDist = outDist;
        inIds = outIds;
        implicit = 0;
        len = outLen;
        if (segs === 1) break;
      }
      const readD = resources.readback(rows * kk * 4, 'topk.outDist readback');
      const readI = resources.readback(rows * kk * 4, 'topk.outIds readback');
      encoder.copyBufferToBuffer(inDist, 0, readD, 0, rows * kk * 4);
      encoder.copyBufferToBuffer(inIds, 0, readI, 0, rows * kk * 4);
      device.queue.submit([encoder.finish()]);
      return resources.readAll([
        { buffer: readD, bytes: rows * kk * 4 },
        { buffer: readI, bytes: rows * kk * 4 },
      ]);
    })) as [ArrayBuffer, ArrayBuffer];
  } finally {
    for (const r of releases) r();
  }
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

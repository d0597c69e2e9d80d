import { cachedUpload, denseData } from '../../quant/dense/gpu-pairs.js';
import { PlainDenseStore } from '../../quant/dense/store.js';
import { PlainSparseStore } from '../../quant/plain.js';
import { buildLuts, pqData } from '../../quant/pq/gpu-pairs.js';
import { PqStore } from '../../quant/pq/pq.js';
import { scalarData } from '../../quant/scalar/gpu-pairs.js';
import { ScalarStore } from '../../quant/scalar/store.js';
import { GpuSparseData, scatterQueries } from '../../quant/sparse/gpu-pairs.js';
import type { Dataset, VectorStore } from '../../types.js';
import type { GpuContext } from '../device.js';
import { uploadQueries } from '../pair-evaluator.js';

/**
 * How one store kind plugs into the resident kernel: a WGSL snippet (shaders/resident_*.wgsl)
 * that scores one (query, item) pair with a team of threads, the override constants it needs,
 * and the buffers it binds from binding 4 on. Adding a store kind to the resident path means
 * writing one snippet and one of these; the beam search itself does not change.
 */
export interface ResidentStoreKernel {
  /** The snippet's shader name. */
  readonly shader: string;
  /** WGSL element type of the store's chunk bindings, or null when the snippet declares its own. */
  readonly chunkElement: string | null;
  /** Buffers prepare() returns, bound from binding 4 on before the chunks (default 1). */
  readonly bindingsBeforeChunks?: number;
  /** Store chunks bound after the per-dispatch buffers (empty when chunkElement is null). */
  readonly chunks: readonly GPUBuffer[];
  readonly constants: Record<string, number>;
  /** Work items per distance (vec4s, subspaces, non-zeros): sizes the thread team. */
  readonly itemsPerDistance: number;
  /** Queries one dispatch may hold (per-query device memory: lookup tables, scatter rows). */
  readonly maxQueriesPerDispatch: number;
  /**
   * Uploads (or encodes into `encoder`) what queries [start, start+count) need, and returns the
   * buffers for bindings 4.. in order (before the chunks) with a release for afterwards.
   */
  prepare(
    encoder: GPUCommandEncoder,
    queries: Dataset,
    start: number,
    count: number,
  ): Promise<{ bindings: GPUBuffer[]; release: () => void }>;
}

/** Per-query device memory a dispatch may use (lookup tables, scatter rows). */
const PER_DISPATCH_BYTES = 64 * 1024 * 1024;

/** The resident kernel of `store`, or null for kinds that have none. */
export function residentStoreKernel(ctx: GpuContext, store: VectorStore): ResidentStoreKernel | null {
  if (store instanceof PlainDenseStore) return denseKernel(ctx, store);
  if (store instanceof PqStore) return pqKernel(ctx, store);
  if (store instanceof PlainSparseStore) return sparseKernel(ctx, store);
  if (store instanceof ScalarStore) return scalarKernel(ctx, store);
  return null;
}

function queryLimit(ctx: GpuContext, bytesPerQuery: number): number {
  return Math.max(1, Math.floor(Math.min(PER_DISPATCH_BYTES, ctx.limits.maxStorageBufferBindingSize) / bytesPerQuery));
}

function denseKernel(ctx: GpuContext, store: PlainDenseStore): ResidentStoreKernel {
  const data = denseData(ctx, store);
  const stride = data.vecsPerRow * 4;
  return {
    shader: 'resident_dense',
    chunkElement: 'vec4<f32>',
    chunks: data.chunks,
    constants: { VECS: data.vecsPerRow, ROWS_PER_CHUNK: data.rowsPerChunk, METRIC: store.metric === 'l2' ? 0 : 1 },
    itemsPerDistance: data.vecsPerRow,
    maxQueriesPerDispatch: queryLimit(ctx, stride * 4),
    async prepare(_encoder, queries, start, count) {
      const buf = uploadQueries(ctx, queries, start, count, stride);
      return { bindings: [buf], release: () => ctx.resources.release(buf) };
    },
  };
}

function pqKernel(ctx: GpuContext, store: PqStore): ResidentStoreKernel {
  const data = pqData(ctx, store);
  const { m } = store.pq;
  return {
    shader: 'resident_pq',
    chunkElement: 'u32',
    chunks: data.chunks,
    constants: { MSUB: m, WORDS: data.wordsPerRow, ROWS_PER_CHUNK: data.rowsPerChunk },
    itemsPerDistance: m,
    maxQueriesPerDispatch: queryLimit(ctx, m * 256 * 4),
    async prepare(encoder, queries, start, count) {
      const built = await buildLuts(ctx, data, queries, start, count, encoder);
      return {
        bindings: [built.luts],
        release: () => {
          built.release();
          ctx.resources.release(built.luts);
        },
      };
    },
  };
}

/** f16 and SQ8 codes, decoded in the shader (resident_f16.wgsl, resident_sq8.wgsl); queries go up as f32. */
function scalarKernel(ctx: GpuContext, store: ScalarStore): ResidentStoreKernel {
  const data = scalarData(ctx, store);
  const { paddedDim, encoding } = store.codec;
  const vecs = paddedDim / 4;
  return {
    shader: `resident_${encoding}`,
    chunkElement: 'u32',
    bindingsBeforeChunks: data.mins ? 3 : 1,
    chunks: data.chunks,
    constants: { VECS: vecs, ROWS_PER_CHUNK: data.rowsPerChunk, METRIC: store.metric === 'l2' ? 0 : 1 },
    itemsPerDistance: vecs,
    maxQueriesPerDispatch: queryLimit(ctx, paddedDim * 4),
    async prepare(_encoder, queries, start, count) {
      const buf = uploadQueries(ctx, queries, start, count, paddedDim);
      const ranges = data.mins && data.steps ? [data.mins, data.steps] : [];
      return { bindings: [buf, ...ranges], release: () => ctx.resources.release(buf) };
    },
  };
}

function sparseKernel(ctx: GpuContext, store: PlainSparseStore): ResidentStoreKernel | null {
  const d = store.data;
  if (d.indices.byteLength > ctx.limits.maxStorageBufferBindingSize) return null;
  const data = cachedUpload(ctx, store, Number.MAX_SAFE_INTEGER, () => new GpuSparseData(ctx, store));
  const dim = store.dim;
  return {
    shader: 'resident_sparse',
    chunkElement: null,
    chunks: [],
    constants: { DIM: dim, NITEMS: store.size, METRIC: store.metric === 'l2' ? 0 : 1 },
    itemsPerDistance: Math.max(1, Math.round(d.nnz / Math.max(1, d.size))),
    maxQueriesPerDispatch: queryLimit(ctx, dim * 4),
    async prepare(_encoder, queries, start, count) {
      const { rows, norms } = scatterQueries(data, queries, start, count);
      const qBuf = ctx.resources.storage(rows.byteLength);
      ctx.resources.write(qBuf, rows);
      const nBuf = ctx.resources.storage(norms.byteLength);
      ctx.resources.write(nBuf, norms);
      return {
        bindings: [qBuf, data.indptr, data.indices, data.values, nBuf],
        release: () => {
          ctx.resources.release(qBuf);
          ctx.resources.release(nBuf);
        },
      };
    },
  };
}

/**
 * WGSL for `count` chunk bindings from `firstBinding` on, and `storeRow(chunk, index)` that
 * reads element `index` of chunk `chunk` (a switch, uniform within a team).
 */
export function chunkSource(element: string, count: number, firstBinding: number): string {
  const lines: string[] = [];
  for (let c = 0; c < count; c++) lines.push(`@group(0) @binding(${firstBinding + c}) var<storage, read> chunk${c}: array<${element}>;`);
  if (count === 1) {
    lines.push(`fn storeRow(c: u32, k: u32) -> ${element} {`, '  return chunk0[k];', '}');
  } else {
    lines.push(`fn storeRow(c: u32, k: u32) -> ${element} {`, '  switch c {');
    for (let c = 0; c < count - 1; c++) lines.push(`    case ${c}u: { return chunk${c}[k]; }`);
    lines.push(`    default: { return chunk${count - 1}[k]; }`, '  }', '}');
  }
  return lines.join('\n');
}

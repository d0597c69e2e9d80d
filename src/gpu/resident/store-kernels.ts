import type { Dataset } from '../../types.js';
import type { GpuContext } from '../device.js';

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
  /** Compiles what prepare() encodes, if anything (before the fenced section that prepares). */
  ready?(): Promise<void>;
  /**
   * Uploads (or encodes into `encoder`) what queries [start, start+count) need, and returns the
   * buffers for bindings 4.. in order (before the chunks) with a release for afterwards.
   * Synchronous: it runs inside the submit's fenced section.
   */
  prepare(encoder: GPUCommandEncoder, queries: Dataset, start: number, count: number): { bindings: GPUBuffer[]; release: () => void };
}

/** Per-query device memory a dispatch may use (lookup tables, scatter rows). */
const PER_DISPATCH_BYTES = 64 * 1024 * 1024;

/** Queries one dispatch may hold when each needs `bytesPerQuery` of device memory. */
export function queryLimit(ctx: GpuContext, bytesPerQuery: number): number {
  return Math.max(1, Math.floor(Math.min(PER_DISPATCH_BYTES, ctx.limits.maxStorageBufferBindingSize) / bytesPerQuery));
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

import type { GraphLayout } from '../../types.js';
import type { GpuContext } from '../device.js';

const NONE = 0xffffffff;

/**
 * An HNSW graph on the GPU, uploaded once per (device, graph):
 * - level0: the graph's own level-0 array as is, n x (m0 + 1) u32 slots (count, then ids);
 * - upper: n words mapping a node to the offset of its upper-level lists in the same buffer
 *   (NONE for the ~(1 - 1/m) of nodes on level 0 only), then those lists, level l at
 *   offset + (l - 1) x (m + 1), laid out like level 0.
 */
export class GpuGraph {
  readonly level0: GPUBuffer;
  readonly upper: GPUBuffer;
  readonly bytes: number;
  constructor(
    ctx: GpuContext,
    readonly graph: GraphLayout,
  ) {
    this.level0 = ctx.resources.upload(graph.level0, 'graph level 0');
    const flat = flattenUpper(graph);
    this.upper = ctx.resources.upload(flat, 'graph upper levels');
    this.bytes = graph.level0.byteLength + flat.byteLength;
  }

  /** Whether each part fits one binding of the device. */
  static fits(ctx: GpuContext, graph: GraphLayout): boolean {
    const limit = ctx.limits.maxStorageBufferBindingSize;
    return graph.level0.byteLength <= limit && upperWords(graph) * 4 <= limit;
  }
}

function upperWords(graph: GraphLayout): number {
  let words = graph.n;
  for (const u of graph.upper) if (u !== undefined) words += u.length;
  return words;
}

export function flattenUpper(graph: GraphLayout): Uint32Array {
  const flat = new Uint32Array(upperWords(graph));
  let at = graph.n;
  for (let node = 0; node < graph.n; node++) {
    const lists = graph.upper[node];
    if (lists === undefined) {
      flat[node] = NONE;
      continue;
    }
    flat[node] = at;
    flat.set(lists, at);
    at += lists.length;
  }
  return flat;
}

/** Uploaded graphs by device (every call's context on a device shares them). */
const graphCaches = new WeakMap<GPUDevice, WeakMap<GraphLayout, GpuGraph>>();

/** The graph's GPU copy, cached per device; uploaded on first use (counted in that call's traffic). */
export function gpuGraph(ctx: GpuContext, graph: GraphLayout): GpuGraph {
  let cache = graphCaches.get(ctx.device);
  if (!cache) graphCaches.set(ctx.device, (cache = new WeakMap()));
  let hit = cache.get(graph);
  if (!hit) {
    hit = new GpuGraph(ctx, graph);
    cache.set(graph, hit);
  }
  return hit;
}

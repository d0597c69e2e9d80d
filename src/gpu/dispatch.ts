import { WebannoloError } from '../errors.js';
import type { GraphLayout } from '../types.js';
import { MAX_GROUPS_PER_DIM } from './constants.js';
import type { GpuContext } from './device.js';
import { bindingList, composedBindings, GPU_KERNELS, type GpuKernel, gpuKernelOf, type ParamValues, type ShaderName } from './kernels.js';
import { gpuGraph } from './resident/graph-upload.js';
import { shaderSource } from './shaders.js';

/** Workgroup grid for `groups` workgroups: 2-D when one dimension is not enough. */
export function grid(groups: number): { x: number; y: number } {
  const x = Math.max(1, Math.min(groups, MAX_GROUPS_PER_DIM));
  return { x, y: Math.max(1, Math.ceil(groups / x)) };
}

/**
 * Encodes one compute dispatch; buffers bind to 0..n-1 of group 0 in order (bindingList puts
 * them there by name). The bind group and the pass carry the pipeline's label, so a
 * validation error names the kernel.
 */
export function encodeDispatch(
  device: GPUDevice,
  encoder: GPUCommandEncoder,
  pipeline: GPUComputePipeline,
  buffers: GPUBuffer[],
  groups: { x: number; y: number },
): void {
  const label = pipeline.label;
  const bindGroup = device.createBindGroup({
    label,
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const pass = encoder.beginComputePass({ label });
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(groups.x, groups.y);
  pass.end();
}

/**
 * Issues one section of a call's GPU work inside error scopes of its own, and returns its
 * result once they report no error: WebGPU reports validation and out-of-memory errors
 * asynchronously, and a failure must become an exception of the call that caused it, so that
 * call (and no other) can finish on the CPU. A lost or retired context fails at once.
 *
 * `issue` makes every WebGPU call of the section synchronously (buffers, writes, encoding,
 * submit, and the mapAsync of its readbacks, which `read` starts before it returns) and may
 * return a promise of what they started. Error scopes are one stack per device, and an error
 * lands in the scope on top when its operation was issued: scopes held across an await would
 * also catch the work of any call (or lane) that ran meanwhile, and blame it on this one.
 * Pushed and popped in one synchronous turn, a section's scopes hold its own operations only,
 * no call waits for another, and the stack is empty whenever JavaScript yields.
 */
export async function fenced<T>(ctx: GpuContext, issue: () => T | Promise<T>): Promise<T> {
  if (!ctx.usable) throw new WebannoloError('GPU_FAILURE', `the GPU device is no longer usable (${ctx.lostReason ?? 'lost'})`);
  const { device, resources } = ctx;
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result: Promise<T>;
  try {
    result = Promise.resolve(issue());
  } catch (error) {
    result = Promise.reject(error);
  }
  const validation = device.popErrorScope().catch(() => null);
  const oom = device.popErrorScope().catch(() => null);
  // Read after the scopes: a WebGPU error explains a failure better than what it caused on the host.
  result.catch(() => undefined);
  const error = (await resources.awaitDevice(validation)) ?? (await resources.awaitDevice(oom));
  if (error) throw new WebannoloError('GPU_FAILURE', `WebGPU error: ${error.message}`);
  const value = await result;
  if (!ctx.usable) throw new WebannoloError('GPU_FAILURE', `the GPU device was lost (${ctx.lostReason ?? 'unknown reason'})`);
  return value;
}

/**
 * Pairs grouped by store chunk (ids made chunk-local), interleaved as (slot, id) for upload.
 * `order[j]` is the position in the caller's list of the j-th grouped pair; null when the
 * store has one chunk (the common case: no reordering at all).
 */
const NONE = 0xffffffff;

export function partitionPairs(
  slots: Uint32Array,
  ids: Uint32Array,
  count: number,
  rowsPerChunk: number,
  chunks: number,
): { pairs: Uint32Array; order: Uint32Array | null; starts: number[] } {
  const pairs = new Uint32Array(2 * count);
  if (chunks === 1) {
    for (let i = 0; i < count; i++) {
      pairs[2 * i] = slots[i]!;
      pairs[2 * i + 1] = ids[i]!;
    }
    return { pairs, order: null, starts: [0, count] };
  }
  // An empty slot (id NONE) goes to chunk 0 and stays NONE: the kernels score it far.
  const chunkOf = (id: number) => (id === NONE ? 0 : Math.floor(id / rowsPerChunk));
  const counts = new Uint32Array(chunks + 1);
  for (let i = 0; i < count; i++) counts[chunkOf(ids[i]!) + 1]!++;
  for (let c = 0; c < chunks; c++) counts[c + 1]! += counts[c]!;
  const starts = Array.from(counts);
  const next = counts.slice(0, chunks);
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const c = chunkOf(ids[i]!);
    const j = next[c]!++;
    order[j] = i;
    pairs[2 * j] = slots[i]!;
    pairs[2 * j + 1] = ids[i] === NONE ? NONE : ids[i]! - c * rowsPerChunk;
  }
  return { pairs, order, starts };
}

type FieldsOf<K> = K extends GpuKernel<infer F, string> ? F : never;

/** The Params of a pair kernel's dispatch: row_pairs' (for its row snippets), pq_adc_pairs', rabitq_pairs' or sparse_pairs'. */
export type PairParams =
  | ParamValues<FieldsOf<typeof GPU_KERNELS.row_pairs>>
  | ParamValues<FieldsOf<typeof GPU_KERNELS.pq_adc_pairs>>
  | ParamValues<FieldsOf<typeof GPU_KERNELS.rabitq_pairs>>
  | ParamValues<FieldsOf<typeof GPU_KERNELS.sparse_pairs>>;

/**
 * A pair kernel (dense_pairs over row_pairs, pq_adc_pairs): its shader, the store chunks it reads, how to bind
 * and parametrise one chunk's dispatch. `threadsPerPair` is 64 for a workgroup per pair, 1 for
 * a thread per pair. The kernels score id 0xffffffff as "far" (an empty neighbour slot).
 */
export interface PairKernel {
  readonly store: { chunks: GPUBuffer[]; rowsPerChunk: number };
  readonly shader: ShaderName;
  /** A shared main `shader` is a snippet of (compiled after it), e.g. 'row_pairs'; none when `shader` is whole. */
  readonly main?: ShaderName;
  readonly threadsPerPair: 1 | 64;
  /** The buffers of every binding of the shader (and its main), in binding order. */
  bind(chunk: GPUBuffer, pairs: GPUBuffer, out: GPUBuffer, params: GPUBuffer): GPUBuffer[];
  /** The Params of one chunk's dispatch, by field name (checked against the descriptor of `main`, or of `shader`). */
  paramsOf(count: number, groupsX: number, base: number): PairParams;
}

/**
 * Scores (slot, id) pairs against a chunked store: pairs are grouped by chunk, one dispatch per
 * non-empty chunk, one submit, one read.
 */
export async function scoreChunkedPairs(
  ctx: GpuContext,
  kernel: PairKernel,
  slots: Uint32Array,
  ids: Uint32Array,
  count: number,
  out: Float32Array,
): Promise<void> {
  const { resources } = ctx;
  const { pairs, order, starts } = partitionPairs(slots, ids, count, kernel.store.rowsPerChunk, kernel.store.chunks.length);
  const pipeline = await pairPipeline(ctx, kernel);
  const held: GPUBuffer[] = [];
  try {
    const result = await fenced(ctx, () => {
      const pairBuf = hold(held, resources.storage(pairs.byteLength, 'pairs'));
      resources.write(pairBuf, pairs);
      return issuePairKernel(ctx, kernel, pipeline, ctx.device.createCommandEncoder(), pairBuf, starts, count, held);
    });
    if (order === null) out.set(result);
    else for (let j = 0; j < count; j++) out[order[j]!] = result[j]!;
  } finally {
    for (const b of held) resources.release(b);
  }
}

/**
 * The distances from slots[e] to every level-0 neighbour of nodes[e]: out[e * m0 + i] for the
 * i-th neighbour (empty link slots score far). A one-chunk store gathers the neighbours on the
 * GPU from the uploaded graph (only the (slot, node) list goes up); a chunked one gets the
 * pairs from the host, since its dispatches are per chunk.
 */
export function scoreNeighbours(
  ctx: GpuContext,
  kernel: PairKernel,
  graph: GraphLayout,
  slots: Uint32Array,
  nodes: Uint32Array,
  count: number,
  out: Float32Array,
): Promise<void> {
  if (kernel.store.chunks.length === 1) return scoreNeighbourPairs(ctx, kernel, graph, slots, nodes, count, out);
  const m0 = graph.m0;
  const pairSlots = new Uint32Array(count * m0);
  const pairIds = new Uint32Array(count * m0).fill(0xffffffff);
  for (let e = 0; e < count; e++) {
    const base = nodes[e]! * (m0 + 1);
    const n = graph.level0[base]!;
    pairSlots.fill(slots[e]!, e * m0, (e + 1) * m0);
    pairIds.set(graph.level0.subarray(base + 1, base + 1 + n), e * m0);
  }
  return scoreChunkedPairs(ctx, kernel, pairSlots, pairIds, count * m0, out);
}

/** scoreNeighbours on the GPU gather (expand_pairs.wgsl), for one-chunk stores. */
async function scoreNeighbourPairs(
  ctx: GpuContext,
  kernel: PairKernel,
  graph: GraphLayout,
  slots: Uint32Array,
  nodes: Uint32Array,
  count: number,
  out: Float32Array,
): Promise<void> {
  const { device, resources } = ctx;
  const expansions = new Uint32Array(2 * count);
  for (let e = 0; e < count; e++) {
    expansions[2 * e] = slots[e]!;
    expansions[2 * e + 1] = nodes[e]!;
  }
  const total = count * graph.m0;
  const groups = grid(Math.ceil(total / 64));
  const expand = GPU_KERNELS.expand_pairs;
  const expandPipeline = await resources.pipeline('expand_pairs');
  const pipeline = await pairPipeline(ctx, kernel);
  const held: GPUBuffer[] = [];
  try {
    const result = await fenced(ctx, () => {
      const expBuf = hold(held, resources.storage(expansions.byteLength, 'expand_pairs.expansions'));
      resources.write(expBuf, expansions);
      const pairBuf = hold(held, resources.storage(total * 8, 'expand_pairs.pairs'));
      const params = hold(held, resources.params(expand, { total, m0: graph.m0, groupsX: groups.x }));
      const encoder = device.createCommandEncoder();
      const buffers = bindingList(expand, { graph0: gpuGraph(ctx, graph).level0, expansions: expBuf, pairs: pairBuf, params });
      encodeDispatch(device, encoder, expandPipeline, buffers, groups);
      return issuePairKernel(ctx, kernel, pipeline, encoder, pairBuf, [0, total], total, held);
    });
    out.set(result);
  } finally {
    for (const b of held) resources.release(b);
  }
}

/** `buffer`, noted in `held` to go back to the pool once the section's work is done. */
function hold(held: GPUBuffer[], buffer: GPUBuffer): GPUBuffer {
  held.push(buffer);
  return buffer;
}

/** The compiled pipeline of a pair kernel (its snippet composed before its main shader, if any). */
function pairPipeline(ctx: GpuContext, kernel: PairKernel): Promise<GPUComputePipeline> {
  const { shader, main } = kernel;
  return main === undefined
    ? ctx.resources.pipeline(shader)
    : ctx.resources.pipelineOf(`${main}+${shader}`, async () => `${await shaderSource(shader)}\n${await shaderSource(main)}`);
}

/**
 * Encodes the pair kernel over `pairBuf` (chunk c holds pairs starts[c] .. starts[c+1]) after
 * whatever `encoder` already holds, submits, and starts reading the `count` distances back
 * (synchronously: part of a fenced section). Buffers to release afterwards go to `held`.
 */
function issuePairKernel(
  ctx: GpuContext,
  kernel: PairKernel,
  pipeline: GPUComputePipeline,
  encoder: GPUCommandEncoder,
  pairBuf: GPUBuffer,
  starts: readonly number[],
  count: number,
  held: GPUBuffer[],
): Promise<Float32Array> {
  const { device, resources } = ctx;
  const { shader, main } = kernel;
  const outBuf = hold(held, resources.storage(count * 4, `${shader}.out`));
  const paramsKernel = gpuKernelOf(main ?? shader);
  const bindings = composedBindings(gpuKernelOf(shader)).length;
  const { chunks } = kernel.store;
  for (let c = 0; c < chunks.length; c++) {
    const n = starts[c + 1]! - starts[c]!;
    if (n === 0) continue;
    const g = grid(kernel.threadsPerPair === 64 ? n : Math.ceil(n / 64));
    const p = hold(held, resources.params<string>(paramsKernel, kernel.paramsOf(n, g.x, starts[c]!)));
    const buffers = kernel.bind(chunks[c]!, pairBuf, outBuf, p);
    if (buffers.length !== bindings)
      throw new Error(`internal error: ${pipeline.label} declares ${bindings} bindings, the pair kernel bound ${buffers.length}`);
    encodeDispatch(device, encoder, pipeline, buffers, g);
  }
  const readBuf = resources.readback(count * 4, `${shader}.out readback`);
  encoder.copyBufferToBuffer(outBuf, 0, readBuf, 0, count * 4);
  device.queue.submit([encoder.finish()]);
  return resources.read(readBuf, count * 4).then((bytes) => new Float32Array(bytes, 0, count));
}

import { WebannoloError } from '../errors.js';
import { MAX_GROUPS_PER_DIM } from './constants.js';
import type { GpuContext } from './device.js';

/** Workgroup grid for `groups` workgroups: 2-D when one dimension is not enough. */
export function grid(groups: number): { x: number; y: number } {
  const x = Math.max(1, Math.min(groups, MAX_GROUPS_PER_DIM));
  return { x, y: Math.max(1, Math.ceil(groups / x)) };
}

/** Encodes one compute dispatch; buffers bind to 0..n-1 of group 0 in order. */
export function encodeDispatch(
  device: GPUDevice, encoder: GPUCommandEncoder, pipeline: GPUComputePipeline,
  buffers: GPUBuffer[], groups: { x: number; y: number },
): void {
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(groups.x, groups.y);
  pass.end();
}

/**
 * Runs `work` (which encodes and submits) inside validation and out-of-memory error scopes:
 * WebGPU reports those asynchronously, and a failure must become an exception so the batch
 * controller can finish on the CPU. A lost or retired device fails at once.
 */
export async function guarded<T>(ctx: GpuContext, work: () => Promise<T>): Promise<T> {
  if (!ctx.usable) throw new WebannoloError('GPU_FAILURE', `the GPU device is no longer usable (${ctx.lostReason ?? 'lost'})`);
  const device = ctx.device;
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result: T;
  try {
    result = await work();
  } finally {
    const validation = await ctx.resources.awaitDevice(device.popErrorScope()).catch(() => null);
    const oom = await ctx.resources.awaitDevice(device.popErrorScope()).catch(() => null);
    const error = validation ?? oom;
    if (error) throw new WebannoloError('GPU_FAILURE', `WebGPU error: ${error.message}`);
  }
  if (!ctx.usable) throw new WebannoloError('GPU_FAILURE', `the GPU device was lost (${ctx.lostReason ?? 'unknown reason'})`);
  return result;
}

/**
 * Pairs grouped by store chunk (ids made chunk-local), interleaved as (slot, id) for upload.
 * `order[j]` is the position in the caller's list of the j-th grouped pair; null when the
 * store has one chunk (the common case: no reordering at all).
 */
export function partitionPairs(
  slots: Uint32Array, ids: Uint32Array, count: number, rowsPerChunk: number, chunks: number,
): { pairs: Uint32Array; order: Uint32Array | null; starts: number[] } {
  const pairs = new Uint32Array(2 * count);
  if (chunks === 1) {
    for (let i = 0; i < count; i++) {
      pairs[2 * i] = slots[i]!;
      pairs[2 * i + 1] = ids[i]!;
    }
    return { pairs, order: null, starts: [0, count] };
  }
  const counts = new Uint32Array(chunks + 1);
  for (let i = 0; i < count; i++) counts[Math.floor(ids[i]! / rowsPerChunk) + 1]!++;
  for (let c = 0; c < chunks; c++) counts[c + 1]! += counts[c]!;
  const starts = Array.from(counts);
  const next = counts.slice(0, chunks);
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const c = Math.floor(ids[i]! / rowsPerChunk);
    const j = next[c]!++;
    order[j] = i;
    pairs[2 * j] = slots[i]!;
    pairs[2 * j + 1] = ids[i]! - c * rowsPerChunk;
  }
  return { pairs, order, starts };
}

/**
 * Scores (slot, id) pairs against a chunked store: pairs are grouped by chunk, one dispatch of
 * `shader` per non-empty chunk, one submit, one read. `bind(chunk, pairs, out, params)` lists
 * the shader's buffers; `paramsOf(count, groupsX, base)` its uniform words; `threadsPerPair`
 * is 64 for a workgroup per pair, 1 for a thread per pair.
 */
export async function scoreChunkedPairs(
  ctx: GpuContext,
  store: { chunks: GPUBuffer[]; rowsPerChunk: number },
  shader: string,
  threadsPerPair: 1 | 64,
  bind: (chunk: GPUBuffer, pairs: GPUBuffer, out: GPUBuffer, params: GPUBuffer) => GPUBuffer[],
  paramsOf: (count: number, groupsX: number, base: number) => number[],
  slots: Uint32Array, ids: Uint32Array, count: number, out: Float32Array,
): Promise<void> {
  const { device, resources } = ctx;
  const { pairs, order, starts } = partitionPairs(slots, ids, count, store.rowsPerChunk, store.chunks.length);
  const pairBuf = resources.storage(pairs.byteLength);
  resources.write(pairBuf, pairs);
  const outBuf = resources.storage(count * 4);
  const readBuf = resources.readback(count * 4);
  const pipeline = await resources.pipeline(shader);
  const encoder = device.createCommandEncoder();
  const params: GPUBuffer[] = [];
  for (let c = 0; c < store.chunks.length; c++) {
    const n = starts[c + 1]! - starts[c]!;
    if (n === 0) continue;
    const g = grid(threadsPerPair === 64 ? n : Math.ceil(n / 64));
    const p = resources.params(paramsOf(n, g.x, starts[c]!));
    params.push(p);
    encodeDispatch(device, encoder, pipeline, bind(store.chunks[c]!, pairBuf, outBuf, p), g);
  }
  encoder.copyBufferToBuffer(outBuf, 0, readBuf, 0, count * 4);
  device.queue.submit([encoder.finish()]);
  const result = new Float32Array(await resources.read(readBuf, count * 4), 0, count);
  if (order === null) out.set(result);
  else for (let j = 0; j < count; j++) out[order[j]!] = result[j]!;
  resources.release(pairBuf);
  resources.release(outBuf);
  for (const p of params) resources.release(p);
}

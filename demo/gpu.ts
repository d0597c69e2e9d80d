import { type BackendOptions, type GpuContext, requestGpu } from '../src/index.js';

/**
 * WebGPU for the demo: registers the WGSL sources with the library (browsers cannot read
 * them from disk) and asks for the adapter. Null means "no WebGPU here": the demo runs on
 * the CPU and says so.
 */

export interface DemoGpu {
  /** The library's GPU context, passed back to searchBatch as `gpu`. */
  readonly ctx: GpuContext;
  /** The adapter's name as the page shows it. */
  readonly label: string;
  /** A software adapter (SwiftShader, llvmpipe, WARP): WebGPU works, but runs on the CPU. */
  readonly software: boolean;
}

export interface GpuProbe {
  gpu: DemoGpu | null;
  /** Why there is no GPU, in words for the page (empty when there is one). */
  reason: string;
}

export async function probeGpu(): Promise<GpuProbe> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    const why = window.isSecureContext ? 'this browser has no WebGPU' : 'WebGPU needs a secure context (https or localhost)';
    return { gpu: null, reason: `WebGPU is not available: ${why}. Searches run on the CPU only.` };
  }
  try {
    const ctx = await requestGpu();
    if (!ctx) return { gpu: null, reason: 'WebGPU is not available: the browser found no GPU adapter. Searches run on the CPU only.' };
    const label = adapterLabel(ctx);
    const info = (ctx.device as GPUDevice & { adapterInfo?: GPUAdapterInfo & { isFallbackAdapter?: boolean } }).adapterInfo;
    const software = info?.isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe|software|warp/i.test(label);
    return { gpu: { ctx, label, software }, reason: '' };
  } catch (e) {
    return { gpu: null, reason: `WebGPU failed to start (${e instanceof Error ? e.message : String(e)}). Searches run on the CPU only.` };
  }
}

/** The library's description, completed with the architecture where it is a bare vendor name. */
function adapterLabel(ctx: GpuContext): string {
  const info = (ctx.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const parts = [ctx.description];
  for (const extra of [info?.vendor, info?.architecture]) {
    if (extra && !parts.some((p) => p.toLowerCase().includes(extra.toLowerCase()))) parts.push(extra);
  }
  return parts.filter((p) => p.length > 0).join(' · ');
}

/** Options that make a searchBatch call run on the GPU. */
export function gpuOptions(gpu: DemoGpu): BackendOptions {
  return { backend: 'gpu', gpu: gpu.ctx };
}

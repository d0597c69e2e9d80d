import { fail } from '../errors.js';
import { GpuResources } from './resources.js';

/** A WebGPU device with what webannolo keeps per device: pipelines, pooled buffers, state. */
export interface GpuContext {
  readonly device: GPUDevice;
  /** The adapter's description, e.g. "NVIDIA H100" or "SwiftShader Device (Subzero)". */
  readonly description: string;
  /** Limits in force; tests may lower maxStorageBufferBindingSize to force chunking. */
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
  readonly resources: GpuResources;
  /** False once the device was lost or a fault made us stop trusting it. */
  usable: boolean;
  /** Why it became unusable. */
  lostReason?: string;
}

export interface RequestGpuOptions {
  /** Request a fresh device even if an earlier one is cached (e.g. after a fault). */
  renew?: boolean;
  powerPreference?: GPUPowerPreference;
}

// Dawn's GPU object must stay reachable for the life of the process: when it is collected,
// dawn.node crashes or hangs later. It lives here, module-level, forever.
let nodeGpu: GPU | null | undefined;
let cached: Promise<GpuContext | null> | null = null;

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

async function gpuEntry(): Promise<GPU | null> {
  if (typeof navigator !== 'undefined' && (navigator as Navigator & { gpu?: GPU }).gpu) {
    return (navigator as Navigator & { gpu: GPU }).gpu;
  }
  if (!isNode) return null;
  if (nodeGpu !== undefined) return nodeGpu;
  try {
    // Imported only in Node and only when a GPU is asked for: the browser bundle never sees it.
    const moduleName = 'webgpu';
    const mod = (await import(/* @vite-ignore */ moduleName)) as { create: (flags: string[]) => GPU };
    nodeGpu = mod.create([]);
  } catch {
    nodeGpu = null;
  }
  return nodeGpu;
}

/**
 * The process-wide GPU context, or null where there is no WebGPU adapter (callers then use the
 * CPU). In Node without a GPU, point Vulkan at SwiftShader before the first call, e.g.
 * VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json.
 */
export function requestGpu(options: RequestGpuOptions = {}): Promise<GpuContext | null> {
  if (cached && !options.renew) {
    return cached.then((ctx) => (ctx && ctx.usable ? ctx : null));
  }
  cached = createContext(options);
  return cached;
}

async function createContext(options: RequestGpuOptions): Promise<GpuContext | null> {
  const gpu = await gpuEntry();
  if (!gpu) return null;
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  } catch {
    adapter = null;
  }
  if (!adapter) return null;
  const maxStorageBufferBindingSize = Math.min(adapter.limits.maxStorageBufferBindingSize, 2 ** 31);
  const maxBufferSize = Math.min(adapter.limits.maxBufferSize, 2 ** 31);
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize,
      maxBufferSize,
      maxStorageBuffersPerShaderStage: Math.min(8, adapter.limits.maxStorageBuffersPerShaderStage),
    },
  });
  const info = adapter.info;
  const description = [info?.description, info?.vendor, info?.architecture, info?.device].find((s) => typeof s === 'string' && s.length > 0) ?? 'WebGPU adapter';
  const ctx: GpuContext = {
    device,
    description,
    limits: { maxStorageBufferBindingSize, maxBufferSize },
    resources: new GpuResources(device),
    usable: true,
  };
  void device.lost.then((lost) => {
    ctx.usable = false;
    ctx.lostReason = lost.message || String(lost.reason);
  });
  return ctx;
}

/** Marks a context unusable after a fault: later calls use the CPU until requestGpu({renew}). */
export function retireGpu(ctx: GpuContext, reason: string): void {
  ctx.usable = false;
  ctx.lostReason ??= reason;
}

/** Throws NO_GPU with a helpful message. */
export function noGpu(): never {
  return fail('NO_GPU', "backend 'gpu' was asked for but no WebGPU adapter is available (use backend 'auto' to fall back to the CPU)");
}

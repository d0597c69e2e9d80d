import { fail } from '../errors.js';
import { BufferUsage, MapMode } from './constants.js';
import { GpuResources } from './resources.js';

/** A WebGPU device with what webannolo keeps per device: pipelines, pooled buffers, state. */
export interface GpuContext {
  /** The WebGPU device. */
  readonly device: GPUDevice;
  /** The adapter's description, e.g. "NVIDIA H100" or "SwiftShader Device (Subzero)". */
  readonly description: string;
  /**
   * Limits in force; tests may lower them to force chunking (binding size) or a smaller
   * resident-kernel layout (workgroup memory).
   */
  limits: {
    /** Largest storage buffer one binding may see (at most 2 GiB here). */
    maxStorageBufferBindingSize: number;
    /** Largest buffer (at most 2 GiB here). */
    maxBufferSize: number;
    /** Workgroup memory of one workgroup: sizes the resident kernel's lists. */
    maxComputeWorkgroupStorageSize: number;
    /** Storage buffers one shader stage may bind (at most 10 requested). */
    maxStorageBuffersPerShaderStage: number;
  };
  /** True for a software adapter (SwiftShader, a fallback adapter): correct, but CPU-speed. */
  readonly software: boolean;
  /** Median time of one tiny submit + readback when the device was opened, in ms. */
  readonly roundTripMs: number;
  /** What webannolo keeps on this device: pipelines, pooled buffers, uploaded stores and graphs. */
  readonly resources: GpuResources;
  /** False once the device was lost or a fault made us stop trusting it. */
  usable: boolean;
  /** Why it became unusable. */
  lostReason?: string;
}

/** Options of requestGpu. */
export interface RequestGpuOptions {
  /** Request a fresh device even if an earlier one is cached (e.g. after a fault). */
  renew?: boolean;
  /** Passed to requestAdapter: 'high-performance' or 'low-power'. */
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
    return cached.then((ctx) => (ctx?.usable ? ctx : null));
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
  const maxStorageBuffersPerShaderStage = Math.min(10, adapter.limits.maxStorageBuffersPerShaderStage);
  const maxComputeWorkgroupStorageSize = adapter.limits.maxComputeWorkgroupStorageSize;
  const device = await adapter.requestDevice({
    requiredLimits: { maxStorageBufferBindingSize, maxBufferSize, maxStorageBuffersPerShaderStage, maxComputeWorkgroupStorageSize },
  });
  const info = adapter.info;
  const description =
    [info?.description, info?.vendor, info?.architecture, info?.device].find((s) => typeof s === 'string' && s.length > 0) ??
    'WebGPU adapter';
  const software =
    (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter === true ||
    /swiftshader|llvmpipe|lavapipe|software|warp/i.test(description);
  const resources = new GpuResources(device);
  const ctx: GpuContext = {
    device,
    description,
    limits: { maxStorageBufferBindingSize, maxBufferSize, maxComputeWorkgroupStorageSize, maxStorageBuffersPerShaderStage },
    software,
    roundTripMs: await measureRoundTrip(device),
    resources,
    usable: true,
  };
  void device.lost.then((lost) => {
    lostDevices.add(device);
    ctx.usable = false;
    ctx.lostReason = lost.message || String(lost.reason);
  });
  return ctx;
}

/**
 * Times a minimal submit + readback (median of 5) so `backend: 'auto'` can weigh round trips
 * by measurement: about 0.05 ms on Dawn/Vulkan, 0.5 ms in Chrome, up to 100 ms in browsers
 * that poll. Not counted in any search's traffic.
 */
async function measureRoundTrip(device: GPUDevice): Promise<number> {
  const times: number[] = [];
  const src = device.createBuffer({ label: 'round-trip probe', size: 16, usage: BufferUsage.COPY_SRC | BufferUsage.COPY_DST });
  for (let i = 0; i < 5; i++) {
    const dst = device.createBuffer({ label: 'round-trip probe readback', size: 16, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    const t0 = performance.now();
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(src, 0, dst, 0, 16);
    device.queue.submit([encoder.finish()]);
    await dst.mapAsync(MapMode.READ);
    times.push(performance.now() - t0);
    dst.unmap();
    dst.destroy();
  }
  src.destroy();
  times.sort((a, b) => a - b);
  return times[2]!;
}

/** Devices whose `lost` promise resolved: nothing issued on them runs any more. */
const lostDevices = new WeakSet<GPUDevice>();

/**
 * Whether `device` was lost (destroyed, reset, removed). A fault retires a context for later
 * calls, but calls already running on it go on unless the device itself was lost.
 */
export function deviceLost(device: GPUDevice): boolean {
  return lostDevices.has(device);
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

/**
 * `backend: 'auto'` by measurement: the CPU's time per query (timed on the batch's first
 * queries), the device's round-trip time (timed when it was opened), and the resident
 * kernel's time per query (timed on its last batches on this device, or on a small probe).
 */

import type { GpuContext } from './device.js';

export interface AutoInputs {
  /** Queries left to search. */
  remaining: number;
  /** Measured CPU time per query, ms. */
  cpuMsPerQuery: number;
  /** One submit + readback on this device, ms. */
  roundTripMs: number;
  /** A software adapter (SwiftShader): never faster than the native CPU path. */
  software: boolean;
  /** Measured resident time per query on this device, ms (null before any measurement). */
  gpuMsPerQuery: number | null;
  /** Queries per round trip of the resident kernel. */
  queriesPerSubmit: number;
}

export type AutoChoice = 'cpu' | 'gpu' | 'probe';

/** Queries a probe sends to the GPU to time it. */
export const AUTO_PROBE_QUERIES = 64;

/**
 * 'cpu' when the CPU finishes the rest sooner than one round trip would (with margin),
 * 'gpu' when the measured GPU time beats the CPU's, 'probe' when the GPU's speed is unknown
 * and the batch is large enough that finding out costs little (at most a tenth of the work).
 */
export function decideAuto(x: AutoInputs): AutoChoice {
  if (x.software || x.remaining === 0) return 'cpu';
  const cpuMs = x.remaining * x.cpuMsPerQuery;
  if (cpuMs <= 2 * x.roundTripMs) return 'cpu';
  if (x.gpuMsPerQuery === null) {
    const probeCost = x.roundTripMs + Math.min(x.remaining, AUTO_PROBE_QUERIES) * x.cpuMsPerQuery;
    return x.remaining > AUTO_PROBE_QUERIES && probeCost <= cpuMs / 10 ? 'probe' : 'cpu';
  }
  const gpuMs = Math.ceil(x.remaining / x.queriesPerSubmit) * x.roundTripMs + x.remaining * x.gpuMsPerQuery;
  return gpuMs < cpuMs ? 'gpu' : 'cpu';
}

/** Resident time per query, remembered per (device, store, ef) from earlier batches (of any call on the device). */
const speeds = new WeakMap<GPUDevice, WeakMap<object, Map<number, number>>>();

export function residentSpeed(ctx: GpuContext, store: object, ef: number): number | null {
  return speeds.get(ctx.device)?.get(store)?.get(ef) ?? null;
}

export function recordResidentSpeed(ctx: GpuContext, store: object, ef: number, msPerQuery: number): void {
  let byStore = speeds.get(ctx.device);
  if (!byStore) speeds.set(ctx.device, (byStore = new WeakMap()));
  let byEf = byStore.get(store);
  if (!byEf) byStore.set(store, (byEf = new Map()));
  const old = byEf.get(ef);
  byEf.set(ef, old === undefined ? msPerQuery : 0.5 * old + 0.5 * msPerQuery);
}

import { deviceLost, type GpuContext } from './device.js';
import type { GpuResources, HostClock } from './resources.js';

/**
 * One call's view of a device context (a searchBatch, an exact search): the same device,
 * limits, compiled pipelines and pooled buffers, with what belongs to the call alone:
 * - its traffic (roundTrips, bytesUp, bytesDown) and host clock, in its own `resources`, so
 *   calls running at once on one device each count and time only their own work;
 * - its fault state: retiring it (a fault in this call) stops this call's GPU work and retires
 *   the device for later calls, while other calls already running go on unless the device
 *   itself was lost (their own faults are theirs: see `fenced` in dispatch.ts).
 * It is a GpuContext, so evaluators, resident snippets and exact scans made for the call
 * (from the registry, with the call as their context) count into it without knowing.
 * Per-device caches (uploaded graphs and stores, measured speeds) key on `device`, which the
 * view shares.
 */
class GpuCall implements GpuContext {
  readonly resources: GpuResources;
  /** A call that starts on a retired context never uses it. */
  private faulted: boolean;
  private reason: string | undefined;

  constructor(
    readonly owner: GpuContext,
    clock: HostClock | null,
  ) {
    this.resources = owner.resources.forCall(clock);
    this.faulted = !owner.usable;
    if (this.faulted) this.reason = owner.lostReason ?? 'retired';
  }

  get device(): GPUDevice {
    return this.owner.device;
  }
  get description(): string {
    return this.owner.description;
  }
  get limits(): GpuContext['limits'] {
    return this.owner.limits;
  }
  set limits(limits: GpuContext['limits']) {
    this.owner.limits = limits;
  }
  get software(): boolean {
    return this.owner.software;
  }
  get roundTripMs(): number {
    return this.owner.roundTripMs;
  }

  /** False once this call faulted, or the device was lost. */
  get usable(): boolean {
    return !this.faulted && !deviceLost(this.owner.device);
  }
  /** Retiring the call (retireGpu) retires the device for later calls too. */
  set usable(usable: boolean) {
    if (usable) return;
    this.faulted = true;
    this.owner.usable = false;
  }

  get lostReason(): string | undefined {
    return this.reason ?? (deviceLost(this.owner.device) ? this.owner.lostReason : undefined);
  }
  set lostReason(reason: string | undefined) {
    this.reason = reason;
    if (reason !== undefined) this.owner.lostReason ??= reason;
  }
}

/**
 * A context for one call on `ctx`'s device whose traffic and faults are the call's own and
 * whose device waits stop `clock` (the call's HostTimer). A call's view of a call's view
 * belongs to the same device.
 */
export function gpuCall(ctx: GpuContext, clock: HostClock | null): GpuContext {
  return new GpuCall(ctx instanceof GpuCall ? ctx.owner : ctx, clock);
}

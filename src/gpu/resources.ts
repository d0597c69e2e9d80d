import { BufferUsage, MapMode } from './constants.js';
import { type GpuKernel, type ParamValues, paramWords, type ShaderName } from './kernels.js';
import { shaderSource } from './shaders.js';

export interface GpuTraffic {
  /** Submits whose completion the host awaited (a readback or a settle). */
  roundTrips: number;
  bytesUp: number;
  bytesDown: number;
}

/** The host clock of one call (a HostTimer): stopped while the host awaits the device. */
export interface HostClock {
  pause(): void;
  resume(): void;
}

/**
 * Pipelines by shader key and pooled storage/readback buffers (a batch search makes the
 * same-sized round trips thousands of times), shared by every user of a device, and the
 * traffic and host clock of one user. The device context's own instance counts work done
 * through it directly (an evaluator a caller made, a k-means run); each search gets a view of
 * its own (forCall, via gpuCall in call.ts), sharing the caches, so calls running at once on
 * one device each count only their own traffic and stop only their own clock.
 */
export class GpuResources {
  private readonly pipelines: Map<string, Promise<GPUComputePipeline>>;
  private readonly pool: Map<string, GPUBuffer[]>;
  /** Host-device traffic through this instance: awaited submits, bytes written to the device, bytes read back. */
  readonly traffic: GpuTraffic = { roundTrips: 0, bytesUp: 0, bytesDown: 0 };

  constructor(
    private readonly device: GPUDevice,
    /**
     * The host clock of the call this instance serves, if any: stopped while the host awaits
     * the device (a readback, a settle, an error scope, a pipeline compilation), so `hostMs`
     * counts every JavaScript segment of the call and nothing else.
     */
    readonly clock: HostClock | null = null,
    shared?: GpuResources,
  ) {
    this.pipelines = shared?.pipelines ?? new Map();
    this.pool = shared?.pool ?? new Map();
  }

  /** A view for one call: the same pipelines and pooled buffers, its own traffic and `clock`. */
  forCall(clock: HostClock | null): GpuResources {
    return new GpuResources(this.device, clock, this);
  }

  /** The pipeline of WGSL `code` (composed by the caller) under cache key `key`, which also labels it. */
  pipelineOf(key: string, code: () => Promise<string>, constants: Record<string, number> = {}): Promise<GPUComputePipeline> {
    const full = `${key}|${JSON.stringify(constants)}`;
    let p = this.pipelines.get(full);
    if (!p) {
      const created = code().then((text) =>
        this.device.createComputePipelineAsync({
          label: key,
          layout: 'auto',
          compute: { module: this.device.createShaderModule({ code: text, label: key }), entryPoint: 'main', constants },
        }),
      );
      p = created;
      // A failed compilation is not cached: the next call reports it again.
      created.catch(() => {
        if (this.pipelines.get(full) === created) this.pipelines.delete(full);
      });
      this.pipelines.set(full, p);
    }
    // The compilation is shared; each caller's own clock stops while it waits for it.
    return this.awaitDevice(p);
  }

  /** The pipeline of shader `name` with `constants` (override values), compiled once. */
  pipeline(name: ShaderName, constants: Record<string, number> = {}): Promise<GPUComputePipeline> {
    return this.pipelineOf(name, () => shaderSource(name), constants);
  }

  /**
   * A buffer of at least `bytes` (rounded up to a power of two so sizes repeat), labelled with
   * what it holds now (WebGPU's validation errors name buffers by label; a pooled buffer is
   * relabelled for each use).
   */
  acquire(bytes: number, usage: number, label: string): GPUBuffer {
    const size = Math.max(256, 2 ** Math.ceil(Math.log2(Math.max(4, bytes))));
    const key = `${size}/${usage}`;
    const free = this.pool.get(key);
    const hit = free?.pop();
    if (hit) {
      hit.label = label;
      return hit;
    }
    return this.device.createBuffer({ size, usage, label });
  }

  release(buffer: GPUBuffer): void {
    const key = `${buffer.size}/${buffer.usage}`;
    let free = this.pool.get(key);
    if (!free) this.pool.set(key, (free = []));
    if (free.length < 8) free.push(buffer);
    else buffer.destroy();
  }

  storage(bytes: number, label = 'storage'): GPUBuffer {
    return this.acquire(bytes, BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC, label);
  }

  readback(bytes: number, label = 'readback'): GPUBuffer {
    return this.acquire(bytes, BufferUsage.MAP_READ | BufferUsage.COPY_DST, label);
  }

  /** A buffer created with `data` in it (not pooled: long-lived store data). */
  upload(data: ArrayBufferView, label = 'upload', usage = BufferUsage.STORAGE | BufferUsage.COPY_DST): GPUBuffer {
    const size = Math.max(16, Math.ceil(data.byteLength / 4) * 4);
    const buffer = this.device.createBuffer({ size, usage, label, mappedAtCreation: true });
    this.traffic.bytesUp += data.byteLength;
    new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    buffer.unmap();
    return buffer;
  }

  /** The Params block of `kernel` in a pooled uniform buffer, its fields given by name (see paramWords). */
  params<F extends string>(kernel: GpuKernel<F>, values: ParamValues<F>): GPUBuffer {
    const data = paramWords(kernel, values);
    const buffer = this.acquire(data.byteLength, BufferUsage.UNIFORM | BufferUsage.COPY_DST, `${kernel.shader}.params`);
    this.write(buffer, data);
    return buffer;
  }

  /** queue.writeBuffer, counted as upload traffic. */
  write(buffer: GPUBuffer, data: ArrayBufferView & ArrayLike<number>): void {
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    this.traffic.bytesUp += data.byteLength;
  }

  /** Waits for the submitted work without reading anything back (one round trip). */
  async settle(): Promise<void> {
    this.traffic.roundTrips++;
    await this.awaitDevice(this.device.queue.onSubmittedWorkDone());
  }

  /** Awaits the device with the search's host clock stopped. */
  async awaitDevice<T>(p: Promise<T>): Promise<T> {
    const clock = this.clock;
    clock?.pause();
    try {
      return await p;
    } finally {
      clock?.resume();
    }
  }

  /** Maps a readback buffer and copies `bytes` out (then returns it to the pool). */
  read(buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    this.traffic.roundTrips++;
    return this.mapAndCopy(buffer, bytes);
  }

  /** Reads several buffers filled by one submit: one round trip. */
  readAll(reads: readonly { buffer: GPUBuffer; bytes: number }[]): Promise<ArrayBuffer[]> {
    this.traffic.roundTrips++;
    return Promise.all(reads.map((r) => this.mapAndCopy(r.buffer, r.bytes)));
  }

  private async mapAndCopy(buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    const size = Math.ceil(bytes / 4) * 4;
    await this.awaitDevice(buffer.mapAsync(MapMode.READ, 0, size));
    // The copy out of the mapped range is part of the readback: on SwiftShader it costs about
    // 2.5 ms per mapping whatever its size (the emulated device's memory), so the host clock
    // stops for it as it does for mapAsync.
    this.clock?.pause();
    const copy = buffer.getMappedRange(0, size).slice(0);
    buffer.unmap();
    this.clock?.resume();
    this.release(buffer);
    this.traffic.bytesDown += bytes;
    return copy;
  }
}

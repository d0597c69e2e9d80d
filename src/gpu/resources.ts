import { BufferUsage, MapMode } from './constants.js';
import { shaderSource } from './shaders.js';

/**
 * Per-device caches: compute pipelines by shader key, and pooled storage/readback buffers
 * (a batch search makes the same-sized round trips thousands of times).
 */
export class GpuResources {
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  private readonly pool = new Map<string, GPUBuffer[]>();

  constructor(private readonly device: GPUDevice) {}

  /** The pipeline of shader `name` with `constants` (override values), compiled once. */
  pipeline(name: string, constants: Record<string, number> = {}): Promise<GPUComputePipeline> {
    const key = `${name}|${JSON.stringify(constants)}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = shaderSource(name).then((code) =>
        this.device.createComputePipelineAsync({
          layout: 'auto',
          compute: { module: this.device.createShaderModule({ code, label: name }), entryPoint: 'main', constants },
        }),
      );
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** A buffer of at least `bytes` (rounded up to a power of two so sizes repeat). */
  acquire(bytes: number, usage: number): GPUBuffer {
    const size = Math.max(256, 2 ** Math.ceil(Math.log2(Math.max(4, bytes))));
    const key = `${size}/${usage}`;
    const free = this.pool.get(key);
    const hit = free?.pop();
    if (hit) return hit;
    return this.device.createBuffer({ size, usage });
  }

  release(buffer: GPUBuffer): void {
    const key = `${buffer.size}/${buffer.usage}`;
    let free = this.pool.get(key);
    if (!free) this.pool.set(key, (free = []));
    if (free.length < 8) free.push(buffer);
    else buffer.destroy();
  }

  storage(bytes: number): GPUBuffer {
    return this.acquire(bytes, BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC);
  }

  readback(bytes: number): GPUBuffer {
    return this.acquire(bytes, BufferUsage.MAP_READ | BufferUsage.COPY_DST);
  }

  /** A buffer created with `data` in it (not pooled: long-lived store data). */
  upload(data: ArrayBufferView, usage = BufferUsage.STORAGE | BufferUsage.COPY_DST): GPUBuffer {
    const size = Math.max(16, Math.ceil(data.byteLength / 4) * 4);
    const buffer = this.device.createBuffer({ size, usage, mappedAtCreation: true });
    new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    buffer.unmap();
    return buffer;
  }

  /** Writes a small uniform/param block (pooled). */
  params(words: ArrayLike<number>): GPUBuffer {
    const data = Uint32Array.from(words);
    const buffer = this.acquire(data.byteLength, BufferUsage.UNIFORM | BufferUsage.COPY_DST);
    this.device.queue.writeBuffer(buffer, 0, data);
    return buffer;
  }

  /** Maps a readback buffer and copies `bytes` out (then returns it to the pool). */
  async read(buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    await buffer.mapAsync(MapMode.READ, 0, Math.ceil(bytes / 4) * 4);
    const copy = buffer.getMappedRange(0, Math.ceil(bytes / 4) * 4).slice(0);
    buffer.unmap();
    this.release(buffer);
    return copy;
  }
}

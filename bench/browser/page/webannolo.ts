/** webannolo through its main entry: HnswIndex.build on one thread, single-query search (the CPU WebAssembly SIMD kernels), saveIndex / openIndex on OPFS. */
import type { DenseDataset } from '../../../src/data/dense.js';
import { HnswIndex, openIndex, saveIndex } from '../../../src/index.js';
import type { BuildSpec, SaveInfo } from '../protocol.js';
import { type OpenResult, type PageAdapter, since } from './adapter.js';

/** The OPFS folder saveIndex uses by default. */
export const NAMESPACE = 'webannolo';

export class WebannoloAdapter implements PageAdapter {
  describe = 'webannolo HnswIndex (main entry; CPU path, WebAssembly SIMD kernels), build() on one thread, search() per query';
  private index: HnswIndex | null = null;
  private rows: Float32Array[] = [];
  private ef = 64;

  async build(base: DenseDataset, metric: 'l2' | 'ip', spec: BuildSpec): Promise<number> {
    const t0 = performance.now();
    this.index = HnswIndex.build(base, { metric, m: spec.m, efConstruction: spec.efConstruction, seed: spec.seed });
    const ms = since(t0);
    this.describe += ` (kernels: ${(this.index.store as { kernels?: string }).kernels ?? 'unknown'})`;
    return ms;
  }

  prepare(queries: DenseDataset): void {
    this.rows = [];
    for (let q = 0; q < queries.size; q++) this.rows.push(queries.get(q));
  }

  setEf(ef: number): void {
    this.ef = ef;
  }

  searchAll(count: number, k: number): Int32Array[] {
    const index = this.must();
    const params = { ef: this.ef };
    const out = new Array<Int32Array>(count);
    for (let q = 0; q < count; q++) out[q] = index.search(this.rows[q]!, k, params).ids;
    return out;
  }

  ids(raw: unknown, count: number, k: number): Int32Array {
    const res = raw as Int32Array[];
    const ids = new Int32Array(count * k).fill(-1);
    for (let q = 0; q < count; q++) ids.set(res[q]!.subarray(0, k), q * k);
    return ids;
  }

  async save(name: string): Promise<SaveInfo> {
    const t0 = performance.now();
    const saved = await saveIndex(this.must(), name);
    const saveMs = since(t0);
    return { saveMs, bytesStored: await opfsBytes(name), where: `${saved.backend} (file ${saved.bytes} B + manifest)`, error: null };
  }

  async open(
    name: string,
    _n: number,
    _dim: number,
    _metric: 'l2' | 'ip',
    ef: number,
    k: number,
    query: Float32Array,
  ): Promise<OpenResult> {
    const t0 = performance.now();
    const opened = await openIndex(name);
    const openMs = since(t0);
    if (!(opened instanceof HnswIndex)) throw new Error(`openIndex('${name}') gave a ${opened.constructor.name}, not an HnswIndex`);
    this.index = opened;
    const t1 = performance.now();
    opened.search(query, k, { ef });
    const firstSearchMs = since(t1);
    return {
      libInitMs: 0,
      openMs,
      firstSearchMs,
      error: null,
      note: 'openIndex(name): OPFS file read in chunks straight into place (no separate library init)',
    };
  }

  private must(): HnswIndex {
    if (!this.index) throw new Error('webannolo: no index built or opened');
    return this.index;
  }
}

/** Bytes of the OPFS files of saved index `name` (its data file and manifest). */
export async function opfsBytes(name: string): Promise<number> {
  const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(NAMESPACE);
  let bytes = 0;
  for await (const [file, handle] of (dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
    if (file.startsWith(`${name}.`) && handle.kind === 'file') bytes += (await (handle as FileSystemFileHandle).getFile()).size;
  }
  return bytes;
}

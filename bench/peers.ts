/**
 * One adapter per library. Every adapter builds single-threaded with the same M and
 * efConstruction, and exposes its search modes; a mode converts the queries to the form its
 * library takes in `prepare` (untimed), then `searchAll` (the timed part) only calls the library
 * and keeps the raw answers, which `ids` turns into an Int32Array afterwards (untimed).
 */
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DenseDataset } from '../src/data/dense.js';
import { FlatIndex } from '../src/index/flat.js';
import { HnswIndex, type HnswSearchParams } from '../src/index/hnsw/hnsw-index.js';
import { serializeIndex } from '../src/io/index-codec.js';
import { PlainDenseStore } from '../src/quant/dense-store.js';
import { ProductQuantizer, type PqStore } from '../src/quant/pq.js';
import type { Metric } from '../src/types.js';
import type { LibName } from './args.js';

export interface BuildParams {
  metric: Metric;
  m: number;
  efConstruction: number;
  seed: number;
  batchSize: number;
}

export interface SearchMode {
  /** Series label, e.g. 'webannolo' or 'webannolo batch64'. */
  name: string;
  /** Converts queries [0, count) to the library's own form (untimed). */
  prepare(queries: DenseDataset): void;
  /** Sets the beam width (untimed). */
  setEf(ef: number): void;
  /** Searches queries [0, count), k each; returns the raw answers (timed). */
  searchAll(count: number, k: number): unknown;
  /** The raw answers as ids, row q at [q*k, (q+1)*k), -1 where missing (untimed). */
  ids(raw: unknown, count: number, k: number): Int32Array;
}

export interface LibAdapter {
  lib: LibName;
  /** Human-readable version / configuration notes. */
  describe: string;
  /** Builds on `base` single-threaded; returns the build time in ms (conversions excluded). */
  build(base: DenseDataset, onProgress: (done: number) => void): number | Promise<number>;
  /** Bytes the library itself reports for the index (null if it exposes none). */
  selfReportedBytes(): number | null;
  /** Serializes the index into `dir` and returns the file size (null if it cannot). */
  savedBytes(dir: string): number | null;
  modes(): SearchMode[];
}

export async function makeAdapter(lib: LibName, p: BuildParams): Promise<LibAdapter> {
  if (lib === 'webannolo') return new WebannoloAdapter(p);
  if (lib === 'hnswlib') return new HnswlibAdapter(p, (await import('hnswlib-node')).default);
  return new UsearchAdapter(p, await import('usearch'));
}

function rowViews(queries: DenseDataset, count: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let q = 0; q < count; q++) out.push(queries.get(q));
  return out;
}

// ---------------------------------------------------------------------------------- webannolo

export interface PqParams {
  /** Subspaces = bytes per code; must divide the dimension. */
  m: number;
  trainSample: number;
  maxIterations: number;
  seed: number;
  /** Re-ranking depth of the fixed-depth re-ranking series. */
  rerank: number;
}

export interface PqQuantizeInfo {
  m: number;
  dsub: number;
  /** Vectors actually trained on: min(n, trainSample). */
  trainSample: number;
  maxIterations: number;
  /** ProductQuantizer.train on the plain vectors (k-means++ then Lloyd, per subspace). */
  trainMs: number;
  /** HnswIndex.quantize with the trained quantizer: encoding every vector + copying codes and codebooks into wasm memory. */
  encodeMs: number;
  /** 'wasm-simd' or 'js': which kernels score the codes. */
  kernels: string;
}

/** The same graph searched three ways: over plain vectors, over PQ codes, over PQ codes + re-ranking. */
class WebannoloAdapter implements LibAdapter {
  readonly lib = 'webannolo' as const;
  readonly describe = 'webannolo HnswIndex (pure TypeScript)';
  private index: HnswIndex | null = null;
  private pqIndex: HnswIndex | null = null;

  constructor(private readonly p: BuildParams) {}

  build(base: DenseDataset, onProgress: (done: number) => void): number {
    const t0 = performance.now();
    this.index = HnswIndex.build(base, {
      metric: this.p.metric, m: this.p.m, efConstruction: this.p.efConstruction, seed: this.p.seed,
      onProgress: (done) => onProgress(done),
    });
    return performance.now() - t0;
  }

  selfReportedBytes(): number {
    const mem = this.must().memory;
    return mem.graphBytes + mem.storeBytes;
  }

  savedBytes(dir: string): number {
    const path = join(dir, 'webannolo.bin');
    writeFileSync(path, serializeIndex(this.must()));
    return statSync(path).size;
  }

  modes(): SearchMode[] {
    const self = this;
    let ef = 10;
    let queries: DenseDataset | null = null;
    const batch: SearchMode = {
      name: `webannolo batch${this.p.batchSize}`,
      prepare(qs) { queries = qs; },
      setEf(e) { ef = e; },
      searchAll(count, k) {
        const qs = count === queries!.size ? queries! : queries!.slice(0, count);
        return self.must().searchBatch(qs, k, { ef, batchSize: self.p.batchSize });
      },
      ids(raw) {
        return (raw as { ids: Int32Array }).ids;
      },
    };
    return [this.singleMode('webannolo', () => this.must(), (e) => ({ ef: e })), batch];
  }

  /**
   * Trains a product quantizer on the index's plain vectors (timed), then converts the index
   * with quantize() (timed): same graph, search over m-byte codes, plain vectors kept for
   * re-ranking.
   */
  quantize(p: PqParams): PqQuantizeInfo {
    const plain = this.must();
    if (!(plain.store instanceof PlainDenseStore)) throw new Error('webannolo: PQ needs a plain dense index');
    const data = plain.store.toDataset(); // a view, no copy
    const pq = new ProductQuantizer({ m: p.m, trainSample: p.trainSample, maxIterations: p.maxIterations, seed: p.seed });
    let t0 = performance.now();
    pq.train(data);
    const trainMs = performance.now() - t0;
    t0 = performance.now();
    this.pqIndex = plain.quantize(pq);
    const encodeMs = performance.now() - t0;
    return {
      m: pq.m, dsub: pq.dsub, trainSample: Math.min(data.size, p.trainSample), maxIterations: p.maxIterations,
      trainMs, encodeMs, kernels: this.pqStore().kernels,
    };
  }

  /** plain HNSW (again, side by side), PQ-HNSW, PQ+rerank R, PQ+rerank max(ef, R): names are the series labels. */
  pqModes(rerank: number): SearchMode[] {
    const pq = () => this.mustPq();
    return [
      this.singleMode('plain HNSW', () => this.must(), (ef) => ({ ef })),
      this.singleMode('PQ-HNSW', pq, (ef) => ({ ef })),
      this.singleMode(`PQ+rerank ${rerank}`, pq, (ef) => ({ ef, rerank })),
      this.singleMode(`PQ+rerank max(ef,${rerank})`, pq, (ef) => ({ ef, rerank: Math.max(ef, rerank) })),
    ];
  }

  /** Exhaustive ADC scan over all codes (FlatIndex over the PQ store): what PQ alone can reach. */
  flatPqMode(): SearchMode {
    const flat = new FlatIndex(this.mustPq().store);
    let views: Float32Array[] = [];
    return {
      name: 'flat PQ',
      prepare(qs) { views = rowViews(qs, qs.size); },
      setEf() {},
      searchAll(count, k) {
        const out = new Array<Int32Array>(count);
        for (let q = 0; q < count; q++) out[q] = flat.search(views[q]!, k).ids;
        return out;
      },
      ids: rowsToIds,
    };
  }

  /** index.memory of the plain and of the PQ index, the codebook bytes, and serialized sizes. */
  pqMemory(dir: string): {
    plain: { graphBytes: number; storeBytes: number };
    pq: { graphBytes: number; storeBytes: number; rerankBytes: number };
    codesBytes: number;
    codebooksBytes: number;
    fileBytesWithPlain: number;
    fileBytesCodesOnly: number;
  } {
    const store = this.pqStore();
    const pqIndex = this.mustPq();
    const size = (name: string, index: HnswIndex) => {
      const path = join(dir, name);
      writeFileSync(path, serializeIndex(index));
      const bytes = statSync(path).size;
      rmSync(path);
      return bytes;
    };
    const plainMem = this.must().memory;
    return {
      plain: { graphBytes: plainMem.graphBytes, storeBytes: plainMem.storeBytes },
      pq: pqIndex.memory,
      codesBytes: store.codes.byteLength,
      codebooksBytes: store.pq.codebooks.byteLength,
      fileBytesWithPlain: size('pq-rerank.bin', pqIndex),
      fileBytesCodesOnly: size('pq-codes.bin', pqIndex.withStore(pqIndex.store)),
    };
  }

  private singleMode(name: string, index: () => HnswIndex, params: (ef: number) => HnswSearchParams): SearchMode {
    let ef = 10;
    let views: Float32Array[] = [];
    return {
      name,
      prepare(qs) { views = rowViews(qs, qs.size); },
      setEf(e) { ef = e; },
      searchAll(count, k) {
        const ix = index();
        const sp = params(ef);
        const out = new Array<Int32Array>(count);
        for (let q = 0; q < count; q++) out[q] = ix.search(views[q]!, k, sp).ids;
        return out;
      },
      ids: rowsToIds,
    };
  }

  private pqStore(): PqStore {
    return this.mustPq().store as PqStore;
  }

  private must(): HnswIndex {
    if (!this.index) throw new Error('webannolo index not built');
    return this.index;
  }

  private mustPq(): HnswIndex {
    if (!this.pqIndex) throw new Error('webannolo index not quantized');
    return this.pqIndex;
  }
}

function rowsToIds(raw: unknown, count: number, k: number): Int32Array {
  const rows = raw as Int32Array[];
  const ids = new Int32Array(count * k);
  for (let q = 0; q < count; q++) ids.set(rows[q]!, q * k);
  return ids;
}

export type WebannoloPq = WebannoloAdapter;
export const isWebannolo = (a: LibAdapter): a is WebannoloAdapter => a instanceof WebannoloAdapter;

// ---------------------------------------------------------------------------------- hnswlib-node

type HnswlibModule = typeof import('hnswlib-node');
type HnswlibIndex = InstanceType<HnswlibModule['HierarchicalNSW']>;

class HnswlibAdapter implements LibAdapter {
  readonly lib = 'hnswlib' as const;
  readonly describe = 'hnswlib-node HierarchicalNSW (C++ hnswlib via N-API)';
  private index: HnswlibIndex | null = null;

  constructor(private readonly p: BuildParams, private readonly mod: HnswlibModule) {}

  build(base: DenseDataset, onProgress: (done: number) => void): number {
    const n = base.size;
    const index = new this.mod.HierarchicalNSW(this.p.metric === 'l2' ? 'l2' : 'ip', base.dim);
    let ms = 0;
    let t0 = performance.now();
    index.initIndex(n, this.p.m, this.p.efConstruction, this.p.seed);
    ms += performance.now() - t0;
    // hnswlib-node takes number[]: convert a chunk (untimed), then time its insertions.
    const CHUNK = 1000;
    for (let start = 0; start < n; start += CHUNK) {
      const end = Math.min(n, start + CHUNK);
      const rows: number[][] = [];
      for (let i = start; i < end; i++) rows.push(Array.from(base.get(i)));
      t0 = performance.now();
      for (let i = start; i < end; i++) index.addPoint(rows[i - start]!, i);
      ms += performance.now() - t0;
      onProgress(end);
    }
    this.index = index;
    return ms;
  }

  selfReportedBytes(): null {
    return null; // hnswlib-node exposes no memory figure
  }

  savedBytes(dir: string): number {
    const path = join(dir, 'hnswlib.bin');
    this.must().writeIndexSync(path);
    return statSync(path).size;
  }

  modes(): SearchMode[] {
    const self = this;
    let rows: number[][] = [];
    return [{
      name: 'hnswlib',
      prepare(qs) {
        rows = [];
        for (let q = 0; q < qs.size; q++) rows.push(Array.from(qs.get(q)));
      },
      setEf(ef) { self.must().setEf(ef); },
      searchAll(count, k) {
        const index = self.must();
        const out = new Array<number[]>(count);
        for (let q = 0; q < count; q++) out[q] = index.searchKnn(rows[q]!, k).neighbors;
        return out;
      },
      ids(raw, count, k) {
        const res = raw as number[][];
        const ids = new Int32Array(count * k).fill(-1);
        for (let q = 0; q < count; q++) ids.set(res[q]!.slice(0, k), q * k);
        return ids;
      },
    }];
  }

  private must(): HnswlibIndex {
    if (!this.index) throw new Error('hnswlib index not built');
    return this.index;
  }
}

// ---------------------------------------------------------------------------------- usearch

type UsearchModule = typeof import('usearch');
type UsearchIndex = InstanceType<UsearchModule['Index']>;

/**
 * usearch fixes expansion_search at construction and its JS API cannot change it, so every ef
 * of the sweep loads the saved index into a new Index made with that expansion_search (the
 * load is not timed). All calls pass threads = 1 (0 would mean all cores).
 */
class UsearchAdapter implements LibAdapter {
  readonly lib = 'usearch' as const;
  readonly describe = 'usearch Index (C++ via N-API, f32, threads=1)';
  private index: UsearchIndex | null = null;
  private loadedEf = -1;
  private savedPath: string | null = null;
  private dim = 0;

  constructor(private readonly p: BuildParams, private readonly mod: UsearchModule) {}

  private make(ef: number): UsearchIndex {
    return new this.mod.Index({
      dimensions: this.dim,
      metric: this.p.metric === 'l2' ? this.mod.MetricKind.L2sq : this.mod.MetricKind.IP,
      quantization: this.mod.ScalarKind.F32,
      connectivity: this.p.m,
      expansion_add: this.p.efConstruction,
      expansion_search: ef,
      multi: false,
    });
  }

  build(base: DenseDataset, onProgress: (done: number) => void): number {
    this.dim = base.dim;
    const keys = new BigUint64Array(base.size);
    for (let i = 0; i < base.size; i++) keys[i] = BigInt(i);
    const t0 = performance.now();
    const index = this.make(64);
    index.add(keys, base.data, 1); // one call, one thread; takes the Float32Array as is
    const ms = performance.now() - t0;
    onProgress(base.size);
    this.index = index;
    this.loadedEf = 64;
    return ms;
  }

  selfReportedBytes(): null {
    return null; // memory_usage() exists in C++ but is not exposed to JS
  }

  savedBytes(dir: string): number {
    const path = join(dir, 'usearch.bin');
    this.must().save(path);
    this.savedPath = path;
    return statSync(path).size;
  }

  private useEf(ef: number): void {
    if (ef === this.loadedEf) return;
    if (!this.savedPath) throw new Error('usearch: save the index before sweeping ef');
    const index = this.make(ef);
    index.load(this.savedPath);
    this.index = index;
    this.loadedEf = ef;
  }

  modes(): SearchMode[] {
    const self = this;
    let views: Float32Array[] = [];
    let batches: Float32Array[] = [];
    const single: SearchMode = {
      name: 'usearch',
      prepare(qs) { views = rowViews(qs, qs.size); },
      setEf(ef) { self.useEf(ef); },
      searchAll(count, k) {
        const index = self.must();
        const out = new Array<BigUint64Array>(count);
        for (let q = 0; q < count; q++) out[q] = index.search(views[q]!, k, 1).keys;
        return out;
      },
      ids(raw, count, k) {
        const res = raw as BigUint64Array[];
        const ids = new Int32Array(count * k).fill(-1);
        for (let q = 0; q < count; q++) {
          const keys = res[q]!;
          for (let i = 0; i < Math.min(k, keys.length); i++) ids[q * k + i] = Number(keys[i]!);
        }
        return ids;
      },
    };
    const bs = this.p.batchSize;
    let batchQueries: DenseDataset | null = null;
    const batch: SearchMode = {
      name: `usearch batch${bs}`,
      prepare(qs) {
        batchQueries = qs;
        batches = [];
        for (let s = 0; s < qs.size; s += bs) batches.push(qs.data.subarray(s * qs.dim, Math.min(qs.size, s + bs) * qs.dim));
      },
      setEf(ef) { self.useEf(ef); },
      searchAll(count, k) {
        const index = self.must();
        const out: { keys: BigUint64Array; counts: BigUint64Array | null }[] = [];
        const dim = batchQueries!.dim;
        for (let b = 0, s = 0; s < count; b++, s += bs) {
          let chunk = batches[b]!;
          if (s + chunk.length / dim > count) chunk = chunk.subarray(0, (count - s) * dim);
          // One query in the chunk makes search() return Matches (no counts).
          const r = index.search(chunk, k, 1) as { keys: BigUint64Array; counts?: BigUint64Array };
          out.push({ keys: r.keys, counts: r.counts ?? null });
        }
        return out;
      },
      ids(raw, count, k) {
        const res = raw as { keys: BigUint64Array; counts: BigUint64Array | null }[];
        const ids = new Int32Array(count * k).fill(-1);
        let q = 0;
        for (const r of res) {
          const rowsHere = r.counts ? r.counts.length : 1;
          for (let j = 0; j < rowsHere && q < count; j++, q++) {
            const found = r.counts ? Number(r.counts[j]!) : Math.min(k, r.keys.length);
            for (let i = 0; i < Math.min(k, found); i++) ids[q * k + i] = Number(r.keys[j * k + i]!);
          }
        }
        return ids;
      },
    };
    return [single, batch];
  }

  private must(): UsearchIndex {
    if (!this.index) throw new Error('usearch index not built');
    return this.index;
  }
}

/**
 * One adapter per library. Every adapter builds single-threaded with the same M and
 * efConstruction, and exposes its search modes; a mode converts the queries to the form its
 * library takes in `prepare` (untimed), then `searchAll` (the timed part) only calls the library
 * and keeps the raw answers, which `ids` turns into an Int32Array afterwards (untimed).
 */
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DenseDataset } from '../src/data/dense.js';
import { FlatIndex } from '../src/indexes/flat.js';
import { HnswIndex, type HnswSearchParams } from '../src/indexes/hnsw/hnsw-index.js';
import { serializeIndex } from '../src/indexes/index-codec.js';
import { PlainDenseStore } from '../src/quant/dense/store.js';
import { ProductQuantizer } from '../src/quant/pq/quantizer.js';
import type { PqStore } from '../src/quant/pq/store.js';
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
  const { HnswlibAdapter, UsearchAdapter } = await import('./peer-libs.js');
  if (lib === 'hnswlib') return new HnswlibAdapter(p, (await import('hnswlib-node')).default);
  return new UsearchAdapter(p, await import('usearch'));
}

export function rowViews(queries: DenseDataset, count: number): Float32Array[] {
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

/** Memory of the plain and PQ indexes (index.memory), codes and codebooks, file sizes. */
export interface PqMemory {
  plain: { graphBytes: number; storeBytes: number };
  pq: { graphBytes: number; storeBytes: number; rerankBytes: number };
  codesBytes: number;
  codebooksBytes: number;
  fileBytesWithPlain: number;
  fileBytesCodesOnly: number;
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
      metric: this.p.metric,
      m: this.p.m,
      efConstruction: this.p.efConstruction,
      seed: this.p.seed,
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
      prepare(qs) {
        queries = qs;
      },
      setEf(e) {
        ef = e;
      },
      searchAll(count, k) {
        const qs = count === queries!.size ? queries! : queries!.slice(0, count);
        // threads: 1: the comparison is single-threaded (searchBatch's default is every core).
        return self.must().searchBatch(qs, k, { ef, batchSize: self.p.batchSize, threads: 1 });
      },
      ids(raw) {
        return (raw as { ids: Int32Array }).ids;
      },
    };
    return [
      this.singleMode(
        'webannolo',
        () => this.must(),
        (e) => ({ ef: e }),
      ),
      batch,
    ];
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
      m: pq.m,
      dsub: pq.dsub,
      trainSample: Math.min(data.size, p.trainSample),
      maxIterations: p.maxIterations,
      trainMs,
      encodeMs,
      kernels: this.pqStore().kernels,
    };
  }

  /** plain HNSW (again, side by side), PQ-HNSW, PQ+rerank R, PQ+rerank max(ef, R): names are the series labels. */
  pqModes(rerank: number): SearchMode[] {
    const pq = () => this.mustPq();
    return [
      this.singleMode(
        'plain HNSW',
        () => this.must(),
        (ef) => ({ ef }),
      ),
      this.singleMode('PQ-HNSW', pq, (ef) => ({ ef })),
      this.singleMode(`PQ+rerank ${rerank}`, pq, (ef) => ({ ef, rerank })),
      this.singleMode(`PQ+rerank max(ef,${rerank})`, pq, (ef) => ({ ef, rerank: Math.max(ef, rerank) })),
    ];
  }

  /** Exhaustive ADC scan over all codes (FlatIndex over the PQ store): what PQ alone can reach. */
  flatPqMode(): SearchMode {
    const pqIndex = this.mustPq();
    const flat = new FlatIndex(pqIndex.store);
    const idsOf = (slots: Int32Array) => (pqIndex.order ? pqIndex.order.idsOf(slots) : slots);
    let views: Float32Array[] = [];
    return {
      name: 'flat PQ',
      prepare(qs) {
        views = rowViews(qs, qs.size);
      },
      setEf() {},
      searchAll(count, k) {
        const out = new Array<Int32Array>(count);
        // The flat scan returns store rows (slots); results and ground truth are ids.
        for (let q = 0; q < count; q++) out[q] = idsOf(flat.search(views[q]!, k).ids);
        return out;
      },
      ids: rowsToIds,
    };
  }

  /** index.memory of the plain and of the PQ index, the codebook bytes, and serialized sizes. */
  pqMemory(dir: string): PqMemory {
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
      prepare(qs) {
        views = rowViews(qs, qs.size);
      },
      setEf(e) {
        ef = e;
      },
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

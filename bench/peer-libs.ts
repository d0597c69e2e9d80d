/**
 * The peers' adapters: hnswlib-node and usearch, built single-threaded with the same M and
 * efConstruction as webannolo (see peers.ts for the adapter contract).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { DenseDataset } from '../src/data/dense.js';
import type { BuildParams, LibAdapter, SearchMode } from './peers.js';
import { rowViews } from './peers.js';

// ---------------------------------------------------------------------------------- hnswlib-node

type HnswlibModule = typeof import('hnswlib-node');
type HnswlibIndex = InstanceType<HnswlibModule['HierarchicalNSW']>;

export class HnswlibAdapter implements LibAdapter {
  readonly lib = 'hnswlib' as const;
  readonly describe = 'hnswlib-node HierarchicalNSW (C++ hnswlib via N-API)';
  private index: HnswlibIndex | null = null;

  constructor(
    private readonly p: BuildParams,
    private readonly mod: HnswlibModule,
  ) {}

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
    return [
      {
        name: 'hnswlib',
        prepare(qs) {
          rows = [];
          for (let q = 0; q < qs.size; q++) rows.push(Array.from(qs.get(q)));
        },
        setEf(ef) {
          self.must().setEf(ef);
        },
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
      },
    ];
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
export class UsearchAdapter implements LibAdapter {
  readonly lib = 'usearch' as const;
  readonly describe = 'usearch Index (C++ via N-API, f32, threads=1)';
  private index: UsearchIndex | null = null;
  private loadedEf = -1;
  private savedPath: string | null = null;
  private dim = 0;

  constructor(
    private readonly p: BuildParams,
    private readonly mod: UsearchModule,
  ) {}

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
      prepare(qs) {
        views = rowViews(qs, qs.size);
      },
      setEf(ef) {
        self.useEf(ef);
      },
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
      setEf(ef) {
        self.useEf(ef);
      },
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

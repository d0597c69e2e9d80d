/**
 * hnswlib-wasm 0.8.2: hnswlib (C++) compiled by Emscripten (-O3, no -msimd128: scalar
 * WebAssembly), persisted through Emscripten's IDBFS (an in-memory file system mirrored to
 * IndexedDB). Every vector crosses embind element by element (vecFromJSArray), a cost its users
 * pay on every add and every query, so it stays inside the timings.
 */
import * as hnswlibWasm from 'hnswlib-wasm';
import type { DenseDataset } from '../../../src/data/dense.js';
import type { BuildSpec, SaveInfo } from '../protocol.js';
import { idbBytes, type OpenResult, type PageAdapter, since, until } from './adapter.js';

/*
 * The calls used, typed here: the package's own .d.ts files re-export each other without file
 * extensions, which TypeScript's NodeNext resolution does not follow (so they type as nothing).
 * Signatures as in its dist/hnswlib-wasm.d.ts and src/wrapper.cpp (readIndex and writeIndex
 * return at once; writeIndex's IDBFS sync ends later).
 */
interface HierarchicalNSW {
  initIndex(maxElements: number, m: number, efConstruction: number, randomSeed: number): void;
  addPoint(point: Float32Array, label: number, replaceDeleted: boolean): void;
  searchKnn(query: Float32Array, k: number, filter: undefined): { neighbors: number[]; distances: number[] };
  setEfSearch(ef: number): void;
  readIndex(filename: string, maxElements: number): void;
  writeIndex(filename: string): void;
}
interface HnswlibModule {
  HierarchicalNSW: new (space: 'l2' | 'ip' | 'cosine', dim: number, autoSaveFilename: string) => HierarchicalNSW;
  EmscriptenFileSystemManager: { isSynced(): boolean };
}
const { loadHnswlib } = hnswlibWasm as unknown as { loadHnswlib(): Promise<HnswlibModule> };

/** Where the library mounts IDBFS; IDBFS names its IndexedDB database after the mount point. */
const MOUNT = '/hnswlib-index';

export class HnswlibWasmAdapter implements PageAdapter {
  readonly describe =
    'hnswlib-wasm 0.8.2 HierarchicalNSW (hnswlib C++ via Emscripten, scalar WebAssembly), addPoint / searchKnn per vector, writeIndex + IDBFS sync';
  private lib: HnswlibModule | null = null;
  private index: HierarchicalNSW | null = null;
  private rows: Float32Array[] = [];

  async build(base: DenseDataset, metric: 'l2' | 'ip', spec: BuildSpec): Promise<number> {
    const lib = await this.module();
    const rows: Float32Array[] = [];
    for (let i = 0; i < base.size; i++) rows.push(base.get(i));
    const t0 = performance.now();
    // '' as the auto-save file name: otherwise every addPoint writes the whole index out.
    const index = new lib.HierarchicalNSW(metric, base.dim, '');
    index.initIndex(base.size, spec.m, spec.efConstruction, spec.seed);
    for (let i = 0; i < rows.length; i++) index.addPoint(rows[i]!, i, false);
    const ms = since(t0);
    this.index = index;
    return ms;
  }

  prepare(queries: DenseDataset): void {
    this.rows = [];
    for (let q = 0; q < queries.size; q++) this.rows.push(queries.get(q));
  }

  setEf(ef: number): void {
    this.must().setEfSearch(ef);
  }

  searchAll(count: number, k: number): number[][] {
    const index = this.must();
    const out = new Array<number[]>(count);
    for (let q = 0; q < count; q++) out[q] = index.searchKnn(this.rows[q]!, k, undefined).neighbors;
    return out;
  }

  ids(raw: unknown, count: number, k: number): Int32Array {
    const res = raw as number[][];
    const ids = new Int32Array(count * k).fill(-1);
    for (let q = 0; q < count; q++) ids.set(res[q]!.slice(0, k), q * k);
    return ids;
  }

  async save(name: string): Promise<SaveInfo> {
    const manager = (await this.module()).EmscriptenFileSystemManager;
    const t0 = performance.now();
    // writeIndex writes the file to the in-memory file system and starts an IDBFS sync to
    // IndexedDB (it returns before the sync ends): the save ends when the sync does.
    this.must().writeIndex(name);
    await until(() => manager.isSynced(), 'the IDBFS sync after writeIndex');
    const saveMs = since(t0);
    return {
      saveMs,
      bytesStored: await idbBytes(MOUNT, 'FILE_DATA', `${MOUNT}/${name}`),
      where: 'indexeddb (Emscripten IDBFS)',
      error: null,
    };
  }

  async open(name: string, n: number, dim: number, metric: 'l2' | 'ip', ef: number, k: number, query: Float32Array): Promise<OpenResult> {
    const t0 = performance.now();
    const lib = await this.module();
    const libInitMs = since(t0);
    const t1 = performance.now();
    // loadHnswlib mounted IDBFS and started copying IndexedDB into memory; wait for that copy.
    await until(() => lib.EmscriptenFileSystemManager.isSynced(), 'the IDBFS read');
    const index = new lib.HierarchicalNSW(metric, dim, '');
    index.readIndex(name, n);
    index.setEfSearch(ef);
    const openMs = since(t1);
    this.index = index;
    const t2 = performance.now();
    index.searchKnn(query, k, undefined);
    const firstSearchMs = since(t2);
    return {
      libInitMs,
      openMs,
      firstSearchMs,
      error: null,
      note: 'libInit = loadHnswlib() (module, IDBFS mount, which starts the IndexedDB read and polls every 100 ms); open = the rest of the IDBFS read + readIndex',
    };
  }

  private async module(): Promise<HnswlibModule> {
    this.lib ??= await loadHnswlib();
    return this.lib;
  }

  private must(): HierarchicalNSW {
    if (!this.index) throw new Error('hnswlib-wasm: no index built or opened');
    return this.index;
  }
}

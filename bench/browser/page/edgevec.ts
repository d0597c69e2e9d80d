/**
 * edgevec 0.9.0 (Rust compiled to WebAssembly with SIMD), persisted with its own
 * save(name) / EdgeVec.load(name) on IndexedDB. What it allows, and how the bench copes:
 * - Its search beam is fixed when the index is made (EdgeVecConfig.ef_search) and search(q, k)
 *   runs a beam of max(k, ef_search): the sweep builds with ef_search = 1 and asks for
 *   max(k, ef) results, keeping the first k (the beam of ef_search = ef, the same top k; the
 *   extra results it hands back as JS objects are counted in the timings).
 * - Its 'dot' and 'cosine' HNSW metrics rank the least similar first in 0.9.0 (the distance
 *   was the raw dot product; fixed in its repository after 0.9.0, which is the latest on npm),
 *   so an inner-product set is searched with 'l2' instead: bge's vectors have unit length
 *   (norms 1 ± 1e-6), on which L2 orders as the inner product does. The recall is scored
 *   against the inner-product ground truth all the same.
 * - save(name) hands IndexedDB a Uint8Array view into its whole WebAssembly memory (the
 *   structured clone copies that memory, not just the file): at 10,000 x 784 (a 31.6 MB file
 *   in a 136 MB memory) the put never settles in headless Chromium 156, while 3,000 x 784
 *   (9.5 MB in 37 MB) saves in 0.3 s; the bench gives a save --save-timeout seconds.
 * - EdgeVec.load fails on the HNSW indexes its save writes ("Deserialization failed: This is
 *   a feature that PostCard will never implement"): the open phase reports that error.
 * - No seed: its level draws use a fixed internal seed.
 */
import init, { EdgeVec, EdgeVecConfig } from 'edgevec';
import type { DenseDataset } from '../../../src/data/dense.js';
import type { BuildSpec, SaveInfo } from '../protocol.js';
import { idbBytes, type OpenResult, type PageAdapter, since } from './adapter.js';

/** Served by the bench's server from node_modules/edgevec. */
const WASM_URL = '/edgevec/edgevec_bg.wasm';

let ready: Promise<unknown> | null = null;

interface Hit {
  id: number;
  score: number;
}

export class EdgevecAdapter implements PageAdapter {
  describe =
    'edgevec 0.9.0 EdgeVec HNSW (Rust, WebAssembly SIMD), insertBatchFlat, search(q, max(k, ef)) per query keeping the first k, save / EdgeVec.load (IndexedDB)';
  private db: EdgeVec | null = null;
  private rows: Float32Array[] = [];
  private ef = 64;
  /** Row of each edgevec vector id (its ids are its own, not the insertion order). */
  private rowOf = new Map<number, number>();

  /**
   * `fixedEf`: build with EdgeVecConfig.ef_search = fixedEf and search with k results (the
   * library's own way to set the beam, one build per ef): the control for the sweep's
   * max(k, ef) results, whose extra JS objects cost time. null: the sweep's way.
   */
  constructor(private readonly fixedEf: number | null = null) {
    if (fixedEf !== null) this.describe += ` — control: built with ef_search = ${fixedEf}, search(q, k)`;
  }

  async build(base: DenseDataset, metric: 'l2' | 'ip', spec: BuildSpec): Promise<number> {
    await this.module();
    const t0 = performance.now();
    const config = new EdgeVecConfig(base.dim);
    config.m = spec.m;
    // Level 0 gets 2m links, as in hnswlib and webannolo (edgevec's default is m0 = 2 x 12).
    config.m0 = 2 * spec.m;
    config.ef_construction = spec.efConstruction;
    config.ef_search = this.fixedEf ?? 1;
    // See the top of this file: 'l2' for the unit-length inner-product set too.
    config.metric = 'l2';
    if (metric === 'ip') this.describe += "; inner product searched as 'l2' on unit vectors ('dot' ranks backwards in 0.9.0)";
    const db = new EdgeVec(config);
    const ids = db.insertBatchFlat(base.data, base.size);
    const ms = since(t0);
    this.db = db;
    this.rowOf.clear();
    for (let i = 0; i < ids.length; i++) this.rowOf.set(ids[i]!, i);
    return ms;
  }

  prepare(queries: DenseDataset): void {
    this.rows = [];
    for (let q = 0; q < queries.size; q++) this.rows.push(queries.get(q));
  }

  setEf(ef: number): void {
    if (this.fixedEf !== null && ef !== this.fixedEf) throw new Error(`edgevec: this index searches at ef ${this.fixedEf} only`);
    this.ef = ef;
  }

  searchAll(count: number, k: number): Hit[][] {
    const db = this.must();
    const want = this.fixedEf === null ? Math.max(k, this.ef) : k;
    const out = new Array<Hit[]>(count);
    for (let q = 0; q < count; q++) out[q] = db.search(this.rows[q]!, want) as Hit[];
    return out;
  }

  ids(raw: unknown, count: number, k: number): Int32Array {
    const res = raw as Hit[][];
    const ids = new Int32Array(count * k).fill(-1);
    for (let q = 0; q < count; q++) {
      const hits = res[q]!;
      for (let i = 0; i < Math.min(k, hits.length); i++) ids[q * k + i] = this.rowOf.get(hits[i]!.id) ?? -1;
    }
    return ids;
  }

  async save(name: string): Promise<SaveInfo> {
    const t0 = performance.now();
    await this.must().save(name);
    const saveMs = since(t0);
    return { saveMs, bytesStored: await idbBytes('EdgeVecDB', 'files', name), where: 'indexeddb (EdgeVecDB)', error: null };
  }

  async open(name: string, n: number, _dim: number, _metric: 'l2' | 'ip', ef: number, k: number, query: Float32Array): Promise<OpenResult> {
    const t0 = performance.now();
    await this.module();
    const libInitMs = since(t0);
    const t1 = performance.now();
    try {
      this.db = await EdgeVec.load(name);
    } catch (e) {
      const message = (e as { message?: string } | null)?.message ?? String(e);
      return {
        libInitMs,
        openMs: null,
        firstSearchMs: null,
        error: `EdgeVec.load('${name}') failed: ${message}`,
        note: 'EdgeVec.load(name) from IndexedDB',
      };
    }
    const openMs = since(t1);
    // insertBatchFlat gave ids in insertion order; a reopened index keeps them.
    this.rowOf.clear();
    for (let i = 0; i < n; i++) this.rowOf.set(i + 1, i);
    this.setEf(ef);
    const t2 = performance.now();
    this.db.search(query, Math.max(k, ef));
    const firstSearchMs = since(t2);
    return {
      libInitMs,
      openMs,
      firstSearchMs,
      error: null,
      note: 'libInit = the WebAssembly module (init); open = EdgeVec.load(name) from IndexedDB',
    };
  }

  /** Frees the index's WebAssembly memory. */
  free(): void {
    this.db?.free();
    this.db = null;
  }

  private module(): Promise<unknown> {
    ready ??= init({ module_or_path: WASM_URL });
    return ready;
  }

  private must(): EdgeVec {
    if (!this.db) throw new Error('edgevec: no index built or opened');
    return this.db;
  }
}

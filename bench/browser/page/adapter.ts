/**
 * One adapter per library, the same contract as bench/peers.ts: `build` times only the
 * library's calls, `prepare` puts the queries in the form the library takes (untimed),
 * `searchAll` is the timed loop (single queries, one after another) and keeps the raw answers,
 * which `ids` turns into an Int32Array afterwards (untimed).
 */
import type { DenseDataset } from '../../../src/data/dense.js';
import type { BuildSpec, OpenInfo, SaveInfo } from '../protocol.js';

export interface PageAdapter {
  /** Library, version and configuration, in words (what it allows and what it does not). */
  readonly describe: string;
  /** Builds on `base` on the page's one thread; returns the ms of the library's own calls. */
  build(base: DenseDataset, metric: 'l2' | 'ip', spec: BuildSpec): Promise<number>;
  /** Converts the queries to the library's form (untimed). */
  prepare(queries: DenseDataset): void;
  /** Sets the search beam width (untimed). */
  setEf(ef: number): void;
  /** Searches queries [0, count), k each, one call per query; returns the raw answers (timed). */
  searchAll(count: number, k: number): unknown;
  /** The raw answers as ids, row q at [q*k, (q+1)*k), -1 where missing (untimed). */
  ids(raw: unknown, count: number, k: number): Int32Array;
  /** Saves the index with the library's own persistence under `name`. */
  save(name: string): Promise<SaveInfo>;
  /**
   * After a page reload: opens `name` from the browser's storage (the adapter is fresh) and
   * searches `query` once at `ef` (the first search). `n` and `dim` are what it was built with.
   */
  open(name: string, n: number, dim: number, metric: 'l2' | 'ip', ef: number, k: number, query: Float32Array): Promise<OpenResult>;
}

/** OpenInfo less the ids, which the page reads afterwards through searchAll. */
export type OpenResult = Omit<OpenInfo, 'ids'>;

/** The ms since `t0`. */
export const since = (t0: number): number => performance.now() - t0;

/** Waits until `done()` holds, checking every few ms (a setTimeout(0) is clamped to about 4 ms). */
export async function until(done: () => boolean, what: string, timeoutMs = 600_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 0));
  }
}

/** Bytes held by the records of an IndexedDB object store (the values, or their `contents`), optionally one key only. */
export async function idbBytes(dbName: string, storeName: string, key?: string): Promise<number> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(dbName);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  try {
    const values = await new Promise<unknown[]>((resolve, reject) => {
      const store = db.transaction(storeName, 'readonly').objectStore(storeName);
      const req = key === undefined ? store.getAll() : store.get(key);
      req.onsuccess = () => resolve(key === undefined ? (req.result as unknown[]) : [req.result]);
      req.onerror = () => reject(req.error);
    });
    let bytes = 0;
    for (const v of values) bytes += byteLengthOf(v) ?? byteLengthOf((v as { contents?: unknown } | null)?.contents) ?? 0;
    return bytes;
  } finally {
    db.close();
  }
}

function byteLengthOf(v: unknown): number | null {
  if (v instanceof ArrayBuffer) return v.byteLength;
  if (ArrayBuffer.isView(v)) return v.byteLength;
  if (v instanceof Blob) return v.size;
  return null;
}

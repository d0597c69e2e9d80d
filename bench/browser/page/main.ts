/**
 * The bench page: bundled by run.ts with esbuild and served with the data files. It exposes
 * `window.__benchBrowser` (protocol.ts); the driver calls it step by step, reloading the page
 * between a save and an open so the open reads the browser's storage.
 */
import { deserializeIndex, HnswIndex, openIndex } from '../../../src/index.js';
import { crc32 } from '../../../src/io/crc32.js';
import type { BrowserPoint, BuildInfo, BuildSpec, DataInfo, DataSpec, OpenInfo, SaveInfo, SweepSpec } from '../protocol.js';
import type { PageAdapter } from './adapter.js';
import { loadData, type PageData } from './data.js';
import { EdgevecAdapter } from './edgevec.js';
import { HnswlibWasmAdapter } from './hnswlib-wasm.js';
import { interleavedPoints, type Scoring, sweepPoint } from './sweep.js';
import { NAMESPACE, WebannoloAdapter } from './webannolo.js';

let data: PageData | null = null;
let adapter: PageAdapter | null = null;

function adapterFor(lib: BuildSpec['lib']): PageAdapter {
  if (lib === 'webannolo') return new WebannoloAdapter();
  if (lib === 'hnswlib-wasm') return new HnswlibWasmAdapter();
  return new EdgevecAdapter();
}

const must = <T>(v: T | null, what: string): T => {
  if (v === null) throw new Error(`no ${what} yet`);
  return v;
};

function scoring(): Scoring {
  const d = must(data, 'data');
  return { base: must(d.base, 'base vectors'), queries: d.queries, gt: d.gt, metric: d.metric };
}

/** The first `count` queries' ids at `ef` (k each), as a plain array. */
function checkIds(a: PageAdapter, ef: number, k: number, count: number): number[] {
  const queries = must(data, 'data').queries;
  const c = Math.min(count, queries.size);
  a.prepare(queries);
  a.setEf(ef);
  return Array.from(a.ids(a.searchAll(c, k), c, k));
}

const api = {
  async load(spec: DataSpec): Promise<DataInfo> {
    data = null;
    const loaded = await loadData(spec);
    data = loaded.data;
    return loaded.info;
  },

  async build(spec: BuildSpec): Promise<BuildInfo> {
    const d = must(data, 'data');
    adapter = adapterFor(spec.lib);
    const buildMs = await adapter.build(must(d.base, 'base vectors'), d.metric, spec);
    adapter.prepare(d.queries);
    return { buildMs, describe: adapter.describe };
  },

  /**
   * Searches, untimed, for `ms` at `ef` before the sweep: WebAssembly starts on a baseline
   * compiler and moves hot functions to the optimizing one in the background, so the first
   * points of a sweep could otherwise run on code that later points no longer do.
   */
  warmup(ef: number, k: number, ms: number): number {
    const a = must(adapter, 'index');
    const nq = must(data, 'data').queries.size;
    a.setEf(ef);
    const t0 = performance.now();
    let passes = 0;
    while (performance.now() - t0 < ms) {
      a.searchAll(nq, k);
      passes++;
    }
    return passes;
  },

  sweep(spec: SweepSpec): BrowserPoint {
    return sweepPoint(must(adapter, 'index'), scoring(), spec);
  },

  checkIds(ef: number, k: number, count: number): number[] {
    return checkIds(must(adapter, 'index'), ef, k, count);
  },

  /**
   * edgevec's control point: a second index built with ef_search = spec.ef, searched for k
   * results, and the sweep's index searched for max(k, ef), their timed loops taking turns.
   * Also the share of the first `count` queries whose ids are the same both ways (the same
   * beam: 1 expected).
   */
  async edgevecControl(
    build: BuildSpec,
    spec: SweepSpec,
    count: number,
  ): Promise<{ buildMs: number; point: BrowserPoint; sweepIndexPoint: BrowserPoint; idsSame: number }> {
    const d = must(data, 'data');
    const main = must(adapter, 'index');
    const sweepIds = checkIds(main, spec.ef, spec.k, count);
    const control = new EdgevecAdapter(spec.ef);
    const buildMs = await control.build(must(d.base, 'base vectors'), d.metric, build);
    control.prepare(d.queries);
    main.prepare(d.queries);
    const [point, sweepIndexPoint] = interleavedPoints(control, main, scoring(), spec);
    const ids = checkIds(control, spec.ef, spec.k, count);
    let same = 0;
    for (let i = 0; i < ids.length; i++) if (ids[i] === sweepIds[i]) same++;
    control.free();
    return { buildMs, point, sweepIndexPoint, idsSame: same / Math.max(1, ids.length) };
  },

  /** The library's save, given up (reported, not thrown) when it has not settled after `timeoutMs`. */
  async save(name: string, timeoutMs: number): Promise<SaveInfo> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<SaveInfo>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            saveMs: null,
            bytesStored: null,
            where: '',
            error: `the save did not settle (no resolve, no reject) within ${timeoutMs / 1000} s`,
          }),
        timeoutMs,
      );
    });
    const saving = must(adapter, 'index')
      .save(name)
      .catch(
        (e: unknown): SaveInfo => ({
          saveMs: null,
          bytesStored: null,
          where: '',
          error: `the save failed: ${(e as Error)?.message ?? String(e)}`,
        }),
      );
    try {
      return await Promise.race([saving, limit]);
    } finally {
      clearTimeout(timer);
    }
  },

  async open(lib: BuildSpec['lib'], name: string, n: number, ef: number, k: number, count: number): Promise<OpenInfo> {
    const d = must(data, 'data');
    adapter = adapterFor(lib);
    const opened = await adapter.open(name, n, d.queries.dim, d.metric, ef, k, d.queries.get(0));
    return { ...opened, ids: opened.error === null ? checkIds(adapter, ef, k, count) : [] };
  },

  /** openIndex(name) and the first search, timed (after a reload: nothing of the index is in the page). */
  async opfsOpen(name: string, ef: number, k: number): Promise<{ openIndexMs: number; firstSearchMs: number; ids: number[] }> {
    const query = must(data, 'data').queries.get(0);
    const t0 = performance.now();
    const index = await openIndex(name);
    const t1 = performance.now();
    if (!(index instanceof HnswIndex)) throw new Error('not an HnswIndex');
    const ids = index.search(query, k, { ef }).ids;
    const t2 = performance.now();
    return { openIndexMs: t1 - t0, firstSearchMs: t2 - t1, ids: Array.from(ids) };
  },

  /**
   * The same split by public calls (after another reload): the whole file's bytes from OPFS
   * (the manifest names the file), deserializeIndex of those bytes, the first search. Then,
   * apart (after the search), the file's CRC-32 alone: the share of decoding spent on the
   * checksum, which both deserializeIndex and openIndex verify.
   */
  async opfsSplit(
    name: string,
    ef: number,
    k: number,
  ): Promise<{ readMs: number; decodeMs: number; firstSearchMs: number; crcMs: number; bytes: number; ids: number[] }> {
    const query = must(data, 'data').queries.get(0);
    const t0 = performance.now();
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(NAMESPACE);
    const manifest = JSON.parse(await (await (await dir.getFileHandle(`${name}.index.json`)).getFile()).text()) as { file: string };
    const bytes = new Uint8Array(await (await (await dir.getFileHandle(manifest.file)).getFile()).arrayBuffer());
    const t1 = performance.now();
    const index = deserializeIndex(bytes);
    const t2 = performance.now();
    if (!(index instanceof HnswIndex)) throw new Error('not an HnswIndex');
    const ids = index.search(query, k, { ef }).ids;
    const t3 = performance.now();
    crc32(bytes.subarray(0, bytes.byteLength - 4), 0);
    const crcMs = performance.now() - t3;
    return { readMs: t1 - t0, decodeMs: t2 - t1, firstSearchMs: t3 - t2, crcMs, bytes: bytes.byteLength, ids: Array.from(ids) };
  },
};

export type BenchPageApi = typeof api;

(window as unknown as { __benchBrowser: BenchPageApi }).__benchBrowser = api;
document.title = 'webannolo browser bench: ready';

/**
 * What the bench's Node driver (run.ts) and its page (page/main.ts) say to each other: the
 * page exposes `window.__benchBrowser` with these calls, and every number it returns was
 * measured in the page with performance.now().
 */

/** The libraries compared, each in its own browser context. */
export const BROWSER_LIBS = ['webannolo', 'hnswlib-wasm', 'edgevec'] as const;
export type BrowserLib = (typeof BROWSER_LIBS)[number];

export const BROWSER_DATASETS = ['mnist', 'bge'] as const;
export type BrowserDataset = (typeof BROWSER_DATASETS)[number];

/** What the page fetches from the bench's server and how much of it it keeps. */
export interface DataSpec {
  dataset: BrowserDataset;
  /** MNIST: the first n training images as the base. bge: ignored (its whole base, which its ground truth is over). */
  n: number;
  /** Queries kept (capped by the ground truth's rows). */
  nq: number;
  /** Ground-truth file under /data/ (an ivecs, top-100 or deeper per query). */
  gtPath: string;
  /** Skip the base vectors (the open phase after a reload needs only the queries). */
  queriesOnly?: boolean;
}

export interface DataInfo {
  n: number;
  nq: number;
  dim: number;
  metric: 'l2' | 'ip';
  /** ms to fetch and parse the files (not part of any library's figures). */
  loadMs: number;
}

export interface BuildSpec {
  lib: BrowserLib;
  m: number;
  efConstruction: number;
  seed: number;
}

export interface BuildInfo {
  /** Build time: the library's own calls only (the base vectors are already in the page). */
  buildMs: number;
  /** Library, version, how it was configured, what it does not allow. */
  describe: string;
}

export interface SweepSpec {
  ef: number;
  k: number;
  /** Untimed queries searched first at this ef. */
  warmup: number;
  /** Each timed loop repeats whole passes over the queries until this many ms have passed. */
  minTimeMs: number;
  /** Timed loops per point; QPS is their median. */
  repeats: number;
}

export interface BrowserPoint {
  ef: number;
  /** recall@k with bench/measure.ts's tie rule (a returned id as close as the true k-th counts). */
  recall: number;
  /** Plain |returned ∩ true top-k| / k. */
  recallStrict: number;
  /** Median of the timed loops' queries per second. */
  qps: number;
  /** Every timed loop's queries per second. */
  qpsRuns: number[];
  /** Whole passes over the queries in all timed loops, and their total time. */
  passes: number;
  timedMs: number;
}

export interface SaveInfo {
  /** The library's own save call, until its storage says the data is written (null: it did not finish). */
  saveMs: number | null;
  /** Bytes the library's data takes in the browser's storage (its files / records, read back); null when the save did not finish. */
  bytesStored: number | null;
  /** Where: 'opfs', 'indexeddb (IDBFS)', 'indexeddb'. */
  where: string;
  /** Why the save did not finish (it failed, or did not settle within the bench's time limit), else null. */
  error: string | null;
}

export interface OpenInfo {
  /** Loading the library itself where it is a separate step (its WebAssembly module, file system mount). */
  libInitMs: number;
  /** From the browser's storage to an index ready to search (null when the library failed to open it). */
  openMs: number | null;
  /** The first search after opening (k results at the check ef, query 0); null when it did not open. */
  firstSearchMs: number | null;
  /** The library's error when it could not open what it saved, else null. */
  error: string | null;
  /** ids of the first queries at the check ef after opening, to compare with those before saving. */
  ids: number[];
  /** How open was done, in words. */
  note: string;
}

/** One OPFS open trial of a saved webannolo index, after a page reload. */
export interface OpfsTrial {
  /** openIndex(name) to a ready index. */
  openIndexMs: number;
  /** The first search after openIndex. */
  firstSearchMs: number;
  /** The split, measured around public calls after a second reload: the file's bytes from OPFS (getFile + arrayBuffer)... */
  readMs: number;
  /** ... deserializeIndex of those bytes ... */
  decodeMs: number;
  /** ... and the first search on that index. */
  splitFirstSearchMs: number;
  bytes: number;
}

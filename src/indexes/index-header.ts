import { fail } from '../errors.js';
import type { ContainerHeader, Dtype, SectionEntry } from '../io/container.js';
import { storeCodec } from '../quant/registry.js';
import { METRICS, type Metric } from '../types.js';

/**
 * The checks an index file's header gets before anything is allocated for it: every field
 * bounded, every section the header implies present with its element type and length, and
 * no section it does not. A file is never trusted (a user may drop any file on the demo):
 * whatever passes here sizes at most a small multiple of the file, and each refusal is one
 * CORRUPT_FILE error naming the field. The data itself (link ids, CSR rows, keys) is checked
 * as it is decoded.
 */

/** Links per node on upper levels: the builder's range (resolveBuildParams); level 0 up to twice that. */
const MIN_M = 2;
const MAX_M = 255;
/**
 * A bound the builder does not set: adds to a loaded index size their beam scratch by it (12
 * bytes per unit), so a file must not name an absurd one. Far above any useful value.
 */
const MAX_EF_CONSTRUCTION = 1 << 20;
/** Node levels are bytes. */
const MAX_LEVEL = 255;
/**
 * A search scatters a sparse query into a row of dim floats: the dimension may exceed the
 * file's size only up to this, so that row stays a small multiple of the file.
 */
const DIM_FREE = 1 << 24;

/** A store as its header describes it; size and dim are null for a codec without a layout. */
export interface StoreHeader {
  readonly kind: string;
  readonly params: Record<string, unknown>;
  readonly size: number | null;
  readonly dim: number | null;
}

export interface GraphHeader {
  readonly n: number;
  readonly m: number;
  readonly m0: number;
  readonly entryPoint: number;
  readonly maxLevel: number;
  readonly efConstruction: number;
  readonly seed: number;
}

export interface ItemsHeader {
  readonly keys: 'number' | 'string' | null;
  readonly labels: boolean;
  /** Removed slots the bitset must hold (0: none, no section). */
  readonly removed: number;
  readonly order: boolean;
}

/** An index file's header, checked against its sections table. */
export interface IndexHeader {
  readonly index: 'hnsw' | 'flat';
  readonly metric: Metric;
  readonly store: StoreHeader;
  readonly rerank: StoreHeader | null;
  /** Null for a flat index. */
  readonly graph: GraphHeader | null;
  readonly items: ItemsHeader;
}

type Expected = Map<string, { dtype: Dtype; length?: number }>;

/**
 * Checks the header of an index file of `fileBytes` bytes against its (checked) sections
 * table and format version; returns the header's checked fields.
 */
export function checkIndexHeader(
  { header, entries, version }: { header: ContainerHeader; entries: readonly SectionEntry[]; version: number },
  fileBytes: number,
): IndexHeader {
  const metric = header['metric'];
  if (typeof metric !== 'string' || !METRICS.includes(metric as Metric))
    fail('CORRUPT_FILE', `index header has an unknown metric '${String(metric)}'`);
  const index = header['index'];
  if (index !== 'hnsw' && index !== 'flat') fail('CORRUPT_FILE', `index header has an unknown index type '${String(index)}'`);
  const expected: Expected = new Map();
  const open: string[] = [];
  const store = storeHeader(header['store'], 'store', expected, open, fileBytes);
  let rerank: StoreHeader | null = null;
  let graph: GraphHeader | null = null;
  let items: ItemsHeader = { keys: null, labels: false, removed: 0, order: false };
  if (index === 'hnsw') {
    if (header['rerank'] !== undefined) rerank = rerankHeader(header['rerank'], store, expected, open, fileBytes);
    graph = graphHeader(header['graph'], store, expected);
    items = itemsHeader(header['items'], graph.n, expected);
    // What each version added: keys, labels and removed items 2, the item order 3 (a reader of
    // the version a file claims would misread it).
    if (version < 2 && header['items'] !== undefined)
      fail('CORRUPT_FILE', `a format ${version} index file cannot hold keys, labels or removed items`);
    if (version < 3 && items.order) fail('CORRUPT_FILE', `a format ${version} index file cannot hold an item order`);
  }
  matchSections(entries, expected, open);
  return { index, metric: metric as Metric, store, rerank, graph, items };
}

/** The store's parameters through its codec's layout: kind known, fields bounded, its sections expected. */
function storeHeader(value: unknown, prefix: string, expected: Expected, open: string[], fileBytes: number): StoreHeader {
  if (!isObject(value) || typeof value['kind'] !== 'string') return fail('CORRUPT_FILE', `index header does not describe its ${prefix}`);
  const kind = value['kind'];
  const codec = storeCodec(kind);
  if (!codec.layout) {
    // A codec registered without a layout: its sections are its own to check when decoded.
    open.push(`${prefix}.`);
    return { kind, params: value, size: null, dim: null };
  }
  const { size, dim, sections } = codec.layout(value);
  if (dim > Math.max(DIM_FREE, 4 * fileBytes))
    fail('CORRUPT_FILE', `index header has a ${prefix} of dimension ${dim}, far beyond what a ${fileBytes}-byte file can hold`);
  for (const [name, s] of Object.entries(sections)) expected.set(`${prefix}.${name}`, s);
  return { kind, params: value, size, dim };
}

/** Plain vectors of the same items: same count and dimension, and the same kind of vector (dense or sparse). */
function rerankHeader(value: unknown, store: StoreHeader, expected: Expected, open: string[], fileBytes: number): StoreHeader {
  const rerank = storeHeader(value, 'rerank', expected, open, fileBytes);
  if (rerank.size !== null && store.size !== null && rerank.size !== store.size)
    fail('CORRUPT_FILE', `index header has a re-ranking store of ${rerank.size} items for ${store.size}`);
  if (rerank.dim !== null && store.dim !== null && rerank.dim !== store.dim)
    fail('CORRUPT_FILE', `index header has a re-ranking store of dimension ${rerank.dim} for dimension ${store.dim}`);
  if ((rerank.kind === 'sparse') !== (store.kind === 'sparse'))
    fail('CORRUPT_FILE', `index header pairs a '${store.kind}' store with a '${rerank.kind}' re-ranking store`);
  return rerank;
}

function graphHeader(value: unknown, store: StoreHeader, expected: Expected): GraphHeader {
  if (!isObject(value)) return fail('CORRUPT_FILE', 'index header does not describe its graph');
  const int = (key: string, min: number, max: number) => {
    const v = value[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
      fail(
        'CORRUPT_FILE',
        `index header has an invalid graph '${key}' (${JSON.stringify(v) ?? 'missing'}; expected an integer in [${min}, ${max}])`,
      );
    return v;
  };
  const n = int('n', 1, Number.MAX_SAFE_INTEGER);
  if (store.size !== null && n !== store.size)
    fail('CORRUPT_FILE', `index header has a graph of ${n} nodes for ${store.size} stored items`);
  const m = int('m', MIN_M, MAX_M);
  const m0 = int('m0', 1, 2 * MAX_M);
  const efConstruction = int('efConstruction', 1, MAX_EF_CONSTRUCTION);
  const seed = int('seed', 0, 0xffffffff);
  // -1 / -1: every item was removed (a living index emptied, not yet refilled).
  const entryPoint = int('entryPoint', -1, n - 1);
  const maxLevel = int('maxLevel', -1, MAX_LEVEL);
  if ((entryPoint === -1) !== (maxLevel === -1))
    fail('CORRUPT_FILE', `index header has graph entry point ${entryPoint} with top level ${maxLevel}`);
  expected.set('graph.levels', { dtype: 'u8', length: n });
  expected.set('graph.level0', { dtype: 'u32', length: n * (m0 + 1) });
  expected.set('graph.upper', { dtype: 'u32' });
  return { n, m, m0, entryPoint, maxLevel, efConstruction, seed };
}

const ITEM_FIELDS = ['keys', 'labels', 'removed', 'order'];

/** Keys, labels, removed slots and item order (format 2 and 3): which there are, and their sections. */
function itemsHeader(value: unknown, n: number, expected: Expected): ItemsHeader {
  if (value === undefined) return { keys: null, labels: false, removed: 0, order: false };
  if (!isObject(value)) return fail('CORRUPT_FILE', "index header's 'items' is not an object");
  for (const key of Object.keys(value))
    if (!ITEM_FIELDS.includes(key)) fail('CORRUPT_FILE', `index header has an unknown item field '${key}'`);
  const { keys, labels, removed, order } = value;
  if (keys !== undefined && keys !== 'number' && keys !== 'string')
    fail('CORRUPT_FILE', `index header has keys of unknown kind ${JSON.stringify(keys)}`);
  if (labels !== undefined && labels !== true)
    fail('CORRUPT_FILE', `index header has an invalid items 'labels' (${JSON.stringify(labels)})`);
  if (order !== undefined && order !== true) fail('CORRUPT_FILE', `index header has an invalid items 'order' (${JSON.stringify(order)})`);
  if (removed !== undefined && !(typeof removed === 'number' && Number.isSafeInteger(removed) && removed >= 1 && removed <= n))
    fail('CORRUPT_FILE', `index header has an invalid removed-items count (${JSON.stringify(removed)} of ${n} slots)`);
  if (keys === 'number') expected.set('keys.f64', { dtype: 'u8', length: 8 * n });
  if (keys === 'string') {
    expected.set('keys.utf8', { dtype: 'u8' });
    expected.set('keys.offsets', { dtype: 'u32', length: n + 1 });
  }
  if (labels === true) {
    expected.set('labels.indptr', { dtype: 'u32', length: n + 1 });
    expected.set('labels.values', { dtype: 'u32' });
  }
  if (removed !== undefined) expected.set('removed.bits', { dtype: 'u32', length: Math.ceil(n / 32) });
  if (order === true) expected.set('order.ids', { dtype: 'u32', length: n });
  return { keys: keys ?? null, labels: labels === true, removed: (removed as number | undefined) ?? 0, order: order === true };
}

/** Every section the header implies is there, with its type and length; nothing else is. */
function matchSections(entries: readonly SectionEntry[], expected: Expected, open: readonly string[]): void {
  const listed = new Set<string>();
  for (const e of entries) {
    listed.add(e.name);
    const want = expected.get(e.name);
    if (!want) {
      if (open.some((prefix) => e.name.startsWith(prefix))) continue;
      fail('CORRUPT_FILE', `index file has an unknown section '${e.name}'`);
    }
    if (e.dtype !== want.dtype) fail('CORRUPT_FILE', `index file section '${e.name}' holds ${e.dtype} values, expected ${want.dtype}`);
    if (want.length !== undefined && e.length !== want.length)
      fail('CORRUPT_FILE', `index file section '${e.name}' holds ${e.length} values, its header implies ${want.length}`);
  }
  for (const name of expected.keys()) if (!listed.has(name)) fail('CORRUPT_FILE', `index file lacks its '${name}' section`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

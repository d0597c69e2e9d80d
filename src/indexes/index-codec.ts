import { fail, WebannoloError } from '../errors.js';
import { type ContainerHeader, decodeContainer, encodeContainer, readContainerHeader, type SectionArray } from '../io/container.js';
import { storeCodec } from '../quant/registry.js';
import type { Metric, VectorStore } from '../types.js';
import { METRICS } from '../types.js';
import { FlatIndex } from './flat.js';
import { HnswGraph } from './hnsw/graph/graph.js';
import { HnswIndex } from './hnsw/hnsw-index.js';
import { ItemKeys } from './items/item-keys.js';
import { ItemLabels } from './items/item-labels.js';
import { ItemOrder } from './items/item-order.js';
import { Tombstones } from './items/tombstones.js';

export type AnyIndex = HnswIndex | FlatIndex;

/** Serializes an index (graph, store and parameters) into one self-describing buffer. */
export function serializeIndex(index: AnyIndex): Uint8Array {
  const sections: Record<string, SectionArray> = {};
  const store = encodeStore(index.store, 'store', sections);
  const header: Record<string, unknown> = {
    library: 'webannolo',
    index: index instanceof HnswIndex ? 'hnsw' : 'flat',
    metric: index.metric,
    store,
  };
  if (index instanceof HnswIndex && index.rerankStore) header['rerank'] = encodeStore(index.rerankStore, 'rerank', sections);
  if (index instanceof HnswIndex) {
    const g = index.graph;
    header['graph'] = {
      n: g.n,
      m: g.m,
      m0: g.m0,
      entryPoint: g.entryPoint,
      maxLevel: g.maxLevel,
      efConstruction: index.buildParams.efConstruction,
      seed: index.buildParams.seed,
    };
    sections['graph.levels'] = g.levels;
    sections['graph.level0'] = g.level0;
    sections['graph.upper'] = flattenUpper(g);
    encodeItems(index, header, sections);
  }
  // Version 3 only where it is needed (an item order): older readers keep reading the rest.
  return encodeContainer(header, sections, 'order.ids' in sections ? 3 : 2);
}

function encodeStore(store: VectorStore, prefix: string, sections: Record<string, SectionArray>): Record<string, unknown> {
  const { params, sections: own } = storeCodec(store.kind).encode(store);
  for (const [name, a] of Object.entries(own)) sections[`${prefix}.${name}`] = a;
  return { kind: store.kind, ...params };
}

/** Reads an index written by serializeIndex; damaged, foreign or newer files fail clearly. */
export function deserializeIndex(bytes: Uint8Array | ArrayBuffer): AnyIndex {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const file = decodeContainer(u8);
  return decodeIndexFromSections(file.header, (name) => file.section(name));
}

export interface DecodeIndexOptions {
  /**
   * Makes the re-ranking store instead of decoding its `rerank.*` sections (which are then
   * never requested), e.g. a store that reads the vectors from disk. Gets the header's
   * description of the store.
   */
  rerankStore?: (params: Record<string, unknown>, metric: Metric) => VectorStore;
}

/**
 * Builds an index from a checked header and a reader of its sections by name: the core of
 * deserializeIndex, for readers that do not hold the whole file in one buffer. Checking the
 * file's length and CRC is the caller's job.
 */
export function decodeIndexFromSections(
  header: ContainerHeader,
  section: (name: string) => SectionArray,
  options: DecodeIndexOptions = {},
): AnyIndex {
  const file = { header, section };
  const h = file.header;
  const metric = h['metric'] as Metric;
  if (!METRICS.includes(metric)) fail('CORRUPT_FILE', `index header has an unknown metric '${String(metric)}'`);
  const storeParams = h['store'] as Record<string, unknown> | undefined;
  if (!storeParams || typeof storeParams['kind'] !== 'string') fail('CORRUPT_FILE', 'index header does not describe its store');
  const store = storeCodec(storeParams['kind']).decode(storeParams, (name) => file.section(`store.${name}`), metric);
  if (h['index'] === 'flat') return new FlatIndex(store);
  if (h['index'] !== 'hnsw') fail('CORRUPT_FILE', `unknown index type '${String(h['index'])}'`);
  const gp = h['graph'] as Record<string, number>;
  const graph = restoreGraph(
    gp,
    file.section('graph.levels') as Uint8Array,
    file.section('graph.level0') as Uint32Array,
    file.section('graph.upper') as Uint32Array,
  );
  const rerankParams = h['rerank'] as Record<string, unknown> | undefined;
  let rerank: VectorStore | null = null;
  if (rerankParams && options.rerankStore) rerank = options.rerankStore(rerankParams, metric);
  else if (rerankParams)
    rerank = storeCodec(String(rerankParams['kind'])).decode(rerankParams, (name) => file.section(`rerank.${name}`), metric);
  return new HnswIndex(
    graph,
    store,
    { m: gp['m']!, efConstruction: gp['efConstruction']!, seed: gp['seed']! },
    rerank,
    decodeItems(h, section, graph.n),
  );
}

/** The header of an index file, checked for magic and version only (fast, for `info`). */
export function describeIndexFile(bytes: Uint8Array): ContainerHeader {
  return readContainerHeader(bytes);
}

/**
 * Keys, labels and removed slots (format version 2): numeric keys as float64 bytes, string keys
 * as UTF-8 with offsets (a removed slot: key -1 or ""), labels as CSR, removed slots as a
 * bitset; all by slot. The item order (version 3): the id of the item in each slot. The header's `items` says which are there.
 */
function encodeItems(index: HnswIndex, header: Record<string, unknown>, sections: Record<string, SectionArray>): void {
  const items: Record<string, unknown> = {};
  if (index.keys) {
    const keys = index.keys.toArray();
    items['keys'] = index.keys.kind;
    if (index.keys.kind === 'number') {
      sections['keys.f64'] = new Uint8Array(Float64Array.from(keys, (k) => (k === null ? -1 : (k as number))).buffer);
    } else {
      const encoder = new TextEncoder();
      const parts = keys.map((k) => encoder.encode(k === null ? '' : (k as string)));
      const offsets = new Uint32Array(parts.length + 1);
      for (let i = 0; i < parts.length; i++) offsets[i + 1] = offsets[i]! + parts[i]!.length;
      const utf8 = new Uint8Array(offsets[parts.length]!);
      for (const [i, p] of parts.entries()) utf8.set(p, offsets[i]!);
      sections['keys.utf8'] = utf8;
      sections['keys.offsets'] = offsets;
    }
  }
  if (index.labels) {
    items['labels'] = true;
    sections['labels.indptr'] = index.labels.indptr;
    sections['labels.values'] = index.labels.labels;
  }
  if (index.removed.count > 0) {
    items['removed'] = index.removed.count;
    sections['removed.bits'] = index.removed.bits;
  }
  if (index.order) {
    items['order'] = true;
    sections['order.ids'] = index.order.itemIds;
  }
  if (Object.keys(items).length > 0) header['items'] = items;
}

function decodeItems(
  h: ContainerHeader,
  section: (name: string) => SectionArray,
  n: number,
): { keys: ItemKeys | null; labels: ItemLabels | null; removed: Tombstones | null; order: ItemOrder | null } {
  const items = h['items'] as Record<string, unknown> | undefined;
  if (items === undefined) return { keys: null, labels: null, removed: null, order: null };
  const removed = items['removed'] === undefined ? null : Tombstones.fromBits(section('removed.bits') as Uint32Array, n);
  if (removed !== null && removed.count !== items['removed']) fail('CORRUPT_FILE', 'the removed-items section does not match its count');
  const hole = (id: number) => removed?.has(id) ?? false;
  let keys: ItemKeys | null = null;
  try {
    if (items['keys'] === 'number') {
      const bytes = section('keys.f64') as Uint8Array;
      if (bytes.length !== n * 8) fail('CORRUPT_FILE', 'the keys section does not match the item count');
      keys = ItemKeys.from(Array.from(new Float64Array(bytes.slice().buffer)), n, hole);
    } else if (items['keys'] === 'string') {
      const utf8 = section('keys.utf8') as Uint8Array;
      const offsets = section('keys.offsets') as Uint32Array;
      if (offsets.length !== n + 1 || offsets[n] !== utf8.length) fail('CORRUPT_FILE', 'the keys section does not match the item count');
      const decoder = new TextDecoder('utf-8', { fatal: true });
      keys = ItemKeys.from(
        Array.from({ length: n }, (_, i) => decoder.decode(utf8.subarray(offsets[i]!, offsets[i + 1]!))),
        n,
        hole,
      );
    }
  } catch (e) {
    if (e instanceof WebannoloError && e.code === 'CORRUPT_FILE') throw e;
    fail('CORRUPT_FILE', `the index file's keys are invalid: ${(e as Error).message}`);
  }
  let labels: ItemLabels | null = null;
  if (items['labels'] === true) {
    const indptr = section('labels.indptr') as Uint32Array;
    if (indptr.length !== n + 1) fail('CORRUPT_FILE', 'the labels section does not match the item count');
    labels = new ItemLabels(indptr.slice(), (section('labels.values') as Uint32Array).slice());
  }
  let order: ItemOrder | null = null;
  if (items['order'] === true) {
    const ids = section('order.ids') as Uint32Array;
    if (!(ids instanceof Uint32Array) || ids.length !== n) fail('CORRUPT_FILE', 'the item order section does not match the item count');
    order = ItemOrder.from(ids.slice());
  }
  return { keys, labels, removed, order };
}

/** Upper-level link lists of all nodes that have them, concatenated in node order. */
function flattenUpper(g: HnswGraph): Uint32Array {
  let total = 0;
  for (let i = 0; i < g.n; i++) total += g.upper[i]?.length ?? 0;
  const out = new Uint32Array(total);
  let at = 0;
  for (let i = 0; i < g.n; i++) {
    const u = g.upper[i];
    if (u) {
      out.set(u, at);
      at += u.length;
    }
  }
  return out;
}

function restoreGraph(gp: Record<string, number>, levels: Uint8Array, level0: Uint32Array, upper: Uint32Array): HnswGraph {
  const { n, m, m0, entryPoint, maxLevel } = gp as { n: number; m: number; m0: number; entryPoint: number; maxLevel: number };
  if (![n, m, m0].every((v) => Number.isInteger(v) && v > 0)) fail('CORRUPT_FILE', 'index header has invalid graph parameters');
  if (levels.length !== n || level0.length !== n * (m0 + 1)) fail('CORRUPT_FILE', 'graph sections do not match the graph size');
  // -1: every item was removed (a living index emptied, not yet refilled).
  const empty = entryPoint === -1 && maxLevel === -1;
  if (!empty && (!(entryPoint >= 0 && entryPoint < n) || levels[entryPoint] !== maxLevel))
    fail('CORRUPT_FILE', 'graph entry point is invalid');
  let words = 0;
  for (let i = 0; i < n; i++) words += levels[i]! * (m + 1);
  if (words !== upper.length) fail('CORRUPT_FILE', `upper-level graph section has ${upper.length} words, the node levels need ${words}`);
  const g = new HnswGraph(m, levels, m0);
  g.level0.set(level0);
  checkLinks(g.level0, n, m0, n);
  // Node order in the file is the pool's order: one copy, then every node's lists are checked.
  g.upperPool.set(upper);
  for (let i = 0; i < n; i++) if (levels[i]! > 0) checkLinks(g.upper[i]!, levels[i]!, m, n);
  g.entryPoint = entryPoint;
  g.maxLevel = maxLevel;
  return g;
}

/** Every link list must have a sane count and ids inside the graph: never trust a file. */
function checkLinks(arr: Uint32Array, lists: number, max: number, n: number): void {
  const stride = max + 1;
  for (let i = 0; i < lists; i++) {
    const count = arr[i * stride]!;
    if (count > max) fail('CORRUPT_FILE', 'graph has a link list longer than its maximum');
    for (let j = 1; j <= count; j++) if (arr[i * stride + j]! >= n) fail('CORRUPT_FILE', 'graph links to a node that does not exist');
  }
}

import { fail, WebannoloError } from '../errors.js';
import {
  type ContainerHeader,
  type ContainerPieces,
  decodeContainer,
  encodeContainer,
  layoutContainer,
  readContainerHeader,
  type SectionArray,
} from '../io/container.js';
import { typedSection } from '../quant/codec-checks.js';
import { storeCodec } from '../quant/registry.js';
import { MemoryLimitError } from '../quant/wasm/arena.js';
import type { Metric, VectorStore } from '../types.js';
import { FlatIndex } from './flat.js';
import { HnswGraph } from './hnsw/graph/graph.js';
import { HnswIndex } from './hnsw/hnsw-index.js';
import { checkIndexHeader, type GraphHeader, type IndexHeader, type ItemsHeader } from './index-header.js';
import { ItemKeys } from './items/item-keys.js';
import { ItemLabels } from './items/item-labels.js';
import { ItemOrder } from './items/item-order.js';
import { Tombstones } from './items/tombstones.js';

/** An index an index file can hold. */
export type AnyIndex = HnswIndex | FlatIndex;

/** Options of serializeIndex. */
export interface SerializeOptions {
  /**
   * Application data kept in the file's header under `annotations` (JSON values only; readers
   * of the index ignore it): say the position in a write-ahead log the index holds everything
   * up to. readIndexHeader and describeIndexFile return it.
   */
  annotations?: Record<string, unknown>;
}

/** Serializes an index (graph, store and parameters) into one self-describing buffer. */
export function serializeIndex(index: AnyIndex, options: SerializeOptions = {}): Uint8Array {
  const { header, sections, version } = indexContents(index, options);
  return encodeContainer(header, sections, version);
}

/**
 * The bytes serializeIndex would return, as pieces in file order (all but the trailing CRC)
 * that view the index's own memory instead of copying it: for writers that stream a large
 * index out (browser storage). The views are read as they are written, so the index must
 * not change until the writer is done.
 */
export function serializeIndexPieces(index: AnyIndex, options: SerializeOptions = {}): ContainerPieces {
  const { header, sections, version } = indexContents(index, options);
  return layoutContainer(header, sections, version);
}

function indexContents(
  index: AnyIndex,
  options: SerializeOptions,
): { header: Record<string, unknown>; sections: Record<string, SectionArray>; version: number } {
  const sections: Record<string, SectionArray> = {};
  const store = encodeStore(index.store, 'store', sections);
  const header: Record<string, unknown> = {
    library: 'webannolo',
    index: index instanceof HnswIndex ? 'hnsw' : 'flat',
    metric: index.metric,
    store,
  };
  if (options.annotations !== undefined) header['annotations'] = checkedAnnotations(options.annotations);
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
  return { header, sections, version: 'order.ids' in sections ? 3 : 2 };
}

/** Annotations must survive a JSON round trip unchanged: a plain object of JSON values. */
function checkedAnnotations(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    fail('INVALID_ARGUMENT', 'annotations must be a plain object of JSON values');
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    fail('INVALID_ARGUMENT', `annotations must be JSON values: ${(e as Error).message}`);
  }
  return JSON.parse(text) as Record<string, unknown>;
}

function encodeStore(store: VectorStore, prefix: string, sections: Record<string, SectionArray>): Record<string, unknown> {
  const { params, sections: own } = storeCodec(store.kind).encode(store);
  for (const [name, a] of Object.entries(own)) sections[`${prefix}.${name}`] = a;
  return { kind: store.kind, ...params };
}

/** Reads an index written by serializeIndex; damaged, foreign, malformed or newer files fail clearly. */
export function deserializeIndex(bytes: Uint8Array | ArrayBuffer): AnyIndex {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const file = decodeContainer(u8);
  return decodeIndexFromSections(checkIndexHeader(file, u8.length), (name) => file.section(name));
}

export interface DecodeIndexOptions {
  /**
   * Makes the re-ranking store instead of decoding its `rerank.*` sections (which are then
   * never requested), e.g. a store that reads the vectors from disk. Gets the header's
   * description of the store.
   */
  rerankStore?: (params: Record<string, unknown>, metric: Metric) => VectorStore;
}

/** Codes a file's own problems report as they are; any other refusal of its contents means the file is malformed. */
const FILE_CODES: readonly string[] = ['CORRUPT_FILE', 'TRUNCATED_FILE', 'FOREIGN_FILE', 'UNSUPPORTED_VERSION', 'UNSUPPORTED_FORMAT'];

/**
 * Runs one part of decoding; a WebannoloError from the constructors it calls (a non-finite
 * vector, a bad CSR row, a duplicate key, sizes that disagree) becomes CORRUPT_FILE naming
 * the part: from a file these are damage, not a caller's mistake.
 */
function decoding<T>(part: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    // Too large for this platform's WebAssembly memory is not damage: it says so as it is.
    if (e instanceof WebannoloError && !(e instanceof MemoryLimitError) && !FILE_CODES.includes(e.code))
      fail('CORRUPT_FILE', `index file ${part} is invalid: ${e.message}`);
    throw e;
  }
}

/**
 * Builds an index from a header checked by checkIndexHeader and a reader of its sections by
 * name: the core of deserializeIndex, for readers that do not hold the whole file in one
 * buffer. Checking the file's length and CRC is the caller's job.
 */
export function decodeIndexFromSections(
  h: IndexHeader,
  section: (name: string) => SectionArray,
  options: DecodeIndexOptions = {},
): AnyIndex {
  const { metric } = h;
  const store = decoding('store', () => storeCodec(h.store.kind).decode(h.store.params, (name) => section(`store.${name}`), metric));
  if (h.index === 'flat' || h.graph === null) return new FlatIndex(store);
  const gp = h.graph;
  const graph = decoding('graph', () =>
    restoreGraph(
      gp,
      typedSection(section('graph.levels'), Uint8Array, 'graph.levels'),
      typedSection(section('graph.level0'), Uint32Array, 'graph.level0'),
      typedSection(section('graph.upper'), Uint32Array, 'graph.upper'),
    ),
  );
  const rp = h.rerank;
  let rerank: VectorStore | null = null;
  if (rp && options.rerankStore) rerank = decoding('re-ranking store', () => options.rerankStore!(rp.params, metric));
  else if (rp)
    rerank = decoding('re-ranking store', () => storeCodec(rp.kind).decode(rp.params, (name) => section(`rerank.${name}`), metric));
  const items = decoding('items', () => decodeItems(h.items, section, graph.n));
  if (items.removed?.has(graph.entryPoint)) fail('CORRUPT_FILE', 'index file graph enters at a removed item');
  return decoding('index', () => new HnswIndex(graph, store, { m: gp.m, efConstruction: gp.efConstruction, seed: gp.seed }, rerank, items));
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
  items: ItemsHeader,
  section: (name: string) => SectionArray,
  n: number,
): { keys: ItemKeys | null; labels: ItemLabels | null; removed: Tombstones | null; order: ItemOrder | null } {
  const removed = items.removed === 0 ? null : Tombstones.fromBits(typedSection(section('removed.bits'), Uint32Array, 'removed.bits'), n);
  if (removed !== null && removed.count !== items.removed)
    fail('CORRUPT_FILE', `the removed-items section marks ${removed.count} slots, its header says ${items.removed}`);
  const hole = (id: number) => removed?.has(id) ?? false;
  let keys: ItemKeys | null = null;
  if (items.keys === 'number') {
    const bytes = typedSection(section('keys.f64'), Uint8Array, 'keys.f64');
    if (bytes.length !== n * 8) fail('CORRUPT_FILE', 'the keys section does not match the item count');
    keys = ItemKeys.from(Array.from(new Float64Array(bytes.slice().buffer)), n, hole);
  } else if (items.keys === 'string') {
    const utf8 = typedSection(section('keys.utf8'), Uint8Array, 'keys.utf8');
    const offsets = typedSection(section('keys.offsets'), Uint32Array, 'keys.offsets');
    if (offsets.length !== n + 1 || offsets[0] !== 0 || offsets[n] !== utf8.length)
      fail('CORRUPT_FILE', 'the keys section does not match the item count');
    for (let i = 0; i < n; i++) if (offsets[i + 1]! < offsets[i]!) fail('CORRUPT_FILE', `the key offsets decrease at item ${i}`);
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const text = (i: number) => {
      try {
        return decoder.decode(utf8.subarray(offsets[i]!, offsets[i + 1]!));
      } catch {
        return fail('CORRUPT_FILE', `the key of item ${i} is not valid UTF-8`);
      }
    };
    keys = ItemKeys.from(
      Array.from({ length: n }, (_, i) => text(i)),
      n,
      hole,
      'string',
    );
  }
  let labels: ItemLabels | null = null;
  if (items.labels) {
    const indptr = typedSection(section('labels.indptr'), Uint32Array, 'labels.indptr');
    if (indptr.length !== n + 1) fail('CORRUPT_FILE', 'the labels section does not match the item count');
    labels = new ItemLabels(indptr.slice(), typedSection(section('labels.values'), Uint32Array, 'labels.values').slice());
  }
  let order: ItemOrder | null = null;
  if (items.order) {
    const ids = typedSection(section('order.ids'), Uint32Array, 'order.ids');
    if (ids.length !== n) fail('CORRUPT_FILE', 'the item order section does not match the item count');
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

function restoreGraph(gp: GraphHeader, levels: Uint8Array, level0: Uint32Array, upper: Uint32Array): HnswGraph {
  const { n, m, m0, entryPoint, maxLevel } = gp;
  if (levels.length !== n || level0.length !== n * (m0 + 1)) fail('CORRUPT_FILE', 'graph sections do not match the graph size');
  if (entryPoint !== -1 && levels[entryPoint] !== maxLevel)
    fail('CORRUPT_FILE', `graph entry point ${entryPoint} is on level ${levels[entryPoint]}, the header says ${maxLevel}`);
  let words = 0;
  for (let i = 0; i < n; i++) words += levels[i]! * (m + 1);
  if (words !== upper.length) fail('CORRUPT_FILE', `upper-level graph section has ${upper.length} words, the node levels need ${words}`);
  const g = new HnswGraph(m, levels, m0, undefined, { level0, pool: upper });
  if (g.level0.buffer !== level0.buffer) g.level0.set(level0);
  checkLinks(g.level0, n, m0, n);
  // Node order in the file is the pool's order: one copy, then every node's lists are checked.
  if (g.upperPool.buffer !== upper.buffer) g.upperPool.set(upper);
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

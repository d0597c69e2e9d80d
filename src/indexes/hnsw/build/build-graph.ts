import { checkInteger, fail } from '../../../errors.js';
import type { VectorStore } from '../../../types.js';
import { Rng } from '../../../util/rng.js';
import { yieldToEventLoop } from '../../../util/yield.js';
import { HnswGraph } from '../graph/graph.js';
import { LayerSearcher, level0WidthFor } from '../search/layer-search.js';
import { Linker } from './linker.js';

/** The graph parameters of an HNSW build; each has a default. */
export interface HnswBuildParams {
  /** Links per node on upper levels (level 0 gets 2m). Default 16. */
  m?: number;
  /** Beam width while inserting. Default 200. */
  efConstruction?: number;
  /** Seed of the level draws: the same seed and data give the same graph. Default 1. */
  seed?: number;
  /**
   * Refill link lists the heuristic left short with the best pruned candidates (the HNSW
   * paper's keepPrunedConnections). Default false (hnswlib's behaviour).
   */
  keepPruned?: boolean;
  /** Called about every 1% of insertions with (inserted, total). */
  onProgress?: (done: number, total: number) => void;
}

export const DEFAULT_BUILD = { m: 16, efConstruction: 200, seed: 1 } as const;

const MAX_LEVEL = 31;

/**
 * The level of every node, drawn in id order from `seed` (the HNSW paper's exponential
 * distribution with mL = 1/ln m). Drawn up front so the graph can size its upper-level pool
 * once, and so serial and parallel builds give every node the same level.
 */
export function drawLevels(n: number, m: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const levelMult = 1 / Math.log(m);
  const levels = new Uint8Array(n);
  for (let i = 0; i < n; i++) levels[i] = Math.min(MAX_LEVEL, Math.floor(-Math.log(rng.nextOpenUnit()) * levelMult));
  return levels;
}

/** Checks and fills in the build parameters. */
export function resolveBuildParams(params: HnswBuildParams): { m: number; efConstruction: number; seed: number; keepPruned: boolean } {
  return {
    m: checkInteger('m', params.m ?? DEFAULT_BUILD.m, 2, 255),
    efConstruction: checkInteger('efConstruction', params.efConstruction ?? DEFAULT_BUILD.efConstruction, 1),
    seed: checkInteger('seed', params.seed ?? DEFAULT_BUILD.seed, 0, 0xffffffff),
    keepPruned: params.keepPruned ?? false,
  };
}

/**
 * Builds an HNSW graph over `store` (normally plain full-precision vectors) by inserting items
 * in id order, with hnswlib's neighbour-selection heuristic on every level.
 */
export function buildGraph(store: VectorStore, params: HnswBuildParams = {}): HnswGraph {
  const { m, efConstruction, seed } = resolveBuildParams(params);
  const n = store.size;
  const builder = new GraphBuilder(store, new HnswGraph(m, drawLevels(n, m, seed)), efConstruction, params.keepPruned ?? false, true);
  const step = Math.max(1, Math.floor(n / 100));
  for (let i = 0; i < n; i++) {
    builder.insert(i);
    if (params.onProgress && ((i + 1) % step === 0 || i + 1 === n)) params.onProgress(i + 1, n);
  }
  return builder.graph;
}

/**
 * buildGraph that yields to the event loop every 20 ms (so progress can be drawn and a caller
 * stays responsive) and stops with CANCELLED when `signal` aborts.
 */
export async function buildGraphSerialAsync(store: VectorStore, params: HnswBuildParams & { signal?: AbortSignal }): Promise<HnswGraph> {
  const { m, efConstruction, seed, keepPruned } = resolveBuildParams(params);
  const n = store.size;
  const builder = new GraphBuilder(store, new HnswGraph(m, drawLevels(n, m, seed)), efConstruction, keepPruned, true);
  const step = Math.max(1, Math.floor(n / 100));
  let sliceStart = performance.now();
  for (let i = 0; i < n; i++) {
    builder.insert(i);
    if (params.onProgress && ((i + 1) % step === 0 || i + 1 === n)) params.onProgress(i + 1, n);
    if (performance.now() - sliceStart > 20) {
      await yieldToEventLoop();
      if (params.signal?.aborted) fail('CANCELLED', 'the build was cancelled');
      sliceStart = performance.now();
    }
  }
  return builder.graph;
}

/**
 * Links nodes `ids` (unlinked, their vectors in `store`) into an existing graph, one at a time
 * in the given order (a living index's add). The graph's levels for them must be drawn.
 */
export function insertNodes(
  store: VectorStore,
  graph: HnswGraph,
  ids: readonly number[],
  efConstruction: number,
  keepPruned = false,
): void {
  // No diverse-prefix tracking (see Linker): it needs a word per node, too much for a small add.
  const builder = new GraphBuilder(store, graph, efConstruction, keepPruned, false);
  for (const id of ids) builder.insert(id);
}

/**
 * insertNodes that yields to the event loop every 20 ms (searches and other calls run in
 * between; the graph is then a living index's private copy) and stops with CANCELLED as soon
 * as `signal` aborts.
 */
export async function insertNodesAsync(
  store: VectorStore,
  graph: HnswGraph,
  ids: readonly number[],
  efConstruction: number,
  signal?: AbortSignal,
): Promise<void> {
  const builder = new GraphBuilder(store, graph, efConstruction, false, false);
  let sliceStart = performance.now();
  for (const id of ids) {
    if (performance.now() - sliceStart > 20) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
    if (signal?.aborted) fail('CANCELLED', 'the add was cancelled');
    builder.insert(id);
  }
}

/** Inserts nodes one at a time, in id order (hnswlib's algorithm). */
class GraphBuilder {
  private readonly searcher: LayerSearcher;
  private readonly linker: Linker;
  // Scratch for the beam's candidates, sorted.
  private candIds: Uint32Array;
  private candDists: Float64Array;

  constructor(
    private readonly store: VectorStore,
    readonly graph: HnswGraph,
    private readonly efConstruction: number,
    keepPruned: boolean,
    trackDiversePrefix: boolean,
  ) {
    this.searcher = new LayerSearcher(store.size, this.graph.m0, level0WidthFor(store));
    this.linker = new Linker(store, graph, keepPruned, trackDiversePrefix);
    const cap = Math.max(efConstruction, this.graph.m0) + 1;
    this.candIds = new Uint32Array(cap);
    this.candDists = new Float64Array(cap);
  }

  insert(node: number): void {
    const g = this.graph;
    const level = g.levels[node]!;
    if (g.entryPoint < 0) {
      g.entryPoint = node;
      g.maxLevel = level;
      return;
    }
    const ev = this.store.itemEvaluator(node);
    let cur = g.entryPoint;
    let curDist = checkDistance(ev.distance(cur), node, cur);
    for (let l = g.maxLevel; l > level; l--) {
      const r = this.searcher.greedy(g, ev, cur, curDist, l);
      cur = r.node;
      curDist = r.dist;
    }
    for (let l = Math.min(level, g.maxLevel); l >= 0; l--) {
      const top = this.searcher.beam(g, ev, cur, curDist, this.efConstruction, l);
      if (top.size > this.candIds.length) this.growCandidates(top.size);
      const count = top.drainSorted(this.candIds, this.candDists);
      checkCandidates(this.candDists, count, node, this.candIds);
      cur = this.candIds[0]!;
      curDist = this.candDists[0]!;
      const selected = this.linker.select(this.candIds, this.candDists, count, g.m);
      this.linker.setLinks(node, l, this.linker.selIds, selected, this.linker.selDiverse);
      // Copy before connect(): pruning reuses selIds.
      const chosen = this.linker.selIds.slice(0, selected);
      for (let i = 0; i < selected; i++) this.linker.connect(chosen[i]!, node, l);
    }
    ev.release?.();
    if (level > g.maxLevel) {
      g.entryPoint = node;
      g.maxLevel = level;
    }
  }

  private growCandidates(size: number): void {
    this.candIds = new Uint32Array(size + 1);
    this.candDists = new Float64Array(size + 1);
  }
}

/**
 * Distances that are not finite numbers would silently wreck the graph: NaN (a vector changed
 * to hold NaN after its dataset was checked) orders nothing, and an infinite one (finite but
 * huge vectors whose squares or products overflow float32) ties with every other. Stop the
 * build or change with the item's id instead (a living index's change then undoes itself).
 */
export function checkDistance(d: number, node: number, other: number): number {
  if (!Number.isFinite(d)) {
    const what = Number.isNaN(d)
      ? 'is not a number (the vectors hold NaN or infinities)'
      : `is not a number it can use: it overflows to ${d} (the vectors are too large for float32 arithmetic: scale them down)`;
    fail('NON_FINITE', `item ${node}: its distance to item ${other} ${what}`);
  }
  return d;
}

/** checkDistance over a beam's sorted candidates (an overflow shows at either end, NaN anywhere). */
export function checkCandidates(dists: Float64Array, count: number, node: number, ids: Uint32Array): void {
  for (let i = 0; i < count; i++) if (!Number.isFinite(dists[i]!)) checkDistance(dists[i]!, node, ids[i]!);
}

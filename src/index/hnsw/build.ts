import { checkInteger } from '../../errors.js';
import type { VectorStore } from '../../types.js';
import { Rng } from '../../util/rng.js';
import { HnswGraph } from './graph.js';
import { LayerSearcher } from './search-layer.js';

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
 * Builds an HNSW graph over `store` (normally plain full-precision vectors) by inserting items
 * in id order, with hnswlib's neighbour-selection heuristic on every level.
 */
export function buildGraph(store: VectorStore, params: HnswBuildParams = {}): HnswGraph {
  const m = checkInteger('m', params.m ?? DEFAULT_BUILD.m, 2, 255);
  const efConstruction = checkInteger('efConstruction', params.efConstruction ?? DEFAULT_BUILD.efConstruction, 1);
  const seed = checkInteger('seed', params.seed ?? DEFAULT_BUILD.seed, 0, 0xffffffff);
  const builder = new GraphBuilder(store, m, efConstruction, seed, params.keepPruned ?? false);
  const n = store.size;
  const step = Math.max(1, Math.floor(n / 100));
  for (let i = 0; i < n; i++) {
    builder.insert(i);
    if (params.onProgress && ((i + 1) % step === 0 || i + 1 === n)) params.onProgress(i + 1, n);
  }
  return builder.graph;
}

class GraphBuilder {
  readonly graph: HnswGraph;
  private readonly searcher: LayerSearcher;
  private readonly rng: Rng;
  private readonly levelMult: number;
  // Scratch for candidate lists (beam output, pruning input) and the heuristic's selection.
  private candIds: Uint32Array;
  private candDists: Float64Array;
  private readonly selIds: Uint32Array;

  constructor(
    private readonly store: VectorStore,
    m: number,
    private readonly efConstruction: number,
    seed: number,
    private readonly keepPruned: boolean,
  ) {
    this.graph = new HnswGraph(store.size, m);
    this.searcher = new LayerSearcher(store.size, this.graph.m0);
    this.rng = new Rng(seed);
    this.levelMult = 1 / Math.log(m);
    const cap = Math.max(efConstruction, this.graph.m0) + 1;
    this.candIds = new Uint32Array(cap);
    this.candDists = new Float64Array(cap);
    this.selIds = new Uint32Array(this.graph.m0 + 1);
  }

  insert(node: number): void {
    const g = this.graph;
    const level = Math.min(MAX_LEVEL, Math.floor(-Math.log(this.rng.nextOpenUnit()) * this.levelMult));
    g.setLevel(node, level);
    if (g.entryPoint < 0) {
      g.entryPoint = node;
      g.maxLevel = level;
      return;
    }
    const ev = this.store.itemEvaluator(node);
    let cur = g.entryPoint;
    let curDist = ev.distance(cur);
    for (let l = g.maxLevel; l > level; l--) {
      const r = this.searcher.greedy(g, ev, cur, curDist, l);
      cur = r.node;
      curDist = r.dist;
    }
    for (let l = Math.min(level, g.maxLevel); l >= 0; l--) {
      const top = this.searcher.beam(g, ev, cur, curDist, this.efConstruction, l);
      if (top.size > this.candIds.length) this.growCandidates(top.size);
      const count = top.drainSorted(this.candIds, this.candDists);
      // The closest candidate enters the next level down; read it before connect() reuses
      // the candidate buffers.
      cur = this.candIds[0]!;
      curDist = this.candDists[0]!;
      const selected = this.selectNeighbours(this.candIds, this.candDists, count, g.m);
      g.setLinks(node, l, this.selIds, selected);
      // Copy before connect(): pruning reuses selIds.
      const chosen = this.selIds.slice(0, selected);
      for (let i = 0; i < selected; i++) this.connect(chosen[i]!, node, l);
    }
    ev.release?.();
    if (level > g.maxLevel) {
      g.entryPoint = node;
      g.maxLevel = level;
    }
  }

  /**
   * hnswlib's heuristic: walk candidates best first and keep one only if it is closer to the
   * query than to every neighbour kept so far; this spreads links across directions and keeps
   * the graph navigable. Candidates must be sorted ascending. Writes to selIds; returns count.
   */
  private selectNeighbours(ids: Uint32Array, dists: Float64Array, count: number, max: number): number {
    const sel = this.selIds;
    if (count <= max) {
      for (let i = 0; i < count; i++) sel[i] = ids[i]!;
      return count;
    }
    let kept = 0;
    for (let i = 0; i < count && kept < max; i++) {
      const c = ids[i]!;
      const dc = dists[i]!;
      let good = true;
      if (kept > 0) {
        // One evaluator per candidate: for sparse stores it scatters c once, then each kept
        // neighbour costs a gather (much cheaper than merging two sorted id lists).
        const ev = this.store.itemEvaluator(c);
        for (let j = 0; j < kept; j++) {
          if (ev.distance(sel[j]!) < dc) {
            good = false;
            break;
          }
        }
        ev.release?.();
      }
      if (good) sel[kept++] = c;
    }
    if (this.keepPruned) {
      // Refill up to `max` with the best candidates the heuristic dropped (the HNSW paper's
      // keepPrunedConnections): more links, better recall on hard (out-of-distribution) queries.
      for (let i = 0; i < count && kept < max; i++) {
        const c = ids[i]!;
        let taken = false;
        for (let j = 0; j < kept; j++) if (sel[j] === c) { taken = true; break; }
        if (!taken) sel[kept++] = c;
      }
    }
    return kept;
  }

  /** Adds `node` to the links of `target` at `level`, pruning with the heuristic when full. */
  private connect(target: number, node: number, level: number): void {
    const g = this.graph;
    const arr = g.linkArray(target, level);
    const base = g.linkBase(target, level);
    const count = arr[base]!;
    const max = g.maxLinks(level);
    if (count < max) {
      arr[base + 1 + count] = node;
      arr[base] = count + 1;
      return;
    }
    const ids = this.candIds;
    const dists = this.candDists;
    for (let i = 0; i < count; i++) ids[i] = arr[base + 1 + i]!;
    ids[count] = node;
    const ev = this.store.itemEvaluator(target);
    ev.distances(ids, count + 1, dists);
    ev.release?.();
    sortByDistance(ids, dists, count + 1);
    const kept = this.selectNeighbours(ids, dists, count + 1, max);
    g.setLinks(target, level, this.selIds, kept);
  }

  private growCandidates(size: number): void {
    this.candIds = new Uint32Array(size + 1);
    this.candDists = new Float64Array(size + 1);
  }
}

/** Insertion sort of small parallel arrays by distance, then id. */
function sortByDistance(ids: Uint32Array, dists: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) {
    const id = ids[i]!;
    const d = dists[i]!;
    let j = i - 1;
    while (j >= 0 && (dists[j]! > d || (dists[j] === d && ids[j]! > id))) {
      ids[j + 1] = ids[j]!;
      dists[j + 1] = dists[j]!;
      j--;
    }
    ids[j + 1] = id;
    dists[j + 1] = d;
  }
}

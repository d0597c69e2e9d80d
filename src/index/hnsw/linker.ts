import type { VectorStore } from '../../types.js';
import type { HnswGraph } from './graph.js';

/**
 * The link-writing half of HNSW insertion, shared by the serial builder and the parallel
 * batch builder: hnswlib's neighbour-selection heuristic, and adding a reverse link with
 * pruning when the list is full.
 */
export class Linker {
  /** The heuristic's selection (written by select). */
  readonly selIds: Uint32Array;
  private pruneIds: Uint32Array;
  private pruneDists: Float64Array;

  constructor(
    private readonly store: VectorStore,
    private readonly graph: HnswGraph,
    private readonly keepPruned: boolean,
  ) {
    this.selIds = new Uint32Array(graph.m0 + 1);
    this.pruneIds = new Uint32Array(graph.m0 + 1);
    this.pruneDists = new Float64Array(graph.m0 + 1);
  }

  /**
   * hnswlib's heuristic: walk candidates best first and keep one only if it is closer to the
   * query than to every neighbour kept so far; this spreads links across directions and keeps
   * the graph navigable. Candidates must be sorted ascending. Writes to selIds; returns count.
   */
  select(ids: Uint32Array, dists: Float64Array, count: number, max: number): number {
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
  connect(target: number, node: number, level: number): void {
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
    const ids = this.pruneIds;
    const dists = this.pruneDists;
    for (let i = 0; i < count; i++) ids[i] = arr[base + 1 + i]!;
    ids[count] = node;
    const ev = this.store.itemEvaluator(target);
    ev.distances(ids, count + 1, dists);
    ev.release?.();
    sortByDistance(ids, dists, count + 1);
    const kept = this.select(ids, dists, count + 1, max);
    g.setLinks(target, level, this.selIds, kept);
  }
}

/** Insertion sort of small parallel arrays by distance, then id. */
export function sortByDistance(ids: Uint32Array, dists: Float64Array, n: number): void {
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

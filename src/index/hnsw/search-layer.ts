import type { QueryEvaluator } from '../../types.js';
import { MaxHeap, MinHeap } from '../../util/heap.js';
import { visitedFor, type SearchVisited } from '../../util/visited.js';
import type { HnswGraph } from './graph.js';
import { isAllowed } from '../filter.js';

/**
 * Distance-adaptive early termination (after Al-Jazzazi et al., as kANNolo ships it): the beam
 * also stops once its best unexpanded candidate is worse than the k-th best result found by
 * more than lambda x |that distance|, so easy queries stop well before ef is exhausted while
 * hard ones keep going (ef stays the cap).
 */
export interface EarlyStop {
  readonly k: number;
  readonly lambda: number;
}

/**
 * Scratch state for one search at a time: heaps, visited set and gather buffers, reused
 * across searches so the hot path allocates nothing.
 */
export class LayerSearcher {
  readonly candidates = new MinHeap(256);
  readonly top = new MaxHeap(256);
  /** The k best results so far, kept only while an early stop is in force (stopK > 0). */
  private readonly kBest = new MaxHeap(16);
  private stopK = 0;
  /** Where the link prefetch's loads end up, so that the compiler keeps them. */
  touched = 0;
  readonly visited: SearchVisited;
  private gatherIds: Uint32Array;
  private gatherDists: Float64Array;

  constructor(n: number, maxLinks: number) {
    this.visited = visitedFor(n);
    this.gatherIds = new Uint32Array(maxLinks);
    this.gatherDists = new Float64Array(maxLinks);
  }

  /** Greedy walk on one upper level: moves to the best neighbour until none improves. */
  greedy(graph: HnswGraph, ev: QueryEvaluator, start: number, startDist: number, level: number): { node: number; dist: number } {
    let cur = start;
    let curDist = startDist;
    const ids = this.gatherIds;
    const dists = this.gatherDists;
    for (let changed = true; changed; ) {
      changed = false;
      const arr = graph.linkArray(cur, level);
      const base = graph.linkBase(cur, level);
      const count = arr[base]!;
      for (let i = 0; i < count; i++) ids[i] = arr[base + 1 + i]!;
      ev.distances(ids, count, dists);
      for (let i = 0; i < count; i++) {
        if (dists[i]! < curDist) {
          curDist = dists[i]!;
          cur = ids[i]!;
          changed = true;
        }
      }
    }
    return { node: cur, dist: curDist };
  }

  /** Greedy descent through the upper levels from the entry point: level 0's entry and its distance. */
  descend(graph: HnswGraph, ev: QueryEvaluator): { node: number; dist: number } {
    let node = graph.entryPoint;
    let dist = ev.distance(node);
    for (let l = graph.maxLevel; l > 0; l--) ({ node, dist } = this.greedy(graph, ev, node, dist, l));
    return { node, dist };
  }

  /** Empties the heaps and the visited set, then queues `ep` (a result unless `keep` rules it out). */
  start(graph: HnswGraph, ep: number, epDist: number, keep: Uint32Array | null): void {
    this.candidates.clear();
    this.top.clear();
    this.visited.reset(graph.n);
    this.visited.testAndSet(ep);
    this.candidates.push(ep, epDist);
    if (keep === null || isAllowed(keep, ep)) this.top.push(ep, epDist);
  }

  /**
   * Beam search on `level` from entry `ep` with beam width ef. On return `top` holds the (up
   * to) ef best items found, as a max-heap. With `keep` (a bitset over ids) the walk goes
   * through every node but only kept ones become results: hnswlib's filtered search.
   */
  beam(
    graph: HnswGraph, ev: QueryEvaluator, ep: number, epDist: number, ef: number, level: number,
    keep: Uint32Array | null = null, stop: EarlyStop | null = null,
  ): MaxHeap {
    const { candidates, top, visited, kBest } = this;
    const ids = this.gatherIds;
    const dists = this.gatherDists;
    this.start(graph, ep, epDist, keep);
    const stopK = (this.stopK = stop === null ? 0 : stop.k);
    const lambda = stop === null ? 0 : stop.lambda;
    kBest.clear();
    if (stopK > 0 && top.size > 0) kBest.push(ep, epDist);
    const level0 = graph.level0;
    const stride0 = graph.m0 + 1;
    let touched = 0;
    while (candidates.size > 0) {
      const cDist = candidates.topDist();
      if (top.size >= ef && cDist > top.topDist()) break;
      if (kBest.size >= stopK && stopK > 0) {
        const kth = kBest.topDist();
        if (cDist > kth + lambda * Math.abs(kth)) break;
      }
      const c = candidates.topId();
      candidates.pop();
      // Touch the next candidate's level-0 links now, so that their cache miss overlaps this
      // expansion's distances (usually it is expanded next; JavaScript has no prefetch).
      if (level === 0 && candidates.size > 0) touched ^= level0[candidates.topId() * stride0]!;
      const arr = level === 0 ? level0 : graph.upper[c]!;
      const base = level === 0 ? c * stride0 : (level - 1) * (graph.m + 1);
      const count = arr[base]!;
      let fresh = 0;
      for (let i = 1; i <= count; i++) {
        const e = arr[base + i]!;
        if (!visited.testAndSet(e)) ids[fresh++] = e;
      }
      if (fresh > 0) this.admit(ev, ids, fresh, dists, ef, keep);
    }
    this.stopK = 0;
    this.touched = touched;
    return top;
  }

  /**
   * Scores ids[0..count) and queues those closer than the beam's worst (or all while it has
   * fewer than ef); only those `keep` allows (all, when null) become results.
   */
  admit(ev: QueryEvaluator, ids: Uint32Array, count: number, dists: Float64Array, ef: number, keep: Uint32Array | null): void {
    const { candidates, top } = this;
    ev.distances(ids, count, dists);
    for (let i = 0; i < count; i++) {
      const d = dists[i]!;
      if (top.size < ef || d < top.topDist()) {
        candidates.push(ids[i]!, d);
        if (keep !== null && !isAllowed(keep, ids[i]!)) continue;
        top.push(ids[i]!, d);
        if (top.size > ef) top.pop();
        if (this.stopK > 0 && (this.kBest.size < this.stopK || d < this.kBest.topDist())) {
          this.kBest.push(ids[i]!, d);
          if (this.kBest.size > this.stopK) this.kBest.pop();
        }
      }
    }
  }
}

import type { QueryEvaluator, VectorStore } from '../../../types.js';
import { MaxHeap, MinHeap } from '../../../util/heap.js';
import { type SearchVisited, visitedFor } from '../../../util/visited.js';
import { isAllowed } from '../../filter.js';
import type { HnswGraph } from '../graph/graph.js';

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
 * How many candidates a level-0 beam round expands together (see LayerSearcher.beam). A wider
 * round overlaps more cache misses but scores some candidates a narrower beam would have
 * skipped, so it pays only when the misses dominate: many items (graph and rows out of the
 * caches) with short rows (cheap to score): it gained on large 128-d sets and lost on small
 * ones and on 784-d rows (bench/README.md, "Figures behind tuned constants"). The rule reads only the item count and the
 * dimension (not bytes, which include a living index's spare room), so a saved and reloaded
 * index searches the same way; sparse stores (dimension = vocabulary) keep width 1.
 */
export function level0WidthFor(store: Pick<VectorStore, 'size' | 'dim'>): number {
  return store.size >= WIDE_ROUNDS_FROM && store.dim <= WIDE_ROUNDS_MAX_DIM ? 4 : 1;
}
export const WIDE_ROUNDS_FROM = 1 << 17;
export const WIDE_ROUNDS_MAX_DIM = 256;

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
  private lambda = 0;
  /** The candidates a level-0 round expands. */
  private readonly popped: Uint32Array;
  /** Where the link prefetch's loads end up, so that the compiler keeps them. */
  touched = 0;
  readonly visited: SearchVisited;
  private gatherIds: Uint32Array;
  private gatherDists: Float64Array;

  /** `level0Width`: candidates a level-0 round expands (level0WidthFor picks it). */
  constructor(
    n: number,
    maxLinks: number,
    readonly level0Width = 1,
  ) {
    if (!Number.isInteger(level0Width) || level0Width < 1)
      throw new RangeError(`level0Width must be a positive integer, got ${level0Width}`);
    this.visited = visitedFor(n);
    this.popped = new Uint32Array(level0Width);
    this.gatherIds = new Uint32Array(maxLinks * level0Width);
    this.gatherDists = new Float64Array(maxLinks * level0Width);
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
   *
   * Level 0 expands the best `level0Width` candidates per round and scores their fresh
   * neighbours in one call: once the graph and vectors outgrow the caches (1M x 128), each
   * expansion's link list and rows are cache misses, and a round's misses then overlap instead
   * of each waiting behind the previous expansion (the link read of the next candidate alone
   * was ~30 % of the beam's profile at 1M). Upper levels are small and keep width 1.
   */
  beam(
    graph: HnswGraph,
    ev: QueryEvaluator,
    ep: number,
    epDist: number,
    ef: number,
    level: number,
    keep: Uint32Array | null = null,
    stop: EarlyStop | null = null,
  ): MaxHeap {
    const { candidates, kBest, popped } = this;
    const ids = this.gatherIds;
    const dists = this.gatherDists;
    this.start(graph, ep, epDist, keep);
    this.stopK = stop === null ? 0 : stop.k;
    this.lambda = stop === null ? 0 : stop.lambda;
    kBest.clear();
    if (this.stopK > 0 && this.top.size > 0) kBest.push(ep, epDist);
    const level0 = graph.level0;
    const stride0 = graph.m0 + 1;
    const width = level === 0 ? this.level0Width : 1;
    let touched = 0;
    for (;;) {
      let round = 0;
      while (round < width && candidates.size > 0 && !this.exhausted(ef)) {
        popped[round++] = candidates.topId();
        candidates.pop();
      }
      if (round === 0) break;
      // Touch the level-0 links of the next round's likely candidates now, so that their
      // cache misses overlap this round's distances (JavaScript has no prefetch): the heap's
      // top levels (its first 2 x width - 1 slots) hold most of the next round's candidates
      // unless this round finds better ones (touching more measured slower).
      if (level === 0) touched ^= this.touchNextLinks(level0, stride0, 2 * width - 1);
      let fresh = 0;
      for (let r = 0; r < round; r++) {
        const c = popped[r]!;
        const arr = level === 0 ? level0 : graph.upper[c]!;
        const base = level === 0 ? c * stride0 : (level - 1) * (graph.m + 1);
        fresh = this.collectUnvisited(arr, base, fresh);
      }
      if (fresh > 0) this.admit(ev, ids, fresh, dists, ef, keep);
    }
    this.stopK = 0;
    this.touched = touched;
    return this.top;
  }

  /** Whether the beam stops: its best candidate cannot improve the ef results, or the early stop says so. */
  private exhausted(ef: number): boolean {
    const cDist = this.candidates.topDist();
    if (this.top.size >= ef && cDist > this.top.topDist()) return true;
    const stopK = this.stopK;
    if (stopK > 0 && this.kBest.size >= stopK) {
      const kth = this.kBest.topDist();
      if (cDist > kth + this.lambda * Math.abs(kth)) return true;
    }
    return false;
  }

  /** Loads the first link word of the candidates in the heap's first `slots` slots; returns them xor-ed so the loads stay live. */
  private touchNextLinks(level0: Uint32Array, stride0: number, slots: number): number {
    const cand = this.candidates;
    const heapIds = cand.ids;
    const n = Math.min(cand.size, slots);
    let t = 0;
    for (let i = 0; i < n; i++) t ^= level0[heapIds[i]! * stride0]!;
    return t;
  }

  /** Appends the unvisited links of the list at arr[base] (count first) to gatherIds from `fresh`, marking them. */
  private collectUnvisited(arr: Uint32Array, base: number, fresh: number): number {
    const ids = this.gatherIds;
    const visited = this.visited;
    const count = arr[base]!;
    for (let i = 1; i <= count; i++) {
      const e = arr[base + i]!;
      if (!visited.testAndSet(e)) ids[fresh++] = e;
    }
    return fresh;
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

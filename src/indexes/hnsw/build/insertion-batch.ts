import type { QueryEvaluator, VectorStore } from '../../../types.js';
import type { HnswGraph } from '../graph/graph.js';
import { LayerSearcher, level0WidthFor } from '../search/layer-search.js';
import { checkCandidates, checkDistance } from './build-graph.js';
import { Linker } from './linker.js';

/**
 * One batch of the parallel build, in two phases that worker threads share out (kANNolo's
 * batched insertion). A batch is the nodes [from, to); the graph holds every node before it.
 *
 * 1. select (read-only graph): each batch node searches the graph as it stood when the batch
 *    began, adds the batch nodes before it as candidates (scored directly: they are not
 *    linked yet, so no search could find them), and picks its neighbours with the heuristic.
 *    The picks go to `scratch`, not to the graph, so the graph does not change in this phase.
 * 2. link: node lists are written and reverse links added, each node's list by exactly one
 *    thread (node % threads), in batch order.
 *
 * Nothing depends on which thread handled what or in which order threads ran, so the graph
 * is the same for any thread count: the parallel build is deterministic.
 */
export interface BatchSpan {
  readonly from: number;
  readonly to: number;
  /** The graph's entry point and top level when the batch began. */
  readonly entryPoint: number;
  readonly maxLevel: number;
  /**
   * Per batch node: its picks, level l at slotAt[i] + l * (m + 1): a word with the count (low
   * 16 bits) and how many passed the heuristic (high 16 bits, see Linker.selDiverse), then ids.
   */
  readonly slotAt: Uint32Array;
  readonly scratch: Uint32Array;
}

/** Scratch words the picks of batch [from, to) need, with each node's offset in slotAt. */
export function layoutScratch(levels: Uint8Array, m: number, from: number, to: number, slotAt: Uint32Array): number {
  let at = 0;
  for (let x = from; x < to; x++) {
    slotAt[x - from] = at;
    at += (levels[x]! + 1) * (m + 1);
  }
  return at;
}

/** Runs both phases for one thread; one per worker (and per store: it keeps scratch). */
export class BatchInserter {
  private readonly searcher: LayerSearcher;
  private readonly linker: Linker;
  private candIds: Uint32Array;
  private candDists: Float64Array;
  private mergeIds: Uint32Array;
  private mergeDists: Float64Array;
  private intraIds = new Uint32Array(64);
  private intraDists = new Float64Array(64);
  private order = new Uint32Array(64);

  /** `trackDiversePrefix`: see Linker (on for builds; a test turns it off to compare). */
  constructor(
    private readonly store: VectorStore,
    private readonly graph: HnswGraph,
    private readonly efConstruction: number,
    keepPruned: boolean,
    trackDiversePrefix = true,
  ) {
    this.searcher = new LayerSearcher(graph.n, graph.m0, level0WidthFor(store));
    this.linker = new Linker(store, graph, keepPruned, trackDiversePrefix);
    this.candIds = new Uint32Array(efConstruction + 1);
    this.candDists = new Float64Array(efConstruction + 1);
    this.mergeIds = new Uint32Array(efConstruction + 65);
    this.mergeDists = new Float64Array(efConstruction + 65);
  }

  /** Phase 1 for batch node x. */
  select(span: BatchSpan, x: number): void {
    const g = this.graph;
    const m = g.m;
    const level = g.levels[x]!;
    const ev = this.store.itemEvaluator(x);
    let cur = span.entryPoint;
    let curDist = checkDistance(ev.distance(cur), x, cur);
    for (let l = span.maxLevel; l > level; l--) {
      const r = this.searcher.greedy(g, ev, cur, curDist, l);
      cur = r.node;
      curDist = r.dist;
    }
    for (let l = level; l >= 0; l--) {
      let count = 0;
      if (l <= span.maxLevel) {
        const top = this.searcher.beam(g, ev, cur, curDist, this.efConstruction, l);
        if (top.size > this.candIds.length) this.growCandidates(top.size);
        count = top.drainSorted(this.candIds, this.candDists);
        checkCandidates(this.candDists, count, x, this.candIds);
        // The next level down starts from the best graph node (batch nodes have no links yet).
        cur = this.candIds[0]!;
        curDist = this.candDists[0]!;
      }
      const intra = this.scoreEarlierBatchNodes(ev, span.from, x, l);
      // Keep efConstruction candidates, as a beam over a graph holding the batch would.
      const total = Math.min(this.merge(count, intra), Math.max(count, this.efConstruction));
      const picked = this.linker.select(this.mergeIds, this.mergeDists, total, m);
      const at = span.slotAt[x - span.from]! + l * (m + 1);
      span.scratch[at] = picked | (this.linker.selDiverse << 16);
      span.scratch.set(this.linker.selIds.subarray(0, picked), at + 1);
    }
    ev.release?.();
  }

  /** Phase 2 for thread `worker` of `workers`: its nodes' lists, then its share of reverse links. */
  link(span: BatchSpan, worker: number, workers: number): void {
    const g = this.graph;
    const m = g.m;
    const { scratch, slotAt, from, to } = span;
    for (let x = from; x < to; x++) {
      if (x % workers !== worker) continue;
      for (let l = g.levels[x]!; l >= 0; l--) {
        const at = slotAt[x - from]! + l * (m + 1);
        this.linker.setLinks(x, l, scratch.subarray(at + 1), scratch[at]! & 0xffff, scratch[at]! >>> 16);
      }
    }
    for (let x = from; x < to; x++) {
      for (let l = g.levels[x]!; l >= 0; l--) {
        const at = slotAt[x - from]! + l * (m + 1);
        const count = scratch[at]! & 0xffff;
        for (let i = 1; i <= count; i++) {
          const t = scratch[at + i]!;
          if (t % workers === worker) this.linker.connect(t, x, l);
        }
      }
    }
  }

  /** Distances from x to the batch nodes before it that reach level l, sorted ascending. */
  private scoreEarlierBatchNodes(ev: QueryEvaluator, from: number, x: number, l: number): number {
    const levels = this.graph.levels;
    if (x - from > this.intraIds.length) {
      this.intraIds = new Uint32Array(x - from);
      this.intraDists = new Float64Array(x - from);
      this.order = new Uint32Array(x - from);
    }
    let n = 0;
    for (let y = from; y < x; y++) if (levels[y]! >= l) this.intraIds[n++] = y;
    if (n === 0) return 0;
    ev.distances(this.intraIds, n, this.intraDists);
    for (let i = 0; i < n; i++) checkDistance(this.intraDists[i]!, x, this.intraIds[i]!);
    sortPairs(this.intraIds, this.intraDists, n, this.order);
    return n;
  }

  /** Merges the beam's sorted candidates with the sorted batch candidates into merge*. */
  private merge(count: number, intra: number): number {
    const total = count + intra;
    if (total > this.mergeIds.length) {
      this.mergeIds = new Uint32Array(total);
      this.mergeDists = new Float64Array(total);
    }
    let i = 0;
    let j = 0;
    for (let o = 0; o < total; o++) {
      const takeBeam =
        j >= intra ||
        (i < count &&
          (this.candDists[i]! < this.intraDists[j]! || (this.candDists[i] === this.intraDists[j] && this.candIds[i]! < this.intraIds[j]!)));
      if (takeBeam) {
        this.mergeIds[o] = this.candIds[i]!;
        this.mergeDists[o] = this.candDists[i++]!;
      } else {
        this.mergeIds[o] = this.intraIds[j]!;
        this.mergeDists[o] = this.intraDists[j++]!;
      }
    }
    return total;
  }

  private growCandidates(size: number): void {
    this.candIds = new Uint32Array(size + 1);
    this.candDists = new Float64Array(size + 1);
  }
}

/** Sorts parallel arrays by distance, then id (ids are distinct); `order` is scratch. */
function sortPairs(ids: Uint32Array, dists: Float64Array, n: number, order: Uint32Array): void {
  if (n < 2) return;
  const o = order.subarray(0, n);
  for (let i = 0; i < n; i++) o[i] = i;
  o.sort((a, b) => dists[a]! - dists[b]! || ids[a]! - ids[b]!);
  const sortedIds = ids.slice(0, n);
  const sortedDists = dists.slice(0, n);
  for (let i = 0; i < n; i++) {
    ids[i] = sortedIds[o[i]!]!;
    dists[i] = sortedDists[o[i]!]!;
  }
}

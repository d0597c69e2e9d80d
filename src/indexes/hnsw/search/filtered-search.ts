import type { QueryEvaluator } from '../../../types.js';
import type { MaxHeap } from '../../../util/heap.js';
import { type AllowedSet, isAllowed } from '../../filter.js';
import { popcount32 } from '../../items/tombstones.js';
import type { HnswGraph } from '../graph/graph.js';
import type { LayerSearcher } from './layer-search.js';

/** Items scored per evaluator call of the exhaustive path. */
const CHUNK = 1024;
/**
 * Allowed items spread over the id range that also start the beam. The unfiltered descent
 * ends where the query is, which may be far from every allowed item (a filter on a class
 * the query does not belong to): two-hop expansion cannot cross such a gap, these can.
 */
const SEEDS = 16;
/**
 * Share of allowed items below which the expansion goes three hops: with 2m = 32 links, two
 * hops find ~10 allowed neighbours at 1 % selectivity, too few to navigate; three find m0.
 * Passing through costs bitset tests, not distances.
 */
const THREE_HOPS = 0.05;
/** Share of allowed items from which the filtered beam walks the whole graph (see mostlyAllowed). */
const MOSTLY_ALLOWED = 0.3;

/**
 * Filtered search over allowed items only (never post-filtering):
 * - few allowed items: score them all (exact, and cheaper than a graph walk that has to pass
 *   many disallowed nodes to find them);
 * - otherwise a level-0 beam over the allowed subgraph with ACORN-1's expansion: a disallowed
 *   neighbour is not scored but passed through, its own neighbours taking its place, until the
 *   node has m0 allowed neighbours; so the beam stays connected at low selectivity without
 *   scoring disallowed items.
 * If the beam finds fewer than k items while at least k are allowed, the exhaustive path
 * answers instead: a filtered search returns k items whenever k allowed items exist.
 */
export class FilteredSearcher {
  private ids: Uint32Array;
  private dists: Float64Array;
  /** Disallowed second-hop nodes of one expansion (three-hop mode). */
  private far: Uint32Array;

  constructor(
    private readonly layer: LayerSearcher,
    maxLinks: number,
  ) {
    this.ids = new Uint32Array(Math.max(CHUNK, maxLinks));
    this.dists = new Float64Array(Math.max(CHUNK, maxLinks));
    this.far = new Uint32Array(maxLinks * maxLinks);
  }

  /**
   * The up to ef nearest allowed items of the query `ev` scores, as a max-heap: exhaustive
   * when that is cheaper, else the unfiltered upper-level descent and a filtered level-0
   * beam, with the exhaustive path as the fallback when the beam finds fewer than
   * min(k, allowed) items.
   */
  search(graph: HnswGraph, ev: QueryEvaluator, k: number, ef: number, allowed: AllowedSet): MaxHeap {
    if (allowed.count === 0 || FilteredSearcher.exhaustiveIsCheaper(allowed, ef, graph.m0, graph.n))
      return this.exhaustive(ev, allowed, graph.n, ef);
    const { node, dist } = this.layer.descend(graph, ev);
    const top = this.beam(graph, ev, node, dist, ef, allowed);
    return top.size < Math.min(k, allowed.count) ? this.exhaustive(ev, allowed, graph.n, ef) : top;
  }

  /**
   * Whether scoring every allowed item costs less than a filtered beam of width ef, in scored
   * items. A beam costs a fixed part (the descent, the seeds, the first rounds: about 48 x m0)
   * plus about ef x m0 / 2; below 5 % selectivity the three-hop expansion costs about
   * 8 x ef x m0 in graph walking. The factors were fitted on bge and MNIST
   * (bench/README.md, "Figures behind tuned constants").
   */
  static exhaustiveIsCheaper(allowed: AllowedSet, ef: number, m0: number, n: number): boolean {
    return allowed.count <= 48 * m0 + ef * m0 * (allowed.count < THREE_HOPS * n ? 8 : 0.5);
  }

  /**
   * Whether most items are allowed: then the plain graph walk, keeping only allowed items as
   * results (hnswlib's filtered search), wastes few distances and navigates better than
   * two-hop expansion, whose far second-hop items crowd the beam.
   */
  static mostlyAllowed(allowed: AllowedSet, n: number): boolean {
    return allowed.count >= MOSTLY_ALLOWED * n;
  }

  /** The up to `keep` nearest allowed items, as a max-heap. */
  exhaustive(ev: QueryEvaluator, allowed: AllowedSet, n: number, keep: number): MaxHeap {
    const top = this.layer.top;
    top.clear();
    const { ids, dists } = this;
    const bits = allowed.bits;
    let count = 0;
    const flush = () => {
      ev.distances(ids, count, dists);
      for (let i = 0; i < count; i++) {
        if (top.size < keep) top.push(ids[i]!, dists[i]!);
        else if (dists[i]! < top.topDist()) {
          top.pop();
          top.push(ids[i]!, dists[i]!);
        }
      }
      count = 0;
    };
    for (let w = 0; w < bits.length; w++) {
      let word = bits[w]!;
      while (word !== 0) {
        const bit = 31 - Math.clz32(word & -word);
        word &= word - 1;
        const id = (w << 5) + bit;
        if (id >= n) break;
        ids[count++] = id;
        if (count === CHUNK) flush();
      }
    }
    if (count > 0) flush();
    return top;
  }

  /**
   * Level-0 beam of width ef from `ep` (reached by the unfiltered upper-level descent; it may
   * be disallowed, and then only guides the start) over allowed items.
   */
  beam(graph: HnswGraph, ev: QueryEvaluator, ep: number, epDist: number, ef: number, allowed: AllowedSet): MaxHeap {
    if (FilteredSearcher.mostlyAllowed(allowed, graph.n)) return this.layer.beam(graph, ev, ep, epDist, ef, 0, allowed.bits);
    const { candidates, top, visited } = this.layer;
    const bits = allowed.bits;
    const { ids, dists } = this;
    const level0 = graph.level0;
    const stride = graph.m0 + 1;
    const want = graph.m0;
    this.layer.start(graph, ep, epDist, bits);
    this.seed(ev, allowed, graph.n, Math.min(ef, SEEDS), ep);
    const threeHops = allowed.count < THREE_HOPS * graph.n;
    while (candidates.size > 0) {
      const cDist = candidates.topDist();
      if (top.size >= ef && cDist > top.topDist()) break;
      const c = candidates.topId();
      candidates.pop();
      // Allowed neighbours of c, and of its disallowed neighbours (two hops), up to m0; at
      // low selectivity also three hops (see THREE_HOPS).
      let fresh = 0;
      let far = 0;
      const base = c * stride;
      const count = level0[base]!;
      for (let i = 1; i <= count && fresh < want; i++) {
        const e = level0[base + i]!;
        if (isAllowed(bits, e)) {
          if (!visited.testAndSet(e)) ids[fresh++] = e;
          continue;
        }
        if (visited.testAndSet(e)) continue;
        const eBase = e * stride;
        const eCount = level0[eBase]!;
        for (let j = 1; j <= eCount && fresh < want; j++) {
          const f = level0[eBase + j]!;
          if (isAllowed(bits, f)) {
            if (!visited.testAndSet(f)) ids[fresh++] = f;
          } else if (threeHops && far < this.far.length) {
            this.far[far++] = f;
          }
        }
      }
      for (let i = 0; i < far && fresh < want; i++) {
        const f = this.far[i]!;
        if (visited.testAndSet(f)) continue;
        const fBase = f * stride;
        const fCount = level0[fBase]!;
        for (let j = 1; j <= fCount && fresh < want; j++) {
          const g = level0[fBase + j]!;
          if (isAllowed(bits, g) && !visited.testAndSet(g)) ids[fresh++] = g;
        }
      }
      // Every gathered item is allowed: no result filter.
      if (fresh > 0) this.layer.admit(ev, ids, fresh, dists, ef, null);
    }
    return top;
  }

  /** Scores `count` allowed items at even steps through the allowed set and queues them. */
  private seed(ev: QueryEvaluator, allowed: AllowedSet, n: number, count: number, ep: number): void {
    if (count <= 0 || allowed.count === 0) return;
    const { candidates, top, visited } = this.layer;
    const { ids, dists } = this;
    const bits = allowed.bits;
    const step = allowed.count / count;
    let next = step / 2;
    let seen = 0;
    let got = 0;
    for (let w = 0; w < bits.length && got < count; w++) {
      let word = bits[w]!;
      const pop = popcount32(word);
      if (seen + pop <= next) {
        seen += pop;
        continue;
      }
      while (word !== 0 && got < count) {
        const bit = 31 - Math.clz32(word & -word);
        word &= word - 1;
        if (seen++ < Math.floor(next)) continue;
        next += step;
        const id = (w << 5) + bit;
        if (id >= n || id === ep || visited.testAndSet(id)) continue;
        ids[got++] = id;
      }
    }
    ev.distances(ids, got, dists);
    for (let i = 0; i < got; i++) {
      candidates.push(ids[i]!, dists[i]!);
      top.push(ids[i]!, dists[i]!);
    }
    while (top.size > count) top.pop();
  }
}

import type { QueryEvaluator } from '../../types.js';
import type { MaxHeap } from '../../util/heap.js';
import { isAllowed, type AllowedSet } from '../filter.js';
import type { HnswGraph } from './graph.js';
import type { LayerSearcher } from './search-layer.js';

/** Items scored per evaluator call of the exhaustive path. */
const CHUNK = 1024;

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

  constructor(private readonly layer: LayerSearcher, maxLinks: number) {
    this.ids = new Uint32Array(Math.max(CHUNK, maxLinks));
    this.dists = new Float64Array(Math.max(CHUNK, maxLinks));
  }

  /** Whether scoring every allowed item costs less than a filtered beam of width ef. */
  static exhaustiveIsCheaper(allowed: AllowedSet, ef: number, m0: number): boolean {
    return allowed.count <= ef * m0;
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
    const { candidates, top, visited } = this.layer;
    const bits = allowed.bits;
    const { ids, dists } = this;
    const level0 = graph.level0;
    const stride = graph.m0 + 1;
    const want = graph.m0;
    candidates.clear();
    top.clear();
    visited.reset(graph.n);
    visited.testAndSet(ep);
    candidates.push(ep, epDist);
    if (isAllowed(bits, ep)) top.push(ep, epDist);
    while (candidates.size > 0) {
      const cDist = candidates.topDist();
      if (top.size >= ef && cDist > top.topDist()) break;
      const c = candidates.topId();
      candidates.pop();
      // Allowed neighbours of c, and of its disallowed neighbours (two hops), up to m0.
      let fresh = 0;
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
          if (isAllowed(bits, f) && !visited.testAndSet(f)) ids[fresh++] = f;
        }
      }
      if (fresh === 0) continue;
      ev.distances(ids, fresh, dists);
      for (let i = 0; i < fresh; i++) {
        const d = dists[i]!;
        if (top.size < ef || d < top.topDist()) {
          candidates.push(ids[i]!, d);
          top.push(ids[i]!, d);
          if (top.size > ef) top.pop();
        }
      }
    }
    return top;
  }
}

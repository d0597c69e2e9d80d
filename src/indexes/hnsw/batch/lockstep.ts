import type { Dataset } from '../../../types.js';
import { MaxHeap, MinHeap } from '../../../util/heap.js';
import { BitVisited, HashVisited } from '../../../util/visited.js';
import type { HnswGraph } from '../graph/graph.js';
import type { FaultTolerantEvaluator } from './fault-tolerant.js';

/**
 * The lockstep batch controller. B queries advance together; in every round each active query
 * contributes its pending (query, item) pairs and the whole round goes to the BatchEvaluator
 * in one call. The controller is the same for every backend: only the evaluator differs, and
 * it awaits only when the evaluator returns a promise (the GPU), never on the CPU path.
 */

export interface BatchRunOptions {
  ef: number;
  /** Candidates each query expands per round (w). More gives the evaluator larger calls. */
  width: number;
}

/** Above this many bytes of bitsets per batch, slots use hash sets instead. */
const BITSET_BUDGET = 64 * 1024 * 1024;

/** What one slot (query) of the batch carries between rounds. */
class SlotState {
  readonly candidates = new MinHeap(128);
  readonly top = new MaxHeap(128);
  constructor(readonly visited: { clear(): void; testAndSet(id: number): boolean }) {}
  cur = 0;
  curDist = 0;
  active = false;
}

/** Pair buffers shared by the rounds of one batch. */
class PairBuffer {
  slots: Uint32Array;
  ids: Uint32Array;
  out: Float32Array;
  count = 0;
  constructor(capacity: number) {
    this.slots = new Uint32Array(capacity);
    this.ids = new Uint32Array(capacity);
    this.out = new Float32Array(capacity);
  }
  ensure(capacity: number): void {
    if (capacity <= this.slots.length) return;
    this.slots = new Uint32Array(capacity);
    this.ids = new Uint32Array(capacity);
    this.out = new Float32Array(capacity);
  }
  add(slot: number, id: number): void {
    this.slots[this.count] = slot;
    this.ids[this.count++] = id;
  }
}

/** The expanded (slot, node) list of a round and the neighbour distances that come back. */
class ExpansionBuffer {
  slots = new Uint32Array(1024);
  nodes = new Uint32Array(1024);
  out = new Float32Array(1024);
  count = 0;
  ensure(expansions: number, m0: number): void {
    if (expansions > this.slots.length) {
      this.slots = new Uint32Array(expansions);
      this.nodes = new Uint32Array(expansions);
    }
    if (expansions * m0 > this.out.length) this.out = new Float32Array(expansions * m0);
  }
}

export class BatchController {
  private readonly slots: SlotState[] = [];
  private readonly pairs = new PairBuffer(4096);
  private readonly expansions = new ExpansionBuffer();

  constructor(private readonly graph: HnswGraph) {}

  private newSlot(count: number): SlotState {
    const n = this.graph.n;
    return new SlotState((count * n) / 8 <= BITSET_BUDGET ? new BitVisited(n) : new HashVisited(1024));
  }

  /**
   * Searches queries[start .. start+count) and writes, per slot, the best `ef` candidates
   * (internal distances, best first) through `emit`.
   */
  async run(
    evaluator: FaultTolerantEvaluator,
    queries: Dataset,
    start: number,
    count: number,
    opts: BatchRunOptions,
    emit: (slot: number, top: MaxHeap) => void,
  ): Promise<void> {
    const g = this.graph;
    while (this.slots.length < count) this.slots.push(this.newSlot(count));
    await evaluator.setQueries(queries, start, count);
    const pairs = this.pairs;

    // Entry point distances.
    pairs.ensure(count);
    pairs.count = 0;
    for (let s = 0; s < count; s++) pairs.add(s, g.entryPoint);
    await this.evaluate(evaluator);
    for (let s = 0; s < count; s++) {
      const st = this.slots[s]!;
      st.cur = g.entryPoint;
      st.curDist = pairs.out[s]!;
    }

    // Greedy descent through the upper levels, all queries in lockstep.
    pairs.ensure(count * g.m);
    for (let level = g.maxLevel; level > 0; level--) {
      for (let s = 0; s < count; s++) this.slots[s]!.active = true;
      for (let active = count; active > 0; ) {
        pairs.count = 0;
        for (let s = 0; s < count; s++) {
          const st = this.slots[s]!;
          if (!st.active) continue;
          const arr = g.upper[st.cur]!;
          const base = (level - 1) * (g.m + 1);
          const n = arr[base]!;
          for (let i = 1; i <= n; i++) pairs.add(s, arr[base + i]!);
        }
        await this.evaluate(evaluator);
        active = this.applyGreedy(count);
      }
    }

    // Beam search on level 0: each active query expands its best `width` candidates per round.
    const { ef, width } = opts;
    pairs.ensure(count * width * g.m0);
    for (let s = 0; s < count; s++) {
      const st = this.slots[s]!;
      st.candidates.clear();
      st.top.clear();
      st.visited.clear();
      st.visited.testAndSet(st.cur);
      st.candidates.push(st.cur, st.curDist);
      st.top.push(st.cur, st.curDist);
      st.active = true;
    }
    if (evaluator.gathersNeighbours) {
      // The evaluator gathers neighbours (the GPU, from its copy of the graph): only the
      // expanded nodes go to it, and visited filtering happens here when the distances return.
      const x = this.expansions;
      x.ensure(count * width, g.m0);
      for (;;) {
        if (this.expandRound(count, ef, width) === 0) break;
        if (x.count > 0) await evaluator.neighbourDistances(g, x.slots, x.nodes, x.count, x.out);
        this.applyExpansions(ef);
      }
    } else {
      for (;;) {
        if (this.gatherBeamRound(count, ef, width) === 0) break;
        await this.evaluate(evaluator);
        this.applyBeam(ef);
      }
    }
    for (let s = 0; s < count; s++) emit(s, this.slots[s]!.top);
  }

  private evaluate(evaluator: FaultTolerantEvaluator): void | Promise<void> {
    const p = this.pairs;
    if (p.count === 0) return;
    return evaluator.distances(p.slots, p.ids, p.count, p.out);
  }

  /** Moves each active query to its best neighbour, or retires it; returns the active count. */
  private applyGreedy(count: number): number {
    const p = this.pairs;
    let i = 0;
    let active = 0;
    for (let s = 0; s < count; s++) {
      const st = this.slots[s]!;
      if (!st.active) continue;
      let moved = false;
      for (; i < p.count && p.slots[i] === s; i++) {
        const d = p.out[i]!;
        if (d < st.curDist) {
          st.curDist = d;
          st.cur = p.ids[i]!;
          moved = true;
        }
      }
      st.active = moved;
      if (moved) active++;
    }
    return active;
  }

  /** Pops up to `width` candidates per active query and gathers their unvisited neighbours. */
  private gatherBeamRound(count: number, ef: number, width: number): number {
    const g = this.graph;
    const level0 = g.level0;
    const stride = g.m0 + 1;
    const p = this.pairs;
    p.count = 0;
    let active = 0;
    for (let s = 0; s < count; s++) {
      const st = this.slots[s]!;
      if (!st.active) continue;
      const { candidates, top, visited } = st;
      for (let w = 0; w < width; w++) {
        if (candidates.size === 0 || (candidates.topDist() > top.topDist() && top.size >= ef)) {
          if (w === 0) st.active = false;
          break;
        }
        const c = candidates.topId();
        candidates.pop();
        const base = c * stride;
        const n = level0[base]!;
        for (let i = 1; i <= n; i++) {
          const e = level0[base + i]!;
          if (!visited.testAndSet(e)) p.add(s, e);
        }
      }
      if (st.active) active++;
    }
    // A query whose popped candidates had no fresh neighbours stays active with no pairs; it
    // pops again next round. The loop ends when no query is active.
    return active;
  }

  /** Pops up to `width` candidates per active query into the expansion list. */
  private expandRound(count: number, ef: number, width: number): number {
    const x = this.expansions;
    x.count = 0;
    let active = 0;
    for (let s = 0; s < count; s++) {
      const st = this.slots[s]!;
      if (!st.active) continue;
      const { candidates, top } = st;
      for (let w = 0; w < width; w++) {
        if (candidates.size === 0 || (candidates.topDist() > top.topDist() && top.size >= ef)) {
          if (w === 0) st.active = false;
          break;
        }
        x.slots[x.count] = s;
        x.nodes[x.count++] = candidates.topId();
        candidates.pop();
      }
      if (st.active) active++;
    }
    return active;
  }

  /** Applies each expansion's neighbour distances, skipping neighbours already visited. */
  private applyExpansions(ef: number): void {
    const x = this.expansions;
    const level0 = this.graph.level0;
    const m0 = this.graph.m0;
    for (let e = 0; e < x.count; e++) {
      const st = this.slots[x.slots[e]!]!;
      const { visited, top, candidates } = st;
      const base = x.nodes[e]! * (m0 + 1);
      const n = level0[base]!;
      for (let i = 0; i < n; i++) {
        const id = level0[base + 1 + i]!;
        if (visited.testAndSet(id)) continue;
        const d = x.out[e * m0 + i]!;
        if (top.size < ef || d < top.topDist()) {
          candidates.push(id, d);
          top.push(id, d);
          if (top.size > ef) top.pop();
        }
      }
    }
  }

  private applyBeam(ef: number): void {
    const p = this.pairs;
    for (let i = 0; i < p.count; i++) {
      const st = this.slots[p.slots[i]!]!;
      const d = p.out[i]!;
      const top = st.top;
      if (top.size < ef || d < top.topDist()) {
        st.candidates.push(p.ids[i]!, d);
        top.push(p.ids[i]!, d);
        if (top.size > ef) top.pop();
      }
    }
  }
}

import type { BatchEvaluator, Dataset } from '../../types.js';
import { MaxHeap, MinHeap } from '../../util/heap.js';
import { BitVisited, HashVisited } from '../../util/visited.js';
import type { HnswGraph } from './graph.js';

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

/**
 * Evaluates pair lists with a fallback: when the primary evaluator fails (a GPU fault), the
 * same pairs, and every later round, are computed by the CPU evaluator. Nothing is lost.
 */
export class FaultTolerantEvaluator {
  private current: BatchEvaluator;
  private failedOver = false;
  private queries: Dataset | null = null;
  private start = 0;
  private count = 0;

  constructor(
    primary: BatchEvaluator,
    private readonly makeFallback: () => BatchEvaluator,
    private readonly onFault: (error: unknown) => void,
  ) {
    this.current = primary;
  }

  get backend(): string {
    return this.failedOver ? 'cpu' : this.current.backend;
  }

  get didFailOver(): boolean {
    return this.failedOver;
  }

  async setQueries(queries: Dataset, start: number, count: number): Promise<void> {
    this.queries = queries;
    this.start = start;
    this.count = count;
    try {
      const r = this.current.setQueries(queries, start, count);
      if (r) await r;
    } catch (error) {
      this.failOver(error);
      this.current.setQueries(queries, start, count);
    }
  }

  /** Returns a promise only when the evaluator did. */
  distances(slots: Uint32Array, ids: Uint32Array, count: number, out: Float32Array): void | Promise<void> {
    let r: void | Promise<void>;
    try {
      r = this.current.distances(slots, ids, count, out);
    } catch (error) {
      return this.retry(error, slots, ids, count, out);
    }
    if (r) return r.catch((error: unknown) => this.retry(error, slots, ids, count, out));
  }

  dispose(): void {
    this.current.dispose?.();
  }

  private retry(error: unknown, slots: Uint32Array, ids: Uint32Array, count: number, out: Float32Array): void {
    if (this.failedOver) throw error;
    this.failOver(error);
    this.current.setQueries(this.queries!, this.start, this.count);
    this.current.distances(slots, ids, count, out);
  }

  private failOver(error: unknown): void {
    if (this.failedOver) throw error;
    this.failedOver = true;
    try {
      this.current.dispose?.();
    } catch {
      // The failed device may throw again on cleanup; the CPU takes over regardless.
    }
    this.current = this.makeFallback();
    this.onFault(error);
  }
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

export class BatchController {
  private readonly slots: SlotState[] = [];
  private readonly pairs = new PairBuffer(4096);

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
    for (;;) {
      if (this.gatherBeamRound(count, ef, width) === 0) break;
      await this.evaluate(evaluator);
      this.applyBeam(ef);
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

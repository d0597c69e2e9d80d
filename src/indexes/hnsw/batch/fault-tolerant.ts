import type { BatchEvaluator, Dataset, GraphLayout } from '../../../types.js';

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

  /** Whether the evaluator gathers neighbours itself (the controller then sends expanded nodes). */
  get gathersNeighbours(): boolean {
    return this.current.neighbourDistances !== undefined;
  }

  /**
   * out[e * m0 + i] = distance from slots[e] to the i-th level-0 neighbour of nodes[e]: by the
   * evaluator's own gather when it has one, else from (slot, neighbour) pairs made here. A
   * fault recomputes the call on the CPU, like distances().
   */
  neighbourDistances(graph: GraphLayout, slots: Uint32Array, nodes: Uint32Array, count: number, out: Float32Array): void | Promise<void> {
    const ev = this.current;
    if (ev.neighbourDistances === undefined) return this.neighboursByPairs(graph, slots, nodes, count, out);
    const retry = (error: unknown) => {
      this.failOver(error);
      this.current.setQueries(this.queries!, this.start, this.count);
      return this.neighboursByPairs(graph, slots, nodes, count, out);
    };
    let r: void | Promise<void>;
    try {
      r = ev.neighbourDistances(graph, slots, nodes, count, out);
    } catch (error) {
      return retry(error);
    }
    if (r) return r.catch(retry);
  }

  private neighboursByPairs(
    graph: GraphLayout,
    slots: Uint32Array,
    nodes: Uint32Array,
    count: number,
    out: Float32Array,
  ): void | Promise<void> {
    const m0 = graph.m0;
    const pairSlots = new Uint32Array(count * m0);
    const pairIds = new Uint32Array(count * m0);
    const where = new Uint32Array(count * m0);
    let n = 0;
    for (let e = 0; e < count; e++) {
      const base = nodes[e]! * (m0 + 1);
      for (let i = 0; i < graph.level0[base]!; i++) {
        pairSlots[n] = slots[e]!;
        pairIds[n] = graph.level0[base + 1 + i]!;
        where[n++] = e * m0 + i;
      }
    }
    const dists = new Float32Array(n);
    const scatter = () => {
      for (let j = 0; j < n; j++) out[where[j]!] = dists[j]!;
    };
    const r = this.distances(pairSlots, pairIds, n, dists);
    if (r) return r.then(scatter);
    scatter();
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

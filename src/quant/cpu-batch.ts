import type { BatchEvaluator, Dataset, QueryEvaluator, VectorStore } from '../types.js';

/**
 * The CPU BatchEvaluator: one QueryEvaluator per query slot, looped over the pairs. It is the
 * reference the GPU evaluator must agree with.
 */
export class CpuBatchEvaluator implements BatchEvaluator {
  readonly backend = 'cpu';
  private evaluators: QueryEvaluator[] = [];
  constructor(private readonly store: VectorStore) {}

  setQueries(queries: Dataset, start: number, count: number): void {
    this.releaseAll();
    const evaluators: QueryEvaluator[] = new Array(count);
    for (let s = 0; s < count; s++) evaluators[s] = this.store.queryEvaluator(queries.get(start + s));
    this.evaluators = evaluators;
  }

  distances(slots: Uint32Array, ids: Uint32Array, count: number, out: Float32Array): void {
    const evaluators = this.evaluators;
    for (let i = 0; i < count; i++) out[i] = evaluators[slots[i]!]!.distance(ids[i]!);
  }

  /** Nothing to free on the CPU: the evaluators hold no resources. */
  dispose(): void {
    this.releaseAll();
  }

  private releaseAll(): void {
    for (const e of this.evaluators) (e as { release?: () => void }).release?.();
    this.evaluators = [];
  }
}

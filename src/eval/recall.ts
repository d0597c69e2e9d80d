import { fail } from '../errors.js';

/** The true nearest neighbours of each query, as an .ivecs file or an exact search gives them. */
export interface GroundTruth {
  /** Number of queries. */
  rows: number;
  /** Ids per query (best first); may exceed k. */
  dim: number;
  /** rows x dim ids, row by row. */
  data: Int32Array;
  /** Optional true scores (same layout) for the tie rule. */
  scores?: Float32Array;
}

/**
 * recall@k = |returned top-k ∩ true top-k| / k, averaged over queries. With `scores` on both
 * sides, a returned id outside the true top-k still counts when its score equals the k-th true
 * score (a tie), within `tieTolerance` relative (float32 scores of float64 truths).
 */
export function recallAtK(
  ids: Int32Array,
  k: number,
  gt: GroundTruth,
  opts: { scores?: Float32Array; tieTolerance?: number } = {},
): number {
  const nq = ids.length / k;
  if (!Number.isInteger(nq)) fail('INVALID_ARGUMENT', `result length ${ids.length} is not a multiple of k = ${k}`);
  if (nq !== gt.rows) fail('DIMENSION_MISMATCH', `results have ${nq} queries, the ground truth has ${gt.rows}`);
  if (k > gt.dim) fail('INVALID_ARGUMENT', `ground truth has ${gt.dim} neighbours per query, fewer than k = ${k}`);
  const tol = opts.tieTolerance ?? 1e-5;
  const truth = new Set<number>();
  const seen = new Set<number>();
  let hits = 0;
  for (let q = 0; q < nq; q++) {
    truth.clear();
    seen.clear();
    for (let i = 0; i < k; i++) truth.add(gt.data[q * gt.dim + i]!);
    const kth = gt.scores?.[q * gt.dim + k - 1];
    for (let i = 0; i < k; i++) {
      const id = ids[q * k + i]!;
      // Padding (-1) never counts, and a repeated id counts once.
      if (id < 0 || seen.has(id)) continue;
      seen.add(id);
      if (truth.has(id)) hits++;
      else if (kth !== undefined && opts.scores !== undefined) {
        const s = opts.scores[q * k + i]!;
        if (Math.abs(s - kth) <= tol * Math.max(1, Math.abs(kth))) hits++;
      }
    }
  }
  return hits / (nq * k);
}

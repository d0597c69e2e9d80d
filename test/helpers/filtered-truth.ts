import type { DenseDataset } from '../../src/index.js';

/**
 * Exact k nearest (squared L2) among the base rows `allowed` lets through, for each query:
 * the ground truth of a filtered search, by brute force. -1 pads rows with fewer allowed items.
 */
export function exactFiltered(
  base: DenseDataset,
  queries: DenseDataset,
  k: number,
  allowed: (id: number, q: number) => boolean,
): Int32Array {
  const out = new Int32Array(queries.size * k).fill(-1);
  const dim = base.dim;
  const d = new Float64Array(base.size);
  for (let q = 0; q < queries.size; q++) {
    const qv = queries.get(q);
    const ids: number[] = [];
    for (let i = 0; i < base.size; i++) {
      if (!allowed(i, q)) continue;
      let s = 0;
      const at = i * dim;
      for (let j = 0; j < dim; j++) {
        const t = base.data[at + j]! - qv[j]!;
        s += t * t;
      }
      d[i] = s;
      ids.push(i);
    }
    ids.sort((a, b) => d[a]! - d[b]! || a - b);
    for (let i = 0; i < Math.min(k, ids.length); i++) out[q * k + i] = ids[i]!;
  }
  return out;
}

/** Recall of `got` against `truth` (both row-major k per query; -1 entries of truth are not counted). */
export function recallAgainst(got: ArrayLike<number | string | null>, truth: ArrayLike<number | string | null>, k: number): number {
  let hit = 0;
  let total = 0;
  for (let q = 0; q < truth.length / k; q++) {
    const row = new Set<unknown>();
    for (let i = 0; i < k; i++) row.add(got[q * k + i]);
    for (let i = 0; i < k; i++) {
      const t = truth[q * k + i];
      if (t === -1 || t === null) continue;
      total++;
      if (row.has(t)) hit++;
    }
  }
  return total === 0 ? 1 : hit / total;
}

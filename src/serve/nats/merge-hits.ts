import type { ItemKey } from '../../indexes/items/item-keys.js';
import type { Metric } from '../../types.js';
import type { Hits } from '../backend.js';

/**
 * The k best of several shards' hits for one query, best first, exactly as one index over
 * all their items would rank them: by score (squared L2: smaller is better; inner product:
 * larger is better), ties by key (numbers before strings, then ascending) so that the order
 * never depends on which shard answered first.
 */
export function mergeHits(parts: readonly Hits[], k: number, metric: Metric): { keys: ItemKey[]; scores: number[] } {
  const all: { key: ItemKey; score: number }[] = [];
  for (const p of parts) {
    for (let j = 0; j < p.keys.length; j++) {
      const key = p.keys[j];
      if (key !== null && key !== undefined) all.push({ key, score: p.scores[j]! });
    }
  }
  const sign = metric === 'ip' ? -1 : 1;
  all.sort((a, b) => sign * (a.score - b.score) || compareKeys(a.key, b.key));
  const top = all.slice(0, k);
  return { keys: top.map((h) => h.key), scores: top.map((h) => h.score) };
}

function compareKeys(a: ItemKey, b: ItemKey): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

import { readFile } from 'node:fs/promises';
import { fail } from '../errors.js';
import type { SearchFilter } from '../indexes/filter.js';
import type { HnswIndex } from '../indexes/hnsw/hnsw-index.js';
import type { ItemKey } from '../indexes/items/item-keys.js';
import { writeIvecs } from '../io/vecs.js';
import { writeFileAtomic } from '../node/files.js';
import { aboutFile } from './args.js';
import { parseKeysText, parseLabelsText } from './item-text.js';

/**
 * The CLI's files about items (keys, labels, per-query labels) and results that carry keys.
 * Formats: one line per row, see item-text.ts.
 */

export async function readKeysFile(path: string, rows: number): Promise<ItemKey[]> {
  return aboutFile(path, async () => parseKeysText(await readFile(path, 'utf8'), rows, path));
}

export async function readLabelsFile(path: string, rows: number): Promise<number[][]> {
  return aboutFile(path, async () => parseLabelsText(await readFile(path, 'utf8'), rows, path));
}

/**
 * The filter of `search`: one label for every query (--filter-label), one label per query
 * line (--query-labels; an empty line leaves that query unfiltered), or none.
 */
export async function searchFilter(
  label: number | undefined,
  queryLabels: string | undefined,
  nq: number,
): Promise<SearchFilter | (SearchFilter | null)[] | undefined> {
  if (label !== undefined) return { label };
  if (queryLabels === undefined) return undefined;
  const rows = await readLabelsFile(queryLabels, nq);
  return rows.map((r, q) => {
    if (r.length > 1) fail('INVALID_ARGUMENT', `${queryLabels} line ${q + 1}: one label per query`);
    return r.length === 0 ? null : { label: r[0]! };
  });
}

/**
 * What a results file holds for each hit: the item's key when the index has keys (numbers
 * fit .ivecs when below 2^31; any key fits .txt), else its id; -1 where a query had fewer
 * than k allowed items.
 */
export async function writeResults(path: string, index: HnswIndex | null, ids: Int32Array, nq: number, k: number): Promise<void> {
  const keyed = index?.keys ? index : null;
  if (path.endsWith('.txt')) {
    const lines: string[] = [];
    for (let q = 0; q < nq; q++) {
      const row = Array.from(ids.subarray(q * k, (q + 1) * k), (id) => (id < 0 ? '-1' : String(keyed ? keyed.keyOf(id) : id)));
      lines.push(row.join(','));
    }
    await writeFileAtomic(path, new TextEncoder().encode(`${lines.join('\n')}\n`));
    return;
  }
  await writeFileAtomic(path, writeIvecs(nq, k, resultNumbers(index, ids, path)));
}

/** Ids, or numeric keys (for .ivecs and recall against a ground truth of keys). */
export function resultNumbers(index: HnswIndex | null, ids: Int32Array, where: string): Int32Array {
  const keys = index?.keys ?? null;
  if (index === null || keys === null) return ids;
  if (keys.kind !== 'number') fail('INVALID_ARGUMENT', `${where}: this index has string keys: write results to a .txt file`);
  return Int32Array.from(ids, (id) => {
    if (id < 0) return -1;
    const key = index.keyOf(id) as number;
    if (key > 0x7fffffff)
      fail('INVALID_ARGUMENT', `${where}: key ${key} does not fit an .ivecs file (int32): write results to a .txt file`);
    return key;
  });
}

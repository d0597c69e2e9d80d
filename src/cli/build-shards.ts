import { basename, dirname, extname, join } from 'node:path';
import { DenseDataset } from '../data/dense.js';
import { SparseDataset } from '../data/sparse.js';
import { fail } from '../errors.js';
import type { ItemKey } from '../indexes/items/item-keys.js';
import { shardOfKey } from '../serve/nats/shard-of-key.js';
import type { Dataset } from '../types.js';
import { type CliIo, type FlagSpec, println } from './args.js';

/**
 * `webannolo build --shards N`: the items split by key hash (shardOfKey, the function the
 * gateway and the client use too) into N ordinary index files, one per shard, for
 * `webannolo serve --shard I --shards N`. Every shard index carries keys: the user's
 * (--keys), or each item's global row number, so results from shards merge into the keys a
 * single index over all items would report. Each file's header carries the annotation
 * `{ "shard": I, "shards": N }`, which `serve` checks against its flags.
 */

export const SHARDS_FLAG: FlagSpec = {
  name: 'shards',
  type: 'int',
  min: 1,
  max: 1024,
  placeholder: 'N',
  help: 'hnsw: split the items by key hash into N index files, OUT-I-of-N.wann for I in 0..N-1 (OUT without its extension), for `serve --shard I --shards N`; items without --keys are keyed by their row number',
};

/** The items of an index to build: vectors, and optionally a key and labels per vector. */
export interface BuildItems {
  readonly dataset: Dataset;
  readonly keys: readonly ItemKey[] | undefined;
  readonly labels: readonly (readonly number[])[] | undefined;
}

/** Builds one index file over `items` at `out` with `annotations` in its header; returns its JSON report. */
export type BuildOne = (items: BuildItems, out: string, annotations: Record<string, unknown>) => Promise<Record<string, unknown>>;

/** The file of shard `shard` of `shards` for `--out out`: out's extension (default .wann) kept after the suffix. */
export function shardFilePath(out: string, shard: number, shards: number): string {
  const ext = extname(out);
  const stem = basename(out, ext);
  return join(dirname(out), `${stem}-${shard}-of-${shards}${ext === '' ? '.wann' : ext}`);
}

/** Which rows of `keys` (row numbers when none) each of `shards` shards owns, in row order. */
export function rowsByShard(rows: number, keys: readonly ItemKey[] | undefined, shards: number): number[][] {
  const parts: number[][] = Array.from({ length: shards }, () => []);
  for (let row = 0; row < rows; row++) parts[shardOfKey(keys ? keys[row]! : row, shards)]!.push(row);
  return parts;
}

/** Splits the items by shard and builds a file for each; returns the JSON report of them all. */
export async function buildShardFiles(
  shards: number,
  items: BuildItems,
  out: string,
  io: CliIo,
  buildOne: BuildOne,
): Promise<Record<string, unknown>> {
  const parts = rowsByShard(items.dataset.size, items.keys, shards);
  const files: string[] = [];
  const reports: Record<string, unknown>[] = [];
  for (let shard = 0; shard < shards; shard++) {
    const rows = parts[shard]!;
    if (rows.length === 0)
      fail('INVALID_ARGUMENT', `shard ${shard} of ${shards} gets no items (${items.dataset.size} items): use fewer shards`);
    const file = shardFilePath(out, shard, shards);
    println(io.stdout, `shard ${shard} of ${shards}: ${rows.length} items -> ${file}`);
    const part: BuildItems = {
      dataset: pickRows(items.dataset, rows),
      keys: rows.map((row) => (items.keys ? items.keys[row]! : row)),
      labels: items.labels ? rows.map((row) => items.labels![row]!) : undefined,
    };
    reports.push(await buildOne(part, file, { shard, shards }));
    files.push(file);
  }
  // The first shard's report stands for the build settings; sizes and times add up.
  const sum = (field: string) => reports.reduce((s, r) => s + Number(r[field] ?? 0), 0);
  return {
    ...reports[0],
    items: items.dataset.size,
    seconds: Number(sum('seconds').toPrecision(4)),
    graphBytes: sum('graphBytes'),
    storeBytes: sum('storeBytes'),
    fileBytes: sum('fileBytes'),
    out,
    shards,
    files,
    itemsPerShard: parts.map((p) => p.length),
  };
}

/** The rows `rows` of a dataset, copied into a new one. */
function pickRows(dataset: Dataset, rows: readonly number[]): Dataset {
  if (dataset instanceof DenseDataset) {
    const dim = dataset.dim;
    const data = new Float32Array(rows.length * dim);
    for (let i = 0; i < rows.length; i++) data.set(dataset.get(rows[i]!), i * dim);
    return new DenseDataset(data, dim);
  }
  if (dataset instanceof SparseDataset)
    return SparseDataset.fromRows(
      rows.map((row) => dataset.get(row)),
      dataset.dim,
    );
  return fail('INVALID_ARGUMENT', `a ${dataset.kind} dataset cannot be split into shards`);
}

import { fail } from '../errors.js';
import type { SearchFilter } from '../indexes/filter.js';
import type { ItemKey } from '../indexes/items/item-keys.js';
import { writeIvecs } from '../io/vecs.js';
import { readDatasetFile, readIvecsFile, writeFileAtomic } from '../node/index.js';
import { ShardedClient, type ShardedHits } from '../serve/nats/sharded-client.js';
import type { Vector } from '../types.js';
import {
  aboutFile,
  type CliIo,
  checkWritable,
  type FlagSpec,
  formatSeconds,
  num,
  type ParsedArgs,
  println,
  qpsOf,
  round,
  secondsSince,
  str,
  UsageError,
  writingFile,
} from './args.js';
import { recallAtK } from './eval.js';
import { searchFilter } from './item-files.js';

/**
 * `webannolo search --nats URL --service NAME --shards N`: the queries against a sharded
 * service on NATS (ShardedClient: every shard asked, hits merged exactly), timed, with recall
 * against a ground truth of global keys, and the same JSON line as a local search with
 * "backend": "nats" and "index": "sharded".
 */

export const NATS_SEARCH_FLAGS: readonly FlagSpec[] = [
  {
    name: 'nats',
    type: 'string',
    placeholder: 'URL',
    help: 'search a sharded service on NATS (server URLs, comma-separated) instead of --index',
  },
  { name: 'service', type: 'string', placeholder: 'NAME', help: 'with --nats: the service name (default webannolo)' },
  { name: 'shards', type: 'int', min: 1, max: 1024, placeholder: 'N', help: 'with --nats: how many shards the service has (required)' },
  { name: 'timeout-ms', type: 'int', min: 1, placeholder: 'MS', help: 'with --nats: wait per attempt for a shard (default 2000)' },
  {
    name: 'retries',
    type: 'int',
    min: 0,
    max: 100,
    placeholder: 'N',
    help: 'with --nats: attempts after the first for a shard that did not answer (default 2)',
  },
  { name: 'allow-partial', type: 'boolean', help: 'with --nats: a shard that does not answer leaves partial results instead of failing' },
  { name: 'concurrency', type: 'int', min: 1, max: 4096, placeholder: 'C', help: 'with --nats: requests in flight at once (default 1)' },
];

const LOCAL_ONLY = ['index', 'rerank-from', 'backend', 'gpu-mode', 'width', 'threads', 'warmup', 'warmup-seconds', 'lambda'];
const NATS_ONLY = NATS_SEARCH_FLAGS.map((f) => f.name).filter((n) => n !== 'nats');

/** Flags of one kind of search that the other does not take are mistakes. */
export function checkSearchTarget(args: ParsedArgs): 'nats' | 'local' {
  const nats = args.given.has('nats');
  if (nats) {
    for (const f of LOCAL_ONLY) if (args.given.has(f)) throw new UsageError(`search: --${f} applies to a local --index, not to --nats`);
    if (!args.given.has('shards')) throw new UsageError('search: --nats needs --shards N (the shards of the service)');
    return 'nats';
  }
  for (const f of NATS_ONLY) if (args.given.has(f)) throw new UsageError(`search: --${f} only applies with --nats`);
  if (!args.given.has('index')) throw new UsageError('search: missing required flag --index INDEX (or --nats URL for a sharded service)');
  return 'local';
}

/** Runs `search --nats`. */
export async function runNatsSearch(args: ParsedArgs, io: CliIo): Promise<number> {
  const url = str(args, 'nats');
  const service = str(args, 'service', true) ?? 'webannolo';
  const shards = num(args, 'shards');
  const k = num(args, 'k');
  const ef = Math.max(num(args, 'ef'), k);
  const rerank = num(args, 'rerank', true) ?? 0;
  const batch = num(args, 'batch', true);
  const concurrency = num(args, 'concurrency', true) ?? 1;
  const outPath = str(args, 'out', true);
  const gtPath = str(args, 'groundtruth', true);
  const limit = num(args, 'limit', true);
  if (outPath !== undefined) checkWritable('out', outPath);
  const queriesPath = str(args, 'queries');
  const queries = await aboutFile(queriesPath, () => readDatasetFile(queriesPath, { format: str(args, 'format', true), limit }));
  const nq = queries.size;
  const truth = gtPath === undefined ? undefined : await aboutFile(gtPath, () => readIvecsFile(gtPath));
  if (truth && gtPath) {
    if (truth.rows < nq || (truth.rows > nq && limit === undefined))
      fail('DIMENSION_MISMATCH', `${gtPath} has ground truth for ${truth.rows} queries but ${queriesPath} has ${nq} queries`);
    if (truth.dim < k) fail('INVALID_ARGUMENT', `${gtPath} holds ${truth.dim} neighbours per query, fewer than k = ${k}`);
  }
  const filterLabel = num(args, 'filter-label', true);
  const queryLabels = str(args, 'query-labels', true);
  if (filterLabel !== undefined && queryLabels !== undefined)
    throw new UsageError('search: give --filter-label or --query-labels, not both');
  const filter = await searchFilter(filterLabel, queryLabels, nq);
  if (Array.isArray(filter) && batch !== undefined)
    throw new UsageError('search: --query-labels with --nats sends one query per request: leave out --batch');

  const loadStart = performance.now();
  const client = await ShardedClient.connect(url, {
    service,
    shards,
    ...(args.given.has('timeout-ms') ? { timeoutMs: num(args, 'timeout-ms') } : {}),
    ...(args.given.has('retries') ? { retries: num(args, 'retries') } : {}),
    allowPartial: args.given.has('allow-partial') && args.values.get('allow-partial') === true,
  });
  try {
    const infos = await client.shardInfos();
    const up = infos.filter((i) => i !== null);
    const down = infos.flatMap((i, s) => (i === null ? [s] : []));
    if (up.length === 0) fail('UNAVAILABLE', `service ${service} on ${url}: none of its ${shards} shards answered`);
    const dim = up[0]!.dim;
    if (queries.kind === 'dense' && queries.dim !== dim)
      fail('DIMENSION_MISMATCH', `${queriesPath} has vectors of dimension ${queries.dim}, but the service has dimension ${dim}`);
    const items = up.reduce((s, i) => s + i.items, 0);
    println(
      io.stdout,
      `service ${service} on ${url}: ${shards} shards${down.length ? ` (not answering: ${down.join(', ')})` : ''}, ${items} items of dimension ${dim}, metric ${up[0]!.metric}`,
    );
    const loadSeconds = secondsSince(loadStart);
    const params = (q: number) => {
      const f = Array.isArray(filter) ? filter[q] : filter;
      return { ef, ...(rerank > 0 ? { rerank } : {}), ...(f ? { filter: f as SearchFilter } : {}) };
    };
    const vectors: Vector[] = Array.from({ length: nq }, (_, q) => queries.get(q));
    const per = batch ?? 1;
    const runAll = async (count: number, out: (ShardedHits | undefined)[]) => {
      let next = 0;
      const worker = async () => {
        while (next < count) {
          const start = next;
          next = Math.min(count, start + per);
          const hits = await client.searchMany(vectors.slice(start, next), k, params(start));
          hits.forEach((h, i) => {
            out[start + i] = h;
          });
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
    };
    // Untimed first: the replicas' first searches run unoptimised code.
    const warmStart = performance.now();
    await runAll(Math.min(nq, 64), []);
    const warmupSeconds = secondsSince(warmStart);
    const results: (ShardedHits | undefined)[] = new Array(nq);
    const start = performance.now();
    await runAll(nq, results);
    const seconds = secondsSince(start);
    await report({ io, results: results as ShardedHits[], k, ef, rerank, batch, concurrency, seconds, truth, gtPath, outPath, filter });
    println(
      io.stdout,
      JSON.stringify({
        queries: nq,
        k,
        ef,
        ...(rerank > 0 ? { rerank } : {}),
        seconds: round(seconds),
        qps: qpsOf(nq, seconds),
        ...(truth ? { recall: round(recallOf(results as ShardedHits[], k, truth, gtPath!), 6) } : {}),
        ...(filter !== undefined ? { filtered: true } : {}),
        ...(batch !== undefined ? { batch } : {}),
        backend: 'nats',
        concurrency,
        service,
        shards,
        partialQueries: (results as ShardedHits[]).filter((r) => r.partial).length,
        index: 'sharded',
        loadSeconds: round(loadSeconds),
        warmupSeconds: round(warmupSeconds),
      }),
    );
    return 0;
  } finally {
    await client.close();
  }
}

interface Report {
  io: CliIo;
  results: ShardedHits[];
  k: number;
  ef: number;
  rerank: number;
  batch: number | undefined;
  concurrency: number;
  seconds: number;
  truth: { rows: number; dim: number; data: Int32Array } | undefined;
  gtPath: string | undefined;
  outPath: string | undefined;
  filter: unknown;
}

async function report(r: Report): Promise<void> {
  const nq = r.results.length;
  const mode = r.batch === undefined ? 'one per request' : `${r.batch} per request`;
  println(
    r.io.stdout,
    `searched ${nq} queries ${mode}, ${r.concurrency} in flight, k=${r.k}, ef=${r.ef}: ${formatSeconds(r.seconds)}, ${qpsOf(nq, r.seconds)} queries/s`,
  );
  const partial = r.results.filter((h) => h.partial).length;
  if (partial > 0)
    println(
      r.io.stdout,
      `${partial} queries answered without shard(s) ${[...new Set(r.results.flatMap((h) => h.missingShards))].join(', ')}`,
    );
  if (r.truth) println(r.io.stdout, `recall@${r.k}: ${recallOf(r.results, r.k, r.truth, r.gtPath!).toFixed(4)}`);
  const outPath = r.outPath;
  if (outPath !== undefined) {
    const bytes = outPath.endsWith('.txt')
      ? new TextEncoder().encode(
          `${r.results
            .map((h) =>
              padded(h.keys, r.k)
                .map((key) => String(key ?? -1))
                .join(','),
            )
            .join('\n')}\n`,
        )
      : writeIvecs(nq, r.k, numericKeys(r.results, r.k, outPath));
    await writingFile(outPath, () => writeFileAtomic(outPath, bytes));
    println(r.io.stdout, `wrote ${nq} x ${r.k} keys to ${outPath}`);
  }
}

function recallOf(results: ShardedHits[], k: number, truth: { rows: number; dim: number; data: Int32Array }, where: string): number {
  return recallAtK({ rows: results.length, dim: k, data: numericKeys(results, k, where) }, truth, k, results.length);
}

/** The keys as int32 (-1 where a query has fewer than k), for .ivecs and recall. */
function numericKeys(results: ShardedHits[], k: number, where: string): Int32Array {
  const out = new Int32Array(results.length * k).fill(-1);
  results.forEach((h, q) => {
    h.keys.slice(0, k).forEach((key, j) => {
      if (typeof key !== 'number' || key > 0x7fffffff)
        fail('INVALID_ARGUMENT', `${where}: key ${JSON.stringify(key)} is not an int32: write results to a .txt file`);
      out[q * k + j] = key;
    });
  });
  return out;
}

function padded(keys: readonly (ItemKey | null)[], k: number): (ItemKey | null)[] {
  return Array.from({ length: k }, (_, j) => keys[j] ?? null);
}

import { fail } from '../errors.js';
import { requestGpu } from '../gpu/device.js';
import type { Backend } from '../gpu/select.js';
import type { SearchFilter } from '../indexes/filter.js';
import { FlatIndex } from '../indexes/flat.js';
import { checkQueryAt, HnswIndex } from '../indexes/hnsw/hnsw-index.js';
import { resolveEf } from '../indexes/hnsw/index-options.js';
import type { AnyIndex } from '../indexes/index-codec.js';
import { DATA_FORMATS } from '../io/formats.js';
import { readDatasetFile, readIvecsFile } from '../node/index.js';
import { closeIndex, loadIndexFile } from '../node/index-files.js';
import type { BatchSearchResult, Dataset, GpuMode } from '../types.js';
import {
  aboutFile,
  type CliIo,
  type Command,
  checkWritable,
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
import { type IdRows, recallAtK } from './eval.js';
import { resultNumbers, searchFilter, writeResults } from './item-files.js';

/** Checks that `queries` fit `index` (kind and dimension) with one clear message. */
export function checkQueriesFit(index: AnyIndex, queries: Dataset, queriesPath: string): void {
  const storeKind = index.store.kind;
  if (queries.kind === 'dense' && storeKind === 'sparse') {
    fail('INVALID_ARGUMENT', `${queriesPath} holds dense vectors but the index holds sparse vectors`);
  }
  if (queries.kind === 'sparse' && storeKind !== 'sparse') {
    fail('INVALID_ARGUMENT', `${queriesPath} holds sparse vectors but the index holds ${storeKind} vectors`);
  }
  if (queries.kind === 'dense' && queries.dim !== index.dim) {
    fail('DIMENSION_MISMATCH', `${queriesPath} has vectors of dimension ${queries.dim}, but the index has dimension ${index.dim}`);
  }
  // Sparse queries (ids below the index's dimension), finite values, ...: the store decides.
  for (let q = 0; q < queries.size; q++) aboutFileSync(queriesPath, () => checkQueryAt(index.store, queries, q));
}

function aboutFileSync(path: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof Error && !err.message.includes(path)) err.message = `${path}: ${err.message}`;
    throw err;
  }
}

/** `webannolo search`: queries against a saved index, timed, with optional recall. */
export const searchCommand: Command = {
  name: 'search',
  summary: 'search a saved index with a query file; time it, write results, compute recall',
  synopsis:
    '--index INDEX --queries FILE [--k 10] [--ef 100] [--batch N [--threads N]] [--rerank N [--rerank-from memory|disk]] [--out RESULTS.ivecs|.txt] [--groundtruth GT.ivecs] [--format F] [--limit N] [--filter-label N | --query-labels FILE] [--lambda X] [--warmup 32] [--warmup-seconds 0.15]',
  flags: [
    { name: 'index', type: 'string', placeholder: 'INDEX', required: true, help: 'index file written by `build`' },
    { name: 'queries', type: 'string', placeholder: 'FILE', required: true, help: 'query vectors (same formats as datasets)' },
    { name: 'k', type: 'int', min: 1, default: 10, help: 'neighbours per query' },
    { name: 'ef', type: 'int', min: 1, default: 100, help: 'HNSW search beam width (raised to k; ignored by flat indexes)' },
    {
      name: 'rerank',
      type: 'int',
      min: 0,
      placeholder: 'N',
      help: 'PQ indexes: re-score the best N candidates (at most ef) by their plain vectors (needs an index built with --keep-plain)',
    },
    {
      name: 'rerank-from',
      type: 'enum',
      values: ['memory', 'disk'],
      default: 'memory',
      help: 'where the re-ranking vectors are read from: loaded into memory, or read from the index file per query',
    },
    { name: 'batch', type: 'int', min: 1, placeholder: 'N', help: 'search N queries at a time with searchBatch (default: one at a time)' },
    {
      name: 'backend',
      type: 'enum',
      values: ['cpu', 'gpu', 'auto'],
      default: 'cpu',
      help: "with --batch: cpu, gpu (WebGPU; an error without an adapter), or auto (chosen by measuring the CPU, the device's round trip and the GPU's speed; a software adapter stays on the CPU)",
    },
    {
      name: 'gpu-mode',
      type: 'enum',
      values: ['resident', 'hybrid'],
      placeholder: 'MODE',
      help: 'with --backend gpu|auto on hnsw: resident (the whole search in one GPU kernel, the default) or hybrid (beam on the CPU, distances on the GPU per round)',
    },
    {
      name: 'width',
      type: 'int',
      min: 1,
      max: 64,
      placeholder: 'W',
      help: 'with --batch: candidates each query expands per round (default 1 on the hybrid path, 64 / (2m) on the resident one)',
    },
    {
      name: 'out',
      type: 'string',
      placeholder: 'RESULTS.ivecs',
      help: 'write the k ids (keys, for an index with keys) of every query as .ivecs, or as text lines with .txt (atomically); -1 pads a query with fewer than k allowed items',
    },
    {
      name: 'filter-label',
      type: 'int',
      min: 0,
      max: 0xffffffff,
      placeholder: 'N',
      help: 'hnsw with labels: only items carrying label N, for every query',
    },
    {
      name: 'query-labels',
      type: 'string',
      placeholder: 'FILE',
      help: 'hnsw with labels: a label per query line (an empty line: that query is unfiltered)',
    },
    { name: 'groundtruth', type: 'string', placeholder: 'GT.ivecs', help: 'true neighbours (.ivecs, >= k per query): report recall@k' },
    {
      name: 'format',
      type: 'enum',
      values: DATA_FORMATS,
      placeholder: 'FORMAT',
      help: `query file format, overriding the extension: ${DATA_FORMATS.join(', ')}`,
    },
    { name: 'limit', type: 'int', min: 1, help: 'use only the first N queries' },
    {
      name: 'lambda',
      type: 'number',
      min: 0,
      placeholder: 'X',
      help: 'hnsw: distance-adaptive early termination, stop when the best unexpanded candidate is worse than the k-th result by more than X x its distance (ef stays the cap; see docs/early-termination.md)',
    },
    {
      name: 'warmup',
      type: 'int',
      min: 0,
      default: 32,
      help: 'one-at-a-time search: first run at least N queries untimed (cycling through the set), so the timed loop runs compiled code as a long-lived process would (the time is reported as warmupSeconds); 0: none',
    },
    {
      name: 'warmup-seconds',
      type: 'number',
      min: 0,
      default: 0.15,
      placeholder: 'S',
      help: 'one-at-a-time search: keep warming up until S seconds have passed too (the JIT needs time, not a query count: a small index settles after more queries than a large one); with --warmup 0 and no --warmup-seconds: no warm-up',
    },
    {
      name: 'threads',
      type: 'int',
      min: 1,
      max: 1024,
      placeholder: 'N',
      help: 'with --batch on the CPU: worker threads sharing the queries (default: every core)',
    },
  ],
  notes:
    'The last line of stdout is one JSON object: {"queries","k","ef","rerank"?,"rerankFrom"?,"lambda"?,"seconds","qps","recall"?,"filtered"?,"batch"?,"backend","device"?,"gpuMode"?,"roundTrips"?,"bytesUp"?,"bytesDown"?,"hostMs"?,"threads"?,...,"index","loadSeconds","warmupSeconds"?}; the GPU counters and threads come with --batch; loadSeconds is the time to read and check the index file, warmupSeconds that of the untimed warm-up searches (--warmup, --warmup-seconds).',
  async run(args, io) {
    const indexPath = str(args, 'index');
    const outPath = str(args, 'out', true);
    const rerank = num(args, 'rerank', true) ?? 0;
    const rerankFrom = str(args, 'rerank-from') as 'memory' | 'disk';
    if (args.given.has('rerank-from') && rerank === 0) throw new UsageError('search: --rerank-from only applies with --rerank N');
    if (outPath !== undefined) checkWritable('out', outPath);

    const loadStart = performance.now();
    const index = await aboutFile(indexPath, () => loadIndexFile(indexPath, { rerank: rerank > 0 ? rerankFrom : 'memory' }));
    const loadSeconds = secondsSince(loadStart);
    try {
      return await searchIndex(index, rerank, rerankFrom, args, io, loadSeconds);
    } finally {
      closeIndex(index);
    }
  },
};

/** Searches a loaded index (the caller closes it) and reports, like `search` documents. */
async function searchIndex(
  index: AnyIndex,
  rerank: number,
  rerankFrom: string,
  args: ParsedArgs,
  io: CliIo,
  loadSeconds: number,
): Promise<number> {
  const indexPath = str(args, 'index');
  const queriesPath = str(args, 'queries');
  const k = num(args, 'k');
  const batch = num(args, 'batch', true);
  const outPath = str(args, 'out', true);
  const gtPath = str(args, 'groundtruth', true);
  const limit = num(args, 'limit', true);
  const queries = await aboutFile(queriesPath, () => readDatasetFile(queriesPath, { format: str(args, 'format', true), limit }));
  const kind = index instanceof HnswIndex ? 'hnsw' : 'flat';
  const rerankStore = index instanceof HnswIndex ? index.rerankStore : null;
  const kept =
    rerankStore === null
      ? ''
      : `, plain vectors kept for re-ranking (${rerank > 0 && rerankFrom === 'disk' ? 'read from disk' : 'in memory'})`;
  println(
    io.stdout,
    `index ${indexPath}: ${kind}, ${index.size} ${index.store.kind} vectors of dimension ${index.dim}, metric ${index.metric}${kept}`,
  );
  if (rerank > 0 && kind === 'flat')
    fail(
      'INVALID_ARGUMENT',
      `${indexPath}: --rerank applies to hnsw indexes; a flat index scores every item and keeps no plain vectors to re-rank with`,
    );
  if (rerank > 0 && rerankStore === null) {
    fail(
      'INVALID_ARGUMENT',
      `${indexPath}: rerank needs the plain vectors: this index does not keep them (built with --keep-plain false, or not quantized)`,
    );
  }
  if (k > index.size) fail('INVALID_ARGUMENT', `k = ${k} is larger than the index (${index.size} items)`);
  checkQueriesFit(index, queries, queriesPath);
  // Ground truth is read before searching, so a bad file fails before the (long) search.
  let truth: IdRows | undefined;
  if (gtPath !== undefined) {
    truth = await aboutFile(gtPath, () => readIvecsFile(gtPath));
    if (truth.rows < queries.size || (truth.rows > queries.size && limit === undefined)) {
      fail('DIMENSION_MISMATCH', `${gtPath} has ground truth for ${truth.rows} queries but ${queriesPath} has ${queries.size} queries`);
    }
    if (truth.dim < k) fail('INVALID_ARGUMENT', `${gtPath} holds ${truth.dim} neighbours per query, fewer than k = ${k}`);
  }

  const ef = index instanceof HnswIndex ? resolveEf(num(args, 'ef'), k) : null;
  const filterLabel = num(args, 'filter-label', true);
  const queryLabels = str(args, 'query-labels', true);
  if (filterLabel !== undefined && queryLabels !== undefined)
    throw new UsageError('search: give --filter-label or --query-labels, not both');
  if ((filterLabel !== undefined || queryLabels !== undefined) && !(index instanceof HnswIndex))
    throw new UsageError('search: --filter-label and --query-labels apply to hnsw indexes');
  const filter = await searchFilter(filterLabel, queryLabels, queries.size);
  if (filter !== undefined && (index as HnswIndex).labels === null)
    fail('INVALID_ARGUMENT', `${indexPath} has no labels: build it with --labels FILE to filter by label`);
  const requested = str(args, 'backend') as Backend;
  if (requested !== 'cpu' && batch === undefined)
    throw new UsageError(`search: --backend ${requested} needs --batch N (one query at a time runs on the CPU)`);
  const width = num(args, 'width', true);
  const threadsWanted = num(args, 'threads', true);
  if (threadsWanted !== undefined && batch === undefined)
    throw new UsageError('search: --threads needs --batch N (one query at a time runs on this thread)');
  const gpuMode = str(args, 'gpu-mode', true) as GpuMode | undefined;
  if (gpuMode !== undefined && requested === 'cpu') throw new UsageError('search: --gpu-mode needs --backend gpu or auto');
  const gpuWanted = requested !== 'cpu' ? await requestGpu() : null;
  if (requested === 'gpu' && gpuWanted === null) {
    fail(
      'NO_GPU',
      'no WebGPU adapter found (without a GPU: install chromium and libvulkan1 and set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json), or use --backend auto',
    );
  }
  let device: string | undefined;
  const nq = queries.size;
  let ids: Int32Array;
  let backend = 'cpu';
  let counters: Pick<BatchSearchResult, 'gpuMode' | 'roundTrips' | 'bytesUp' | 'bytesDown' | 'hostMs' | 'threads'> | undefined;
  let seconds: number;
  const warmup = num(args, 'warmup');
  const lambda = num(args, 'lambda', true);
  if (lambda !== undefined && !(index instanceof HnswIndex)) throw new UsageError('search: --lambda applies to hnsw indexes');
  if (lambda !== undefined && filter !== undefined)
    throw new UsageError('search: --lambda applies to unfiltered searches (filtered ones stop at ef)');
  if (lambda !== undefined && requested === 'gpu')
    throw new UsageError('search: --lambda is a CPU stopping rule; the GPU kernels stop at ef (leave out --backend gpu)');
  // `--warmup 0` alone means no warm-up at all; an explicit --warmup-seconds still applies.
  const warmupFor = args.given.has('warmup-seconds') || warmup > 0 ? num(args, 'warmup-seconds') : 0;
  for (const name of ['warmup', 'warmup-seconds']) {
    if (args.given.has(name) && batch !== undefined)
      throw new UsageError(`search: --${name} applies to one-at-a-time search (without --batch)`);
  }
  let warmupSeconds: number | undefined;
  if (batch === undefined) {
    ids = new Int32Array(nq * k);
    const searchOne = (q: number): Int32Array => {
      if (!(index instanceof HnswIndex)) return index.search(queries.get(q), k).ids;
      const f = Array.isArray(filter) ? filter[q] : filter;
      return index.search(queries.get(q), k, {
        ef: ef!,
        rerank,
        ...(lambda !== undefined ? { lambda } : {}),
        ...(f ? { filter: f as SearchFilter } : {}),
      }).ids;
    };
    // A fresh process runs its first searches in unoptimised code; untimed ones first make the
    // timed loop measure what a long-lived process would (the bench's protocol too). Measured on
    // MNIST 30k: 32 queries left the timed loop at 0.86-0.93x of steady speed, the JIT settling
    // only after ~0.1 s of searching, hence a time floor besides the count.
    if ((warmup > 0 || warmupFor > 0) && nq > 0) {
      const warmStart = performance.now();
      for (let done = 0; done < warmup || secondsSince(warmStart) < warmupFor; done++) searchOne(done % nq);
      warmupSeconds = secondsSince(warmStart);
    }
    const start = performance.now();
    for (let q = 0; q < nq; q++) ids.set(searchOne(q), q * k);
    seconds = secondsSince(start);
  } else {
    const start = performance.now();
    if (threadsWanted !== undefined && index instanceof FlatIndex) throw new UsageError('search: --threads applies to hnsw indexes');
    const r =
      index instanceof FlatIndex
        ? await index.searchBatch(queries, k, { backend: requested, gpu: gpuWanted })
        : await index.searchBatch(queries, k, {
            ef: ef!,
            rerank,
            batchSize: batch,
            ...(width !== undefined ? { width } : {}),
            ...(gpuMode ? { gpuMode } : {}),
            ...(threadsWanted !== undefined ? { threads: threadsWanted } : {}),
            ...(filter !== undefined ? { filter } : {}),
            ...(lambda !== undefined ? { lambda } : {}),
            backend: requested,
            gpu: gpuWanted,
          });
    seconds = secondsSince(start);
    ids = r.ids;
    backend = r.backend;
    device = r.device;
    counters = {
      gpuMode: r.gpuMode,
      roundTrips: r.roundTrips,
      bytesUp: r.bytesUp,
      bytesDown: r.bytesDown,
      hostMs: round(r.hostMs, 3),
      threads: r.threads,
    };
  }
  const qps = qpsOf(nq, seconds);
  const mode = batch === undefined ? 'one at a time' : `in batches of ${batch}`;
  const rr = rerank > 0 ? `, re-ranking ${rerank} (vectors from ${rerankFrom})` : '';
  println(
    io.stdout,
    `searched ${nq} queries ${mode}, k=${k}${ef === null ? '' : `, ef=${ef}`}${rr}: ${formatSeconds(seconds)}, ${qps} queries/s`,
  );

  const hnsw = index instanceof HnswIndex ? index : null;
  let recall: number | undefined;
  if (truth) {
    recall = recallAtK({ rows: nq, dim: k, data: resultNumbers(hnsw, ids, gtPath!) }, truth, k, nq);
    println(io.stdout, `recall@${k}: ${recall.toFixed(4)}`);
  }
  if (outPath !== undefined) {
    await writingFile(outPath, () => writeResults(outPath, hnsw, ids, nq, k));
    println(io.stdout, `wrote ${nq} x ${k} ${hnsw?.keys ? 'keys' : 'ids'} to ${outPath}`);
  }
  const json: Record<string, unknown> = { queries: nq, k, ef };
  if (rerank > 0) Object.assign(json, { rerank, rerankFrom });
  if (lambda !== undefined) json['lambda'] = lambda;
  Object.assign(json, { seconds: round(seconds), qps });
  if (recall !== undefined) json['recall'] = round(recall, 6);
  if (filter !== undefined) json['filtered'] = true;
  if (batch !== undefined) json['batch'] = batch;
  json['backend'] = backend;
  if (device !== undefined) json['device'] = device;
  if (counters) Object.assign(json, counters);
  json['index'] = kind;
  // Reading and checking the index file, apart from the search's own time.
  json['loadSeconds'] = round(loadSeconds);
  if (warmupSeconds !== undefined) json['warmupSeconds'] = round(warmupSeconds);
  println(io.stdout, JSON.stringify(json));
  return 0;
}

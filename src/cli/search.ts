import { DATA_FORMATS } from '../io/formats.js';
import { closeIndex, loadIndexFile } from '../node/index-files.js';
import { aboutFile, type Command, checkWritable, num, secondsSince, str, UsageError } from './args.js';
import { checkSearchTarget, NATS_SEARCH_FLAGS, runNatsSearch } from './search-nats.js';
import { reportSearch } from './search-report.js';
import { type RerankFrom, readSearchRequest } from './search-request.js';
import { runSearches } from './search-run.js';

// The command in three steps, a file each: search-request.ts reads and checks the flags, queries
// and ground truth before any searching; search-run.ts times the searches; search-report.ts prints.

/** `webannolo search`: queries against a saved index, timed, with optional recall. */
export const searchCommand: Command = {
  name: 'search',
  summary: 'search a saved index with a query file; time it, write results, compute recall',
  synopsis:
    '(--index INDEX | --nats URL --shards N [--service NAME] [--concurrency C] [--timeout-ms MS] [--retries N] [--allow-partial]) --queries FILE [--k 10] [--ef 100] [--batch N [--threads N] [--backend cpu|gpu|auto [--gpu-mode resident|hybrid]] [--width W]] [--rerank N [--rerank-from memory|disk]] [--out RESULTS.ivecs|.txt] [--groundtruth GT.ivecs [--groundtruth-in auto|ids|keys]] [--format F] [--limit N] [--filter-label N | --query-labels FILE] [--lambda X] [--warmup 32] [--warmup-seconds 0.15]',
  flags: [
    { name: 'index', type: 'string', placeholder: 'INDEX', help: 'index file written by `build` (required unless --nats)' },
    { name: 'queries', type: 'string', placeholder: 'FILE', required: true, help: 'query vectors (same formats as datasets)' },
    { name: 'k', type: 'int', min: 1, default: 10, help: 'neighbours per query' },
    { name: 'ef', type: 'int', min: 1, default: 100, help: 'HNSW search beam width (raised to k; ignored by flat indexes)' },
    {
      name: 'rerank',
      type: 'int',
      min: 0,
      placeholder: 'N',
      help: 'quantized indexes: re-score the best N candidates (at most ef: more is an error) by the re-ranking store of the index: its plain vectors, or the f16/sq8 codes of build --rerank-codes (needs an index built with --keep-plain)',
    },
    {
      name: 'rerank-from',
      type: 'enum',
      values: ['memory', 'disk'],
      default: 'memory',
      help: 'where the re-ranking vectors are read from: loaded into memory, or read from the index file per query (plain f32 vectors only: an index built with --rerank-codes f16|sq8 re-ranks from memory)',
    },
    {
      name: 'batch',
      type: 'int',
      min: 1,
      placeholder: 'N',
      help: 'search N queries at a time with searchBatch (default: one at a time), timed after an untimed first batch that starts the workers (startSeconds)',
    },
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
    {
      name: 'groundtruth',
      type: 'string',
      placeholder: 'GT.ivecs',
      help: "true neighbours (.ivecs, >= k per query): report recall@k; an index with keys compares by id (the items' rows in the data) or by key, see --groundtruth-in",
    },
    {
      name: 'groundtruth-in',
      type: 'enum',
      values: ['auto', 'ids', 'keys'],
      default: 'auto',
      help: "what --groundtruth holds: item ids (rows of the data the index was built from; added items: the ids add gave them) or the index's numeric keys; auto: ids unless the index has numeric keys that fit the file better",
    },
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
    ...NATS_SEARCH_FLAGS,
  ],
  notes:
    'The last line of stdout is one JSON object: {"queries","k","ef","rerank"?,"rerankFrom"?,"rerankedPerQuery"?,"lambda"?,"seconds","qps","recall"?,"groundtruthIn"?,"filtered"?,"batch"?,"backend","device"?,"gpuMode"?,"roundTrips"?,"bytesUp"?,"bytesDown"?,"hostMs"?,"threads"?,...,"index","loadSeconds","warmupSeconds"?,"startSeconds"?}; the GPU counters and threads come with --batch; loadSeconds is the time to read and check the index file, warmupSeconds that of the untimed warm-up searches (--warmup, --warmup-seconds), startSeconds (with --batch) that of the untimed first batch of up to 256 queries that starts the worker threads (or copies the index to the GPU), so that seconds and qps are those of a warm searchBatch. groundtruthIn says whether recall compared item ids or keys (--groundtruth-in). rerankedPerQuery (with --rerank) is the mean number of candidates per timed query that re-ranking scored with the re-ranking store: at most max(--rerank, k), fewer on a RaBitQ index, whose bounds rule candidates out. k is at most the number of items in the index; --rerank at most ef.',
  async run(args, io) {
    if (checkSearchTarget(args) === 'nats') return runNatsSearch(args, io);
    const indexPath = str(args, 'index');
    const outPath = str(args, 'out', true);
    const rerank = num(args, 'rerank', true) ?? 0;
    const rerankFrom = str(args, 'rerank-from') as RerankFrom;
    if (args.given.has('rerank-from') && rerank === 0) throw new UsageError('search: --rerank-from only applies with --rerank N');
    if (args.given.has('groundtruth-in') && !args.given.has('groundtruth'))
      throw new UsageError('search: --groundtruth-in only applies with --groundtruth FILE');
    if (outPath !== undefined) checkWritable('out', outPath);

    const loadStart = performance.now();
    const index = await aboutFile(indexPath, () => loadIndexFile(indexPath, { rerank: rerank > 0 ? rerankFrom : 'memory' }));
    const loadSeconds = secondsSince(loadStart);
    try {
      const request = await readSearchRequest(index, rerank, rerankFrom, args, io);
      await reportSearch(request, await runSearches(request), loadSeconds, io);
      return 0;
    } finally {
      closeIndex(index);
    }
  },
};

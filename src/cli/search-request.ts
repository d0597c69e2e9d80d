import { fail } from '../errors.js';
import { type GpuContext, requestGpu } from '../gpu/device.js';
import type { Backend } from '../gpu/select.js';
import type { SearchFilter } from '../indexes/filter.js';
import { FlatIndex } from '../indexes/flat.js';
import { checkQueryAt, HnswIndex } from '../indexes/hnsw/hnsw-index.js';
import type { AnyIndex } from '../indexes/index-codec.js';
import { readDatasetFile, readIvecsFile } from '../node/index.js';
import type { Dataset, GpuMode } from '../types.js';
import { aboutFile, type CliIo, num, type ParsedArgs, println, str, UsageError } from './args.js';
import type { IdRows } from './eval.js';
import { searchFilter } from './item-files.js';

export type RerankFrom = 'memory' | 'disk';

/** What the ground truth's numbers are: the items' ids (their rows in the data), or their keys. */
export type GroundtruthIn = 'ids' | 'keys';

/**
 * What `webannolo search` was asked to do: its flags read and checked against the loaded index,
 * its queries and ground truth read, so every mistake is reported before the (long) search starts.
 */
export interface SearchRequest {
  readonly index: AnyIndex;
  /** The index when it is an HNSW one (keys, labels, ef), null for a flat index. */
  readonly hnsw: HnswIndex | null;
  readonly queries: Dataset;
  readonly k: number;
  /** HNSW beam width, raised to k; null for a flat index. */
  readonly ef: number | null;
  /** Candidates re-scored by their plain vectors (0: none), and where those vectors are read. */
  readonly rerank: number;
  readonly rerankFrom: RerankFrom;
  readonly lambda: number | undefined;
  /** One filter for every query, one per query (null: unfiltered), or none. */
  readonly filter: SearchFilter | (SearchFilter | null)[] | undefined;
  /** Queries per searchBatch call; undefined: one query at a time. */
  readonly batch: number | undefined;
  readonly backend: Backend;
  /** The WebGPU device when the backend may use one (null: none found, or backend cpu). */
  readonly gpu: GpuContext | null;
  readonly gpuMode: GpuMode | undefined;
  readonly width: number | undefined;
  readonly threads: number | undefined;
  /** One-at-a-time search: at least this many untimed queries, and for at least `warmupFor` seconds. */
  readonly warmup: number;
  readonly warmupFor: number;
  readonly truth: IdRows | undefined;
  /** How the results are compared with the ground truth (see groundtruthUnits). */
  readonly groundtruthIn: GroundtruthIn | undefined;
  readonly groundtruthPath: string | undefined;
  readonly outPath: string | undefined;
}

/**
 * Reads the queries (and ground truth) and checks the flags against `index`, in the order a
 * user meets the mistakes; prints the line that describes the index.
 */
export async function readSearchRequest(
  index: AnyIndex,
  rerank: number,
  rerankFrom: RerankFrom,
  args: ParsedArgs,
  io: CliIo,
): Promise<SearchRequest> {
  const indexPath = str(args, 'index');
  const queriesPath = str(args, 'queries');
  const k = num(args, 'k');
  const batch = num(args, 'batch', true);
  const outPath = str(args, 'out', true);
  const gtPath = str(args, 'groundtruth', true);
  const limit = num(args, 'limit', true);
  const queries = await aboutFile(queriesPath, () => readDatasetFile(queriesPath, { format: str(args, 'format', true), limit }));
  const hnsw = index instanceof HnswIndex ? index : null;
  const rerankStore = hnsw ? hnsw.rerankStore : null;
  const kept =
    rerankStore === null
      ? ''
      : `, ${rerankStore.kind === 'f16' || rerankStore.kind === 'sq8' ? `${rerankStore.kind} codes` : 'plain vectors'} kept for re-ranking (${rerank > 0 && rerankFrom === 'disk' ? 'read from disk' : 'in memory'})`;
  println(
    io.stdout,
    `index ${indexPath}: ${hnsw ? 'hnsw' : 'flat'}, ${index.size} ${index.store.kind} vectors of dimension ${index.dim}, metric ${index.metric}${kept}`,
  );
  if (rerank > 0 && !hnsw)
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
  if (outPath !== undefined && !outPath.endsWith('.txt') && hnsw?.keys?.kind === 'string')
    fail(
      'INVALID_ARGUMENT',
      `--out ${outPath}: this index has string keys, which an .ivecs file cannot hold: write results to a .txt file`,
    );
  // Ground truth is read before searching, so a bad file fails before the (long) search.
  let truth: IdRows | undefined;
  if (gtPath !== undefined) {
    truth = await aboutFile(gtPath, () => readIvecsFile(gtPath));
    if (truth.rows < queries.size || (truth.rows > queries.size && limit === undefined)) {
      fail('DIMENSION_MISMATCH', `${gtPath} has ground truth for ${truth.rows} queries but ${queriesPath} has ${queries.size} queries`);
    }
    if (truth.dim < k) fail('INVALID_ARGUMENT', `${gtPath} holds ${truth.dim} neighbours per query, fewer than k = ${k}`);
  }
  const groundtruthIn = truth ? groundtruthUnits(hnsw, truth, queries.size, k, str(args, 'groundtruth-in'), gtPath!) : undefined;

  const ef = hnsw ? num(args, 'ef') : null;
  if (ef !== null && rerank > Math.max(ef, k))
    throw new UsageError(
      `search: --rerank ${rerank} is larger than ef = ${Math.max(ef, k)}: re-ranking takes its candidates from the beam of ef; give --ef ${rerank} or more, or a smaller --rerank`,
    );
  const filterLabel = num(args, 'filter-label', true);
  const queryLabels = str(args, 'query-labels', true);
  if (filterLabel !== undefined && queryLabels !== undefined)
    throw new UsageError('search: give --filter-label or --query-labels, not both');
  if ((filterLabel !== undefined || queryLabels !== undefined) && !hnsw)
    throw new UsageError('search: --filter-label and --query-labels apply to hnsw indexes');
  const filter = await searchFilter(filterLabel, queryLabels, queries.size);
  if (filter !== undefined && hnsw?.labels === null)
    fail('INVALID_ARGUMENT', `${indexPath} has no labels: build it with --labels FILE to filter by label`);
  const backend = str(args, 'backend') as Backend;
  if (backend !== 'cpu' && batch === undefined)
    throw new UsageError(`search: --backend ${backend} needs --batch N (one query at a time runs on the CPU)`);
  const width = num(args, 'width', true);
  const threads = num(args, 'threads', true);
  if (threads !== undefined && batch === undefined)
    throw new UsageError('search: --threads needs --batch N (one query at a time runs on this thread)');
  const gpuMode = str(args, 'gpu-mode', true) as GpuMode | undefined;
  if (gpuMode !== undefined && backend === 'cpu') throw new UsageError('search: --gpu-mode needs --backend gpu or auto');
  const gpu = backend !== 'cpu' ? await requestGpu() : null;
  if (backend === 'gpu' && gpu === null) {
    fail(
      'NO_GPU',
      'no WebGPU adapter found (without a GPU: install chromium and libvulkan1 and set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json), or use --backend auto',
    );
  }
  const warmup = num(args, 'warmup');
  const lambda = num(args, 'lambda', true);
  if (lambda !== undefined && !hnsw) throw new UsageError('search: --lambda applies to hnsw indexes');
  if (lambda !== undefined && filter !== undefined)
    throw new UsageError('search: --lambda applies to unfiltered searches (filtered ones stop at ef)');
  if (lambda !== undefined && backend === 'gpu')
    throw new UsageError('search: --lambda is a CPU stopping rule; the GPU kernels stop at ef (leave out --backend gpu)');
  // `--warmup 0` alone means no warm-up at all; an explicit --warmup-seconds still applies.
  const warmupFor = args.given.has('warmup-seconds') || warmup > 0 ? num(args, 'warmup-seconds') : 0;
  for (const name of ['warmup', 'warmup-seconds']) {
    if (args.given.has(name) && batch !== undefined)
      throw new UsageError(`search: --${name} applies to one-at-a-time search (without --batch)`);
  }
  if (threads !== undefined && index instanceof FlatIndex) throw new UsageError('search: --threads applies to hnsw indexes');
  return {
    index,
    hnsw,
    queries,
    k,
    ef: ef === null ? null : Math.max(ef, k),
    rerank,
    rerankFrom,
    lambda,
    filter,
    batch,
    backend,
    gpu,
    gpuMode,
    width,
    threads,
    warmup,
    warmupFor,
    truth,
    groundtruthIn,
    groundtruthPath: gtPath,
    outPath,
  };
}

/**
 * Whether the ground truth holds item ids (rows of the data the index was built from: the usual
 * .ivecs of a benchmark) or keys. An index without keys, or with string keys (which an .ivecs
 * cannot hold), is compared by id. With numeric keys, `auto` looks at the ground truth's first
 * k per query: the reading under which more of its numbers are items of the index wins; where
 * both fit equally and they name different items, the user has to say (--groundtruth-in).
 */
function groundtruthUnits(hnsw: HnswIndex | null, truth: IdRows, queries: number, k: number, asked: string, gtPath: string): GroundtruthIn {
  const keys = hnsw?.keys ?? null;
  if (asked === 'keys' && (hnsw === null || keys === null))
    throw new UsageError(`search: --groundtruth-in keys needs an index with keys; this one knows its items by id`);
  if (asked === 'keys' && keys?.kind === 'string')
    throw new UsageError(
      `search: --groundtruth-in keys: this index has string keys, which an .ivecs ground truth cannot hold; give it in ids`,
    );
  if (asked === 'ids' || asked === 'keys') return asked;
  if (hnsw === null || keys === null || keys.kind === 'string') return 'ids';
  let asIds = 0;
  let asKeys = 0;
  let differ = false;
  for (let q = 0; q < queries; q++) {
    for (let j = 0; j < k; j++) {
      const v = truth.data[q * truth.dim + j]!;
      if (v < 0) continue;
      const keyOfId = hnsw.keyOf(v);
      if (keyOfId !== null) asIds++;
      if (hnsw.idOf(v) >= 0) asKeys++;
      if (keyOfId !== v) differ = true;
    }
  }
  if (asKeys > asIds) return 'keys';
  if (asIds > asKeys || !differ) return 'ids';
  throw new UsageError(
    `search: ${gtPath} reads as item ids and as keys alike (this index's numeric keys differ from its ids): say which with --groundtruth-in ids|keys`,
  );
}

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

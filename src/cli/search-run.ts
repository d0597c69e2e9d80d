import type { SearchFilter } from '../indexes/filter.js';
import { FlatIndex } from '../indexes/flat.js';
import type { BatchSearchResult, Dataset, SearchResult, Vector } from '../types.js';
import { round, secondsSince } from './args.js';
import type { SearchRequest } from './search-request.js';

/** What a timed `webannolo search` produced: the ids, k per query, and the figures it reports. */
export interface SearchRun {
  readonly ids: Int32Array;
  /** The timed searches only: neither loading nor warm-up. */
  readonly seconds: number;
  readonly backend: string;
  readonly device: string | undefined;
  /** searchBatch's GPU and thread counters (rounded for the report); undefined one at a time. */
  readonly counters: Pick<BatchSearchResult, 'gpuMode' | 'roundTrips' | 'bytesUp' | 'bytesDown' | 'hostMs' | 'threads'> | undefined;
  readonly warmupSeconds: number | undefined;
  /** With --rerank: the candidates re-ranking scored over the timed queries (SearchResult.reranked summed). */
  readonly reranked: number | undefined;
  /** --batch: the untimed warm-up batch (worker start, index shared or uploaded, first searches). */
  readonly startSeconds: number | undefined;
}

/** Runs the request's searches, one query at a time or in batches, and times them. */
export async function runSearches(req: SearchRequest): Promise<SearchRun> {
  return req.batch === undefined ? searchOneAtATime(req) : searchInBatches(req, req.batch);
}

function searchOneAtATime(req: SearchRequest): SearchRun {
  const { index, queries, k, ef, rerank, lambda, filter, warmup, warmupFor } = req;
  const nq = queries.size;
  const ids = new Int32Array(nq * k);
  const searchOne = (q: number): SearchResult => {
    if (index instanceof FlatIndex) return index.search(queries.get(q), k);
    const f = Array.isArray(filter) ? filter[q] : filter;
    return index.search(queries.get(q), k, {
      ef: ef!,
      rerank,
      ...(lambda !== undefined ? { lambda } : {}),
      ...(f ? { filter: f as SearchFilter } : {}),
    });
  };
  // A fresh process runs its first searches in unoptimised code; untimed ones first make the
  // timed loop measure what a long-lived process would (the bench's protocol too). A count of
  // queries alone left the timed loop short of steady speed: the JIT settles only after some
  // time spent searching, hence a time floor besides the count (bench/README.md, "Figures
  // behind tuned constants").
  let warmupSeconds: number | undefined;
  if ((warmup > 0 || warmupFor > 0) && nq > 0) {
    const warmStart = performance.now();
    for (let done = 0; done < warmup || secondsSince(warmStart) < warmupFor; done++) searchOne(done % nq);
    warmupSeconds = secondsSince(warmStart);
  }
  let reranked = 0;
  const start = performance.now();
  for (let q = 0; q < nq; q++) {
    const r = searchOne(q);
    ids.set(r.ids, q * k);
    reranked += r.reranked ?? 0;
  }
  return {
    ids,
    seconds: secondsSince(start),
    reranked: rerank > 0 ? reranked : undefined,
    backend: 'cpu',
    device: undefined,
    counters: undefined,
    warmupSeconds,
    startSeconds: undefined,
  };
}

/** Queries of the untimed warm-up batch of `search --batch` (fewer when the query set is smaller). */
const BATCH_WARMUP_QUERIES = 256;

async function searchInBatches(req: SearchRequest, batch: number): Promise<SearchRun> {
  const { index, queries, k, ef, rerank, lambda, filter, backend, gpu, gpuMode, width, threads } = req;
  const searchBatch = (qs: Dataset | Vector[], f: SearchRequest['filter']): Promise<BatchSearchResult> =>
    index instanceof FlatIndex
      ? index.searchBatch(qs, k, { backend, gpu })
      : index.searchBatch(qs, k, {
          ef: ef!,
          rerank,
          batchSize: batch,
          ...(width !== undefined ? { width } : {}),
          ...(gpuMode ? { gpuMode } : {}),
          ...(threads !== undefined ? { threads } : {}),
          ...(f !== undefined ? { filter: f } : {}),
          ...(lambda !== undefined ? { lambda } : {}),
          backend,
          gpu,
        });
  // The cold start (worker threads started and given the index, the index copied to the GPU,
  // the first searches in unoptimised code) is timed apart, as startSeconds: the timed batch
  // then measures what a long-lived process's searchBatch does.
  const warmCount = Math.min(queries.size, BATCH_WARMUP_QUERIES);
  const warmStart = performance.now();
  if (warmCount > 0) {
    const warmQueries = Array.from({ length: warmCount }, (_, q) => queries.get(q));
    await searchBatch(warmQueries, Array.isArray(filter) ? filter.slice(0, warmCount) : filter);
  }
  const startSeconds = secondsSince(warmStart);
  const start = performance.now();
  const r = await searchBatch(queries, filter);
  const seconds = secondsSince(start);
  const counters = {
    gpuMode: r.gpuMode,
    roundTrips: r.roundTrips,
    bytesUp: r.bytesUp,
    bytesDown: r.bytesDown,
    hostMs: round(r.hostMs, 3),
    threads: r.threads,
  };
  const reranked = r.reranked?.reduce((sum, n) => sum + n, 0);
  return { ids: r.ids, seconds, backend: r.backend, device: r.device, counters, warmupSeconds: undefined, startSeconds, reranked };
}

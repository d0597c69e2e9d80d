import type { HnswIndex } from '../indexes/hnsw/hnsw-index.js';
import { type CliIo, formatSeconds, println, qpsOf, round, writingFile } from './args.js';
import { recallAtK } from './eval.js';
import { writeResults } from './item-files.js';
import type { SearchRequest } from './search-request.js';
import type { SearchRun } from './search-run.js';

/**
 * Reports a timed search as `webannolo search` documents: a line on speed, recall@k against the
 * ground truth, the results file, and last the one JSON line that scripts read.
 */
export async function reportSearch(req: SearchRequest, run: SearchRun, loadSeconds: number, io: CliIo): Promise<void> {
  const { hnsw, k, ef, rerank, rerankFrom, lambda, filter, batch, truth, groundtruthIn, outPath } = req;
  const { ids, seconds } = run;
  const nq = req.queries.size;
  const qps = qpsOf(nq, seconds);
  const mode = batch === undefined ? 'one at a time' : `in batches of ${batch}`;
  const perQuery = run.reranked === undefined || nq === 0 ? undefined : run.reranked / nq;
  const scored = perQuery === undefined ? '' : `, ${perQuery.toFixed(1)} scored per query`;
  const rr = rerank > 0 ? `, re-ranking ${rerank} (vectors from ${rerankFrom}${scored})` : '';
  println(
    io.stdout,
    `searched ${nq} queries ${mode}, k=${k}${ef === null ? '' : `, ef=${ef}`}${rr}: ${formatSeconds(seconds)}, ${qps} queries/s`,
  );

  let recall: number | undefined;
  if (truth) {
    const found = groundtruthIn === 'keys' ? resultKeysForRecall(hnsw!, ids) : ids;
    recall = recallAtK({ rows: nq, dim: k, data: found }, truth, k, nq);
    println(io.stdout, `recall@${k}: ${recall.toFixed(4)}${hnsw?.keys ? ` (ground truth in ${groundtruthIn})` : ''}`);
  }
  if (outPath !== undefined) {
    await writingFile(outPath, () => writeResults(outPath, hnsw, ids, nq, k));
    println(io.stdout, `wrote ${nq} x ${k} ${hnsw?.keys ? 'keys' : 'ids'} to ${outPath}`);
  }
  const json: Record<string, unknown> = { queries: nq, k, ef };
  if (rerank > 0) Object.assign(json, { rerank, rerankFrom });
  if (perQuery !== undefined) json['rerankedPerQuery'] = round(perQuery, 3);
  if (lambda !== undefined) json['lambda'] = lambda;
  Object.assign(json, { seconds: round(seconds), qps });
  if (recall !== undefined) Object.assign(json, { recall: round(recall, 6), groundtruthIn: groundtruthIn });
  if (filter !== undefined) json['filtered'] = true;
  if (batch !== undefined) json['batch'] = batch;
  json['backend'] = run.backend;
  if (run.device !== undefined) json['device'] = run.device;
  if (run.counters) Object.assign(json, run.counters);
  json['index'] = hnsw ? 'hnsw' : 'flat';
  // Reading and checking the index file, apart from the search's own time.
  json['loadSeconds'] = round(loadSeconds);
  if (run.warmupSeconds !== undefined) json['warmupSeconds'] = round(run.warmupSeconds);
  if (run.startSeconds !== undefined) json['startSeconds'] = round(run.startSeconds);
  println(io.stdout, JSON.stringify(json));
}

/**
 * The numeric keys of the found items, to compare with a ground truth in keys; -1 where a query
 * found fewer than k, -2 for a key no .ivecs ground truth can hold (above 2^31 - 1).
 */
function resultKeysForRecall(index: HnswIndex, ids: Int32Array): Int32Array {
  return Int32Array.from(ids, (id) => {
    const key = id < 0 ? null : index.keyOf(id);
    if (typeof key !== 'number') return -1;
    return key <= 0x7fffffff ? key : -2;
  });
}

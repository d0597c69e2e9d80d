import { type CliIo, formatSeconds, println, qpsOf, round, writingFile } from './args.js';
import { recallAtK } from './eval.js';
import { resultNumbers, writeResults } from './item-files.js';
import type { SearchRequest } from './search-request.js';
import type { SearchRun } from './search-run.js';

/**
 * Reports a timed search as `webannolo search` documents: a line on speed, recall@k against the
 * ground truth, the results file, and last the one JSON line that scripts read.
 */
export async function reportSearch(req: SearchRequest, run: SearchRun, loadSeconds: number, io: CliIo): Promise<void> {
  const { hnsw, k, ef, rerank, rerankFrom, lambda, filter, batch, truth, groundtruthPath, outPath } = req;
  const { ids, seconds } = run;
  const nq = req.queries.size;
  const qps = qpsOf(nq, seconds);
  const mode = batch === undefined ? 'one at a time' : `in batches of ${batch}`;
  const rr = rerank > 0 ? `, re-ranking ${rerank} (vectors from ${rerankFrom})` : '';
  println(
    io.stdout,
    `searched ${nq} queries ${mode}, k=${k}${ef === null ? '' : `, ef=${ef}`}${rr}: ${formatSeconds(seconds)}, ${qps} queries/s`,
  );

  let recall: number | undefined;
  if (truth) {
    recall = recallAtK({ rows: nq, dim: k, data: resultNumbers(hnsw, ids, groundtruthPath!) }, truth, k, nq);
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
  json['backend'] = run.backend;
  if (run.device !== undefined) json['device'] = run.device;
  if (run.counters) Object.assign(json, run.counters);
  json['index'] = hnsw ? 'hnsw' : 'flat';
  // Reading and checking the index file, apart from the search's own time.
  json['loadSeconds'] = round(loadSeconds);
  if (run.warmupSeconds !== undefined) json['warmupSeconds'] = round(run.warmupSeconds);
  println(io.stdout, JSON.stringify(json));
}

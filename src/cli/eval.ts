import { fail } from '../errors.js';
import { recallAtK as libraryRecall } from '../eval/recall.js';
import { readIvecsFile } from '../node/index.js';
import { aboutFile, type Command, num, println, round, str } from './args.js';

/** Neighbour ids of many queries: row q is data[q*dim, (q+1)*dim). */
export interface IdRows {
  rows: number;
  dim: number;
  data: Int32Array;
}

/**
 * recall@k of saved results against ground truth, by the library's recallAtK. `results` and
 * `truth` may hold more than k ids per row (only the first k of each count); `truth` may hold
 * more rows than `queries` (only the first `queries` count).
 */
export function recallAtK(results: IdRows, truth: IdRows, k: number, queries = results.rows): number {
  if (results.dim < k) fail('INVALID_ARGUMENT', `the results hold ${results.dim} ids per query, fewer than k = ${k}`);
  if (truth.dim < k) fail('INVALID_ARGUMENT', `the ground truth holds ${truth.dim} neighbours per query, fewer than k = ${k}`);
  if (queries === 0) return 0;
  const topK = new Int32Array(queries * k);
  for (let q = 0; q < queries; q++) topK.set(results.data.subarray(q * results.dim, q * results.dim + k), q * k);
  return libraryRecall(topK, k, { rows: queries, dim: truth.dim, data: truth.data.subarray(0, queries * truth.dim) });
}

/** `webannolo eval`: recall of saved results against ground truth. */
export const evalCommand: Command = {
  name: 'eval',
  summary: 'recall@k of saved search results against ground truth',
  synopsis: '--results RESULTS.ivecs --groundtruth GT.ivecs [--k 10]',
  flags: [
    {
      name: 'results',
      type: 'string',
      placeholder: 'RESULTS.ivecs',
      required: true,
      help: 'ids found per query (written by `search --out`)',
    },
    { name: 'groundtruth', type: 'string', placeholder: 'GT.ivecs', required: true, help: 'true nearest neighbours per query (.ivecs)' },
    { name: 'k', type: 'int', min: 1, help: 'neighbours that count (default: the ids per query in the results)' },
  ],
  async run(args, io) {
    const resultsPath = str(args, 'results');
    const gtPath = str(args, 'groundtruth');
    const results = await aboutFile(resultsPath, () => readIvecsFile(resultsPath));
    const truth = await aboutFile(gtPath, () => readIvecsFile(gtPath));
    const k = num(args, 'k', true) ?? results.dim;
    if (results.rows !== truth.rows) {
      fail('DIMENSION_MISMATCH', `${resultsPath} has ${results.rows} queries but ${gtPath} has ${truth.rows}: they must match`);
    }
    if (results.dim < k) fail('INVALID_ARGUMENT', `${resultsPath} holds ${results.dim} ids per query, fewer than k = ${k}`);
    if (truth.dim < k) fail('INVALID_ARGUMENT', `${gtPath} holds ${truth.dim} neighbours per query, fewer than k = ${k}`);
    const recall = recallAtK(results, truth, k);
    println(io.stdout, `recall@${k} over ${results.rows} queries: ${recall.toFixed(4)}`);
    println(io.stdout, JSON.stringify({ queries: results.rows, k, recall: round(recall, 6) }));
    return 0;
  },
};

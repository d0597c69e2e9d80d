import { fail } from '../errors.js';
import { recallAtK as libraryRecall } from '../eval/recall.js';
import { readIvecs } from '../io/vecs.js';
import { readBytes, readIvecsFile } from '../node/index.js';
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

/**
 * Results as `search --out` writes them: .ivecs, or with .txt one line per query of
 * comma-separated ids (numeric keys; -1 pads). Text under another name gets a message
 * saying so, not the .ivecs reader's "dimension 909391411".
 */
export async function readResultsFile(path: string): Promise<IdRows> {
  const bytes = await readBytes(path);
  if (path.endsWith('.txt')) return parseResultsText(new TextDecoder().decode(bytes), path);
  try {
    return readIvecs(bytes);
  } catch (err) {
    if (looksLikeText(bytes))
      fail(
        'FOREIGN_FILE',
        `${path} holds text, not .ivecs: eval reads .ivecs results, or the .txt lines search --out writes (give the file a .txt name)`,
      );
    throw err;
  }
}

function looksLikeText(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, 512);
  return head.length > 0 && head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127));
}

function parseResultsText(text: string, path: string): IdRows {
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) fail('EMPTY_DATA', `${path} holds no results`);
  const rows = lines.map((line, q) =>
    line.split(',').map((part) => {
      const v = Number(part.trim());
      if (!/^\s*-?\d+\s*$/.test(part) || v < -1 || v > 0x7fffffff)
        fail(
          'INVALID_ARGUMENT',
          `${path} line ${q + 1}: '${part}' is not an id or numeric key below 2^31 (eval compares numbers with an .ivecs ground truth; string keys cannot be)`,
        );
      return v;
    }),
  );
  const dim = rows[0]!.length;
  rows.forEach((r, q) => {
    if (r.length !== dim) fail('DIMENSION_MISMATCH', `${path} line ${q + 1} holds ${r.length} results, line 1 holds ${dim}`);
  });
  return { rows: rows.length, dim, data: Int32Array.from(rows.flat()) };
}

/** `webannolo eval`: recall of saved results against ground truth. */
export const evalCommand: Command = {
  name: 'eval',
  summary: 'recall@k of saved search results against ground truth',
  synopsis: '--results RESULTS.ivecs|.txt --groundtruth GT.ivecs [--k 10]',
  flags: [
    {
      name: 'results',
      type: 'string',
      placeholder: 'RESULTS.ivecs',
      required: true,
      help: 'ids (or numeric keys) found per query, as `search --out` writes them: .ivecs, or .txt lines of comma-separated numbers',
    },
    { name: 'groundtruth', type: 'string', placeholder: 'GT.ivecs', required: true, help: 'true nearest neighbours per query (.ivecs)' },
    { name: 'k', type: 'int', min: 1, help: 'neighbours that count (default: the ids per query in the results)' },
  ],
  async run(args, io) {
    const resultsPath = str(args, 'results');
    const gtPath = str(args, 'groundtruth');
    const results = await aboutFile(resultsPath, () => readResultsFile(resultsPath));
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

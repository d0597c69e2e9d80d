import { SparseDataset } from '../data/sparse.js';
import { fail } from '../errors.js';
import { checkLimit, dataView, readWordsLE, writeWordsLE } from './vecs.js';

/**
 * The big-ann-benchmarks sparse format (`.csr`, used by the NeurIPS'23 sparse track),
 * little-endian:
 *
 *   int64 nrow, int64 ncol, int64 nnz,
 *   int64 indptr[nrow + 1], int32 indices[nnz], float32 data[nnz]
 *
 * The header fixes the exact file size, so a cut-off file is always TRUNCATED_FILE (even
 * when `limit` would only need its beginning: a partial download should not pass unnoticed)
 * and extra bytes are FOREIGN_FILE. Row contents (sorted unique ids < ncol, finite values)
 * are validated by SparseDataset's constructor, whose BAD_SPARSE_ROW / NON_FINITE errors
 * propagate unchanged.
 */

const HEADER_BYTES = 24;
/** int32 column ids cannot address more columns than this. */
const MAX_COLS = 2 ** 31;
/** SparseDataset keeps indptr in a Uint32Array. */
const MAX_NNZ = 0xffffffff;

/**
 * An int64 as a number, from two 32-bit halves (no BigInt on the per-row path). Exact for
 * |v| <= 2^53; anything beyond that is far past any real count and is rejected by callers.
 */
function int64(view: DataView, at: number): number {
  return view.getInt32(at + 4, true) * 2 ** 32 + view.getUint32(at, true);
}

function setInt64(view: DataView, at: number, v: number): void {
  view.setUint32(at, v % 2 ** 32, true);
  view.setUint32(at + 4, Math.floor(v / 2 ** 32), true);
}

/** Reads a header count that must be a non-negative safe integer. */
function readCount(view: DataView, at: number, what: string): number {
  const v = int64(view, at);
  if (v < 0 || v > Number.MAX_SAFE_INTEGER) fail('FOREIGN_FILE', `not a .csr file: ${what} is ${view.getBigInt64(at, true)}`);
  return v;
}

/**
 * A sparse dataset from big-ann's CSR format (int64 nrow, ncol, nnz; int64 indptr; int32 indices; float32 data); `limit` keeps the
 * first rows.
 */
export function readCsr(bytes: Uint8Array, limit = Infinity): SparseDataset {
  checkLimit(limit);
  const len = bytes.byteLength;
  if (len === 0) fail('EMPTY_DATA', '.csr file is empty');
  if (len < HEADER_BYTES) fail('TRUNCATED_FILE', `.csr file is ${len} bytes, shorter than its ${HEADER_BYTES}-byte header`);
  const view = dataView(bytes);
  const nrow = readCount(view, 0, 'nrow');
  const ncol = readCount(view, 8, 'ncol');
  const nnz = readCount(view, 16, 'nnz');
  const header = `nrow=${nrow}, ncol=${ncol}, nnz=${nnz}`;
  if (ncol > MAX_COLS) fail('FOREIGN_FILE', `not a .csr file: header ${header} has more columns than int32 ids can address`);
  if (nrow > 0 && ncol === 0) fail('FOREIGN_FILE', `not a .csr file: header ${header} has rows but no columns`);
  if (nnz > nrow * ncol) fail('FOREIGN_FILE', `not a .csr file: header ${header} has more non-zeros than cells`);

  const expected = HEADER_BYTES + 8 * (nrow + 1) + 8 * nnz;
  if (len < expected) fail('TRUNCATED_FILE', `.csr file is ${len} bytes but its header (${header}) implies ${expected}`);
  if (len > expected)
    fail(
      'FOREIGN_FILE',
      `.csr file is ${len} bytes but its header (${header}) implies ${expected}: ${len - expected} unexpected trailing bytes`,
    );
  if (nrow === 0) fail('EMPTY_DATA', '.csr file holds no rows: it needs at least one vector');
  if (nnz > MAX_NNZ) fail('UNSUPPORTED_FORMAT', `.csr file has ${nnz} non-zeros; at most ${MAX_NNZ} are supported`);

  // Check the whole indptr (cheap) so that a corrupt tail is reported even under `limit`.
  const n = Math.min(nrow, limit);
  const indptr = new Uint32Array(n + 1);
  const first = int64(view, HEADER_BYTES);
  if (first !== 0) fail('CORRUPT_FILE', `.csr indptr[0] = ${first}, expected 0`);
  let prev = 0;
  for (let r = 1; r <= nrow; r++) {
    const p = int64(view, HEADER_BYTES + 8 * r);
    if (p < prev || p > nnz) fail('CORRUPT_FILE', `.csr indptr[${r}] = ${p} is outside [indptr[${r - 1}] = ${prev}, nnz = ${nnz}]`);
    prev = p;
    if (r <= n) indptr[r] = p;
  }
  if (prev !== nnz) fail('CORRUPT_FILE', `.csr indptr[${nrow}] = ${prev} but the header says nnz = ${nnz}`);

  const keep = indptr[n]!;
  const indicesAt = HEADER_BYTES + 8 * (nrow + 1);
  const indices = new Uint32Array(keep);
  const values = new Float32Array(keep);
  readWordsLE(bytes, indicesAt, indices, 0, keep);
  readWordsLE(bytes, indicesAt + 4 * nnz, values, 0, keep);
  for (let j = 0; j < keep; j++) {
    // int32 ids were read as uint32: a negative id shows up as >= 2^31.
    if (indices[j]! >= MAX_COLS) fail('BAD_SPARSE_ROW', `.csr non-zero ${j} has a negative column id (${indices[j]! | 0})`);
  }
  return new SparseDataset(indptr, indices, values, ncol);
}

/** `ds` in big-ann's CSR format (see readCsr). */
export function writeCsr(ds: SparseDataset): Uint8Array {
  if (ds.dim > MAX_COLS) fail('INVALID_ARGUMENT', `.csr stores int32 column ids: dim ${ds.dim} is too large`);
  const n = ds.size;
  const nnz = ds.nnz;
  const indicesAt = HEADER_BYTES + 8 * (n + 1);
  const out = new Uint8Array(indicesAt + 8 * nnz);
  const view = dataView(out);
  setInt64(view, 0, n);
  setInt64(view, 8, ds.dim);
  setInt64(view, 16, nnz);
  for (let r = 0; r <= n; r++) setInt64(view, HEADER_BYTES + 8 * r, ds.indptr[r]!);
  // SparseDataset guarantees indptr[0] = 0 and indptr[n] = nnz (slice() rebases), so the
  // ids and values go out as two contiguous blocks.
  writeWordsLE(ds.indices, 0, out, indicesAt, nnz);
  writeWordsLE(ds.values, 0, out, indicesAt + 4 * nnz, nnz);
  return out;
}

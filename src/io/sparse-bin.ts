import { SparseDataset } from '../data/sparse.js';
import { checkInteger, fail } from '../errors.js';
import { checkLimit, dataView, readWordsLE, writeWordsLE } from './vecs.js';

/**
 * The sparse `.bin` format of kANNolo and Seismic (TusKANNy), little-endian:
 *
 *   u32 n_vecs
 *   n_vecs times:  u32 n,  n x u32 component ids (sorted ascending),  n x f32 values
 *
 * There is no dimension in the file: readers take it as a parameter or as max id + 1.
 *
 * Verified against the readers themselves (not documentation):
 * - TusKANNy/seismic, src/sparse_dataset.rs, `SparseDataset::read_bin_file_limit` and the
 *   comment above it (with the Python writer `sparse_vectors_to_binary_file`): u32 n_vecs,
 *   then per vector u32 length, the components as u32, then the values as f32; `limit` keeps
 *   the first vectors; dim = largest component + 1.
 * - TusKANNy/kannolo, src/datasets/sparse_dataset.rs, `SparseDataset::read_bin_file_limit(fname,
 *   limit, d)`: the same layout, with d given by the caller. kANNolo narrows components to u16,
 *   so files meant for it need ids < 65536; Seismic (and webannolo) keep full u32 ids.
 *
 * Differences from those readers, on purpose: a file cut short is always TRUNCATED_FILE (the
 * whole file's structure is walked even under `limit`), bytes after the last vector are
 * FOREIGN_FILE, and empty vectors are accepted (Seismic accepts them; kANNolo asserts).
 */

interface BinShape {
  total: number; // vectors announced by the file
  keep: number; // vectors to decode
  keepNnz: number; // non-zeros in those vectors
}

/** Truncation and foreign bytes look alike in a headerless stream of lengths: name both. */
const CUT = 'truncated, or not a kANNolo/Seismic .bin file';

/** Walks every vector's length word, checking the file is complete and has nothing after it. */
function scanBin(bytes: Uint8Array, limit: number): BinShape {
  const len = bytes.byteLength;
  if (len === 0) fail('EMPTY_DATA', 'sparse .bin file is empty');
  if (len < 4) fail('TRUNCATED_FILE', `sparse .bin file is ${len} bytes, shorter than its 4-byte vector count`);
  const view = dataView(bytes);
  const total = view.getUint32(0, true);
  if (total === 0) fail('EMPTY_DATA', 'sparse .bin file holds 0 vectors: it needs at least one');
  const keep = Math.min(total, limit);
  let keepNnz = 0;
  let at = 4;
  for (let i = 0; i < total; i++) {
    if (at + 4 > len) {
      fail('TRUNCATED_FILE', `sparse .bin file ends before vector ${i} of the ${total} it announces (${len} bytes): ${CUT}`);
    }
    const n = view.getUint32(at, true);
    const end = at + 4 + 8 * n;
    if (end > len) {
      const left = len - at;
      fail('TRUNCATED_FILE', `sparse .bin file ends inside vector ${i} (${n} non-zeros need ${8 * n + 4} bytes, ${left} are left): ${CUT}`);
    }
    if (i < keep) keepNnz += n;
    at = end;
  }
  if (at !== len) {
    fail('FOREIGN_FILE', `sparse .bin file has ${len - at} unexpected bytes after its ${total} vectors: not a kANNolo/Seismic .bin file?`);
  }
  if (keepNnz > 0xffffffff) fail('UNSUPPORTED_FORMAT', `sparse .bin file has ${keepNnz} non-zeros; at most 2^32 - 1 are supported`);
  return { total, keep, keepNnz };
}

/**
 * Reads the first `limit` vectors. `dim` defaults to the largest component id + 1 (1 when
 * every kept vector is empty); ids >= a given `dim`, unsorted or duplicate ids and non-finite
 * values are reported by SparseDataset (BAD_SPARSE_ROW / NON_FINITE).
 */
export function readSparseBin(bytes: Uint8Array, dim?: number, limit = Infinity): SparseDataset {
  checkLimit(limit);
  if (dim !== undefined) checkInteger('dim', dim, 1, 0xffffffff);
  const { keep, keepNnz } = scanBin(bytes, limit);
  const view = dataView(bytes);
  const indptr = new Uint32Array(keep + 1);
  const indices = new Uint32Array(keepNnz);
  const values = new Float32Array(keepNnz);
  let at = 4;
  let off = 0;
  for (let i = 0; i < keep; i++) {
    const n = view.getUint32(at, true);
    readWordsLE(bytes, at + 4, indices, off, n);
    readWordsLE(bytes, at + 4 + 4 * n, values, off, n);
    off += n;
    indptr[i + 1] = off;
    at += 4 + 8 * n;
  }
  let d = dim;
  if (d === undefined) {
    // Rows are meant to be sorted, so a row's maximum is usually its last id; taking the max of
    // all ids keeps an unsorted row's error (from SparseDataset) about order, not about dim.
    let max = 0;
    for (let j = 0; j < keepNnz; j++) if (indices[j]! > max) max = indices[j]!;
    d = Math.min(max + 1, 0xffffffff);
  }
  return new SparseDataset(indptr, indices, values, d);
}

/** `ds` in the kANNolo / Seismic sparse format (see readSparseBin). */
export function writeSparseBin(ds: SparseDataset): Uint8Array {
  const n = ds.size;
  const out = new Uint8Array(4 + 4 * n + 8 * ds.nnz);
  const view = dataView(out);
  view.setUint32(0, n, true);
  let at = 4;
  for (let i = 0; i < n; i++) {
    const start = ds.indptr[i]!;
    const len = ds.indptr[i + 1]! - start;
    view.setUint32(at, len, true);
    writeWordsLE(ds.indices, start, out, at + 4, len);
    writeWordsLE(ds.values, start, out, at + 4 + 4 * len, len);
    at += 4 + 8 * len;
  }
  return out;
}

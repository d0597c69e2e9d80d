import { DenseDataset } from '../data/dense.js';
import { checkInteger, fail } from '../errors.js';

/**
 * The TEXMEX `.fvecs` / `.ivecs` / `.bvecs` formats (SIFT, GIST, BIGANN...), little-endian:
 * every row is an int32 d followed by d values (float32 / int32 / uint8). There is no file
 * header, so the row count is the file size divided by the row size.
 *
 * Semantics shared by the three readers:
 * - the whole file is checked structurally (every row's d, the final row complete) even when
 *   `limit` keeps fewer rows: a cut-off download is reported, not silently shortened;
 * - a file cut exactly on a row boundary is indistinguishable from a shorter valid file (the
 *   format has no row count) and reads as that shorter file;
 * - readers never alias the input: results live in fresh, aligned typed arrays, because
 *   `bytes.byteOffset` may be anything (a Node Buffer slice, a fetch body inside a larger one).
 */

/** A leading int32 above this is not a dimension but the bytes of some other kind of file. */
const MAX_DIM = 1 << 24;

/** Typed-array copies are plain byte copies on little-endian hosts (every browser and Node). */
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type Words = Float32Array | Int32Array | Uint32Array;

/**
 * Copies `count` little-endian 4-byte words starting at byte `byteStart` of `src` (any
 * alignment) into `dst[dstStart ..]`. Shared by the other readers of src/io.
 */
export function readWordsLE(src: Uint8Array, byteStart: number, dst: Words, dstStart: number, count: number): void {
  if (HOST_LE) {
    new Uint8Array(dst.buffer, dst.byteOffset + dstStart * 4, count * 4).set(src.subarray(byteStart, byteStart + count * 4));
    return;
  }
  // Big-endian host: move raw bits through a Uint32 view so float payloads survive untouched.
  const view = dataView(src);
  const bits = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < count; i++) bits[dstStart + i] = view.getUint32(byteStart + 4 * i, true);
}

/** Writes `src[srcStart .. srcStart+count)` as little-endian 4-byte words at byte `byteStart` of `dst`. */
export function writeWordsLE(src: Words, srcStart: number, dst: Uint8Array, byteStart: number, count: number): void {
  if (HOST_LE) {
    dst.set(new Uint8Array(src.buffer, src.byteOffset + srcStart * 4, count * 4), byteStart);
    return;
  }
  const view = dataView(dst);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < count; i++) view.setUint32(byteStart + 4 * i, bits[srcStart + i]!, true);
}

/** A DataView over exactly the bytes of `bytes` (which may sit anywhere in its buffer). */
export function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Validates a row limit: Infinity (keep all) or an integer >= 1. */
export function checkLimit(limit: number): number {
  if (limit !== Infinity) checkInteger('limit', limit, 1);
  return limit;
}

interface VecsShape {
  rows: number;
  dim: number;
  rowBytes: number;
}

/** Walks every row header; throws on an empty, foreign, ragged or cut-off file. */
function scanVecs(bytes: Uint8Array, elemBytes: number, ext: string): VecsShape {
  const len = bytes.byteLength;
  if (len === 0) fail('EMPTY_DATA', `.${ext} file is empty: it needs at least one vector`);
  if (len < 4) fail('TRUNCATED_FILE', `.${ext} file is ${len} bytes, shorter than the 4-byte dimension of its first row`);
  const view = dataView(bytes);
  const dim = view.getInt32(0, true);
  if (dim <= 0 || dim > MAX_DIM) {
    fail('FOREIGN_FILE', `not a .${ext} file: its first row announces dimension ${dim} (expected 1..${MAX_DIM})`);
  }
  const rowBytes = 4 + dim * elemBytes;
  let rows = 0;
  for (let at = 0; at < len; at += rowBytes, rows++) {
    if (at + 4 > len) {
      fail(
        'TRUNCATED_FILE',
        `.${ext} file ends inside the dimension of row ${rows} (${len} bytes, ${rows} complete rows of ${rowBytes} bytes)`,
      );
    }
    const d = view.getInt32(at, true);
    if (d !== dim) {
      fail('DIMENSION_MISMATCH', `.${ext} row ${rows} has dimension ${d}, expected ${dim} (the dimension of row 0)`);
    }
    if (at + rowBytes > len) {
      fail('TRUNCATED_FILE', `.${ext} file ends inside row ${rows}: it has ${len - at} of its ${rowBytes} bytes`);
    }
  }
  return { rows, dim, rowBytes };
}

/** Reads float32 rows; `limit` keeps the first rows. NaN/Infinity -> NON_FINITE (from DenseDataset). */
export function readFvecs(bytes: Uint8Array, limit = Infinity): DenseDataset {
  checkLimit(limit);
  const { rows, dim, rowBytes } = scanVecs(bytes, 4, 'fvecs');
  const n = Math.min(rows, limit);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) readWordsLE(bytes, i * rowBytes + 4, out, i * dim, dim);
  return new DenseDataset(out, dim);
}

/** Reads int32 rows (e.g. ground-truth neighbour ids): `rows` rows of `dim` values, row-major in `data`. */
export function readIvecs(bytes: Uint8Array, limit = Infinity): { rows: number; dim: number; data: Int32Array } {
  checkLimit(limit);
  const { rows, dim, rowBytes } = scanVecs(bytes, 4, 'ivecs');
  const n = Math.min(rows, limit);
  const data = new Int32Array(n * dim);
  for (let i = 0; i < n; i++) readWordsLE(bytes, i * rowBytes + 4, data, i * dim, dim);
  return { rows: n, dim, data };
}

/** Reads uint8 rows (e.g. BIGANN) as float32 values 0..255. */
export function readBvecs(bytes: Uint8Array, limit = Infinity): DenseDataset {
  checkLimit(limit);
  const { rows, dim, rowBytes } = scanVecs(bytes, 1, 'bvecs');
  const n = Math.min(rows, limit);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const src = bytes.subarray(i * rowBytes + 4, (i + 1) * rowBytes);
    out.set(src, i * dim); // Float32Array.set converts each uint8 to its float value
  }
  return new DenseDataset(out, dim);
}

/** Lays out n rows of `dim` elements of `elemBytes` each behind their int32 dimension. */
function writeRows(n: number, dim: number, elemBytes: number, putRow: (out: Uint8Array, row: number, at: number) => void): Uint8Array {
  const rowBytes = 4 + dim * elemBytes;
  const out = new Uint8Array(n * rowBytes);
  const view = dataView(out);
  for (let i = 0; i < n; i++) {
    view.setInt32(i * rowBytes, dim, true);
    putRow(out, i, i * rowBytes + 4);
  }
  return out;
}

/** `ds` as .fvecs: per row an int32 dimension, then the float32 values (little-endian). */
export function writeFvecs(ds: DenseDataset): Uint8Array {
  return writeRows(ds.size, ds.dim, 4, (out, i, at) => writeWordsLE(ds.data, i * ds.dim, out, at, ds.dim));
}

/** `rows` x `dim` integers as .ivecs: per row an int32 dimension, then the int32 values. */
export function writeIvecs(rows: number, dim: number, data: Int32Array): Uint8Array {
  checkInteger('rows', rows, 1);
  checkInteger('dim', dim, 1, MAX_DIM);
  if (data.length !== rows * dim) {
    fail('INVALID_ARGUMENT', `ivecs data has ${data.length} values, expected rows x dim = ${rows} x ${dim} = ${rows * dim}`);
  }
  return writeRows(rows, dim, 4, (out, i, at) => writeWordsLE(data, i * dim, out, at, dim));
}

/** Writes a dataset whose values are all integers 0..255; anything else is refused, not rounded. */
export function writeBvecs(ds: DenseDataset): Uint8Array {
  const { data, dim } = ds;
  for (let k = 0; k < data.length; k++) {
    const v = data[k]!;
    if (!(v >= 0 && v <= 255 && Number.isInteger(v))) {
      fail('INVALID_ARGUMENT', `bvecs holds integers 0..255, but vector ${Math.floor(k / dim)} has ${v} at component ${k % dim}`);
    }
  }
  return writeRows(ds.size, dim, 1, (out, i, at) => out.set(data.subarray(i * dim, (i + 1) * dim), at));
}

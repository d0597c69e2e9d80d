import { checkInteger, fail } from '../errors.js';
import type { Dataset } from '../types.js';

/** n dense vectors of dimension dim, row-major in one Float32Array. */
export class DenseDataset implements Dataset {
  readonly kind = 'dense' as const;
  readonly size: number;
  readonly dim: number;
  /** The vectors, row after row (size x dim floats). */
  readonly data: Float32Array;

  /**
   * Wraps `data` (not copied). Throws on an empty set, a length that is not a multiple of
   * dim, or any NaN/Infinity (reported with its row and column).
   */
  constructor(data: Float32Array, dim: number) {
    checkInteger('dim', dim, 1);
    if (data.length === 0) fail('EMPTY_DATA', 'dataset is empty: it needs at least one vector');
    if (data.length % dim !== 0) {
      fail('DIMENSION_MISMATCH', `data length ${data.length} is not a multiple of dim ${dim}`);
    }
    const bad = takeVouched(data) ? -1 : firstNonFinite(data);
    if (bad >= 0) {
      fail('NON_FINITE', `vector ${Math.floor(bad / dim)} has a non-finite value (${data[bad]}) at component ${bad % dim}`);
    }
    this.data = data;
    this.dim = dim;
    this.size = data.length / dim;
  }

  /** Builds a dataset from rows (arrays or typed arrays), all of the same dimension. */
  static fromRows(rows: ArrayLike<ArrayLike<number>>): DenseDataset {
    if (rows.length === 0) fail('EMPTY_DATA', 'dataset is empty: it needs at least one vector');
    const dim = rows[0]!.length;
    const data = new Float32Array(rows.length * dim);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      if (row.length !== dim) {
        fail('DIMENSION_MISMATCH', `row ${i} has dimension ${row.length}, expected ${dim} (the dimension of row 0)`);
      }
      data.set(row, i * dim);
    }
    return new DenseDataset(data, dim);
  }

  get(i: number): Float32Array {
    return this.data.subarray(i * this.dim, (i + 1) * this.dim);
  }

  /** Rows [start, end) as a dataset sharing this one's memory. */
  slice(start: number, end: number): DenseDataset {
    return new DenseDataset(this.data.subarray(start * this.dim, end * this.dim), this.dim);
  }

  get byteLength(): number {
    return this.data.byteLength;
  }
}

/**
 * Views whose every value a loader has already checked while reading them (vouchFinite), by
 * buffer and byte offset: the next DenseDataset over exactly that view skips its own pass over
 * the data. One use each, so a later dataset over memory written since is checked again.
 */
const vouched = new WeakMap<ArrayBufferLike, Map<number, number>>();

/**
 * Records that `a` holds no NaN/Infinity, for the one DenseDataset about to wrap exactly this
 * view: a loader that checked the bytes piece by piece while the file was still being read
 * (opening a large index then does not pass over its vectors twice).
 */
export function vouchFinite(a: Float32Array): void {
  let byOffset = vouched.get(a.buffer);
  if (byOffset === undefined) vouched.set(a.buffer, (byOffset = new Map()));
  byOffset.set(a.byteOffset, a.length);
}

function takeVouched(a: Float32Array): boolean {
  const byOffset = vouched.get(a.buffer);
  if (byOffset?.get(a.byteOffset) !== a.length) return false;
  byOffset.delete(a.byteOffset);
  return true;
}

/** Index of the first NaN/Infinity in `a`, or -1. */
export function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    // v - v is NaN exactly for NaN and +-Infinity; faster than Number.isFinite on hot data.
    if (v - v !== 0) return i;
  }
  return -1;
}

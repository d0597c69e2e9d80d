import { checkInteger, fail } from '../errors.js';
import type { Dataset, SparseVector } from '../types.js';
import { isShared, toShared } from '../util/shared-memory.js';
import { firstNonFinite } from './dense.js';

/**
 * n sparse vectors in CSR form: row i has components indices[indptr[i] .. indptr[i+1]) with
 * values at the same positions. Component ids are strictly increasing within a row and < dim.
 */
export class SparseDataset implements Dataset {
  readonly kind = 'sparse' as const;
  readonly size: number;
  readonly dim: number;
  /** Row i holds entries indptr[i] .. indptr[i+1] of indices and values (size + 1 offsets). */
  readonly indptr: Uint32Array;
  /** Component ids of every row, ascending and unique within a row. */
  readonly indices: Uint32Array;
  /** The value of each entry of indices. */
  readonly values: Float32Array;

  /**
   * The same rows on SharedArrayBuffers (for worker threads), or this dataset when they are
   * there already.
   */
  toShared(): SparseDataset {
    if (isShared(this.indptr) && isShared(this.indices) && isShared(this.values)) return this;
    return SparseDataset.trusted(toShared(this.indptr), toShared(this.indices), toShared(this.values), this.dim);
  }

  /** A dataset over arrays already checked (by this class, in another thread): no second pass. */
  static trusted(indptr: Uint32Array, indices: Uint32Array, values: Float32Array, dim: number): SparseDataset {
    const d = Object.create(SparseDataset.prototype) as SparseDataset;
    Object.assign(d, { kind: 'sparse', size: indptr.length - 1, dim, indptr, indices, values });
    return d;
  }

  constructor(indptr: Uint32Array, indices: Uint32Array, values: Float32Array, dim: number) {
    checkInteger('dim', dim, 1, 0xffffffff);
    if (indptr.length < 2) fail('EMPTY_DATA', 'dataset is empty: it needs at least one vector');
    const n = indptr.length - 1;
    const nnz = indptr[n]!;
    if (indptr[0] !== 0) fail('BAD_SPARSE_ROW', `indptr[0] must be 0, got ${indptr[0]}`);
    if (indices.length !== values.length) {
      fail('BAD_SPARSE_ROW', `indices (${indices.length}) and values (${values.length}) differ in length`);
    }
    if (nnz !== indices.length) fail('BAD_SPARSE_ROW', `indptr ends at ${nnz} but there are ${indices.length} non-zeros`);
    for (let r = 0; r < n; r++) {
      const start = indptr[r]!;
      const end = indptr[r + 1]!;
      if (end < start) fail('BAD_SPARSE_ROW', `indptr decreases at row ${r}`);
      checkSortedRow(indices, start, end, dim, `row ${r}`);
    }
    const bad = firstNonFinite(values);
    if (bad >= 0) fail('NON_FINITE', `a sparse value is non-finite (${values[bad]}) at non-zero ${bad}`);
    this.indptr = indptr;
    this.indices = indices;
    this.values = values;
    this.dim = dim;
    this.size = n;
  }

  /** Builds a dataset from rows; each row is validated (sorted unique ids below dim). */
  static fromRows(rows: ArrayLike<SparseVector>, dim: number): SparseDataset {
    if (rows.length === 0) fail('EMPTY_DATA', 'dataset is empty: it needs at least one vector');
    const indptr = new Uint32Array(rows.length + 1);
    for (let i = 0; i < rows.length; i++) indptr[i + 1] = indptr[i]! + rows[i]!.indices.length;
    const indices = new Uint32Array(indptr[rows.length]!);
    const values = new Float32Array(indptr[rows.length]!);
    for (let i = 0; i < rows.length; i++) {
      indices.set(rows[i]!.indices, indptr[i]!);
      values.set(rows[i]!.values, indptr[i]!);
    }
    return new SparseDataset(indptr, indices, values, dim);
  }

  get(i: number): SparseVector {
    const start = this.indptr[i]!;
    const end = this.indptr[i + 1]!;
    return { indices: this.indices.subarray(start, end), values: this.values.subarray(start, end) };
  }

  /** Rows [start, end) as a new dataset (indptr rebased; indices and values shared). */
  slice(start: number, end: number): SparseDataset {
    const base = this.indptr[start]!;
    const indptr = new Uint32Array(end - start + 1);
    for (let i = 0; i <= end - start; i++) indptr[i] = this.indptr[start + i]! - base;
    const stop = this.indptr[end]!;
    return new SparseDataset(indptr, this.indices.subarray(base, stop), this.values.subarray(base, stop), this.dim);
  }

  /** Non-zero components over all rows. */
  get nnz(): number {
    return this.indices.length;
  }

  get byteLength(): number {
    return this.indptr.byteLength + this.indices.byteLength + this.values.byteLength;
  }
}

/** Throws BAD_SPARSE_ROW unless ids[start..end) is strictly increasing and below dim. */
export function checkSortedRow(ids: Uint32Array, start: number, end: number, dim: number, what: string): void {
  let prev = -1;
  for (let j = start; j < end; j++) {
    const c = ids[j]!;
    if (c <= prev) {
      fail(
        'BAD_SPARSE_ROW',
        c === prev ? `${what} has duplicate component id ${c}` : `${what} has unsorted component ids (${prev} before ${c})`,
      );
    }
    if (c >= dim) fail('BAD_SPARSE_ROW', `${what} has component id ${c} >= dim ${dim}`);
    prev = c;
  }
}

/** Validates one sparse vector (lengths, ordering, range, finiteness). */
export function checkSparseVector(v: SparseVector, dim: number, what: string): void {
  if (v.indices.length !== v.values.length) {
    fail('BAD_SPARSE_ROW', `${what}: indices (${v.indices.length}) and values (${v.values.length}) differ in length`);
  }
  checkSortedRow(v.indices, 0, v.indices.length, dim, what);
  const bad = firstNonFinite(v.values);
  if (bad >= 0) fail('NON_FINITE', `${what} has a non-finite value at non-zero ${bad}`);
}

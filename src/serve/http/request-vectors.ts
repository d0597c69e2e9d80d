import { endianness } from 'node:os';
import type { Vector } from '../../types.js';
import { badRequest } from './errors-to-status.js';
import type { JsonVector } from './schemas.js';

/**
 * Vectors as requests carry them, turned into what the backend takes: JSON arrays (or sparse
 * `{indices, values}` objects) and binary bodies of little-endian float32 rows. The dimension
 * and the values' range are checked here, so the error names the exact field
 * (`vectors[2]`, `vector[17]`); the rest (a sparse row's order, a dense vector for a sparse
 * index) the backend checks.
 */

const HOST_IS_LITTLE_ENDIAN = endianness() === 'LE';

/** A JSON vector as a Vector, or a 400 naming `field`. */
export function vectorFromJson(value: JsonVector, dim: number, field: string): Vector {
  if (Array.isArray(value)) {
    if (value.length !== dim)
      throw badRequest(field, `${field} has ${value.length} numbers, but the index has dimension ${dim}`, 'DIMENSION_MISMATCH');
    const dense = new Float32Array(value);
    checkFinite(dense, value, field);
    return dense;
  }
  if (value.indices.length !== value.values.length)
    throw badRequest(
      `${field}.values`,
      `${field} has ${value.indices.length} indices but ${value.values.length} values: give one value per index`,
      'BAD_SPARSE_ROW',
    );
  const values = new Float32Array(value.values);
  checkFinite(values, value.values, `${field}.values`);
  return { indices: Uint32Array.from(value.indices), values };
}

/** JSON numbers beyond float32's range become Infinity once stored: refuse them here. */
function checkFinite(stored: Float32Array, given: readonly number[], field: string): void {
  for (let i = 0; i < stored.length; i++) {
    if (!Number.isFinite(stored[i]!))
      throw badRequest(`${field}[${i}]`, `${field}[${i}] = ${given[i]} is beyond the range of a 32-bit float`, 'NON_FINITE');
  }
}

/**
 * The rows of an application/octet-stream search body: `dim` little-endian float32 values per
 * query, one query after another. A length that is not a whole number of rows is a 400.
 */
export function rowsFromBinary(body: Buffer, dim: number, maxQueries: number): Float32Array[] {
  const rowBytes = 4 * dim;
  if (body.byteLength === 0 || body.byteLength % rowBytes !== 0)
    throw badRequest(
      'body',
      `a binary search body holds little-endian float32 rows of ${dim} values (${rowBytes} bytes each); got ${body.byteLength} bytes`,
      'DIMENSION_MISMATCH',
    );
  const rows = body.byteLength / rowBytes;
  if (rows > maxQueries) throw badRequest('body', `the body holds ${rows} queries; one request takes at most ${maxQueries}`);
  // A copy: the Buffer may sit at an offset a Float32Array cannot start at.
  const all = new Float32Array(rows * dim);
  if (HOST_IS_LITTLE_ENDIAN) new Uint8Array(all.buffer).set(body);
  else {
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    for (let i = 0; i < all.length; i++) all[i] = view.getFloat32(4 * i, true);
  }
  for (let i = 0; i < all.length; i++) {
    if (!Number.isFinite(all[i]!)) {
      const row = Math.floor(i / dim);
      throw badRequest('body', `row ${row}, value ${i - row * dim} of the body is not a finite number (${all[i]})`, 'NON_FINITE');
    }
  }
  const out: Float32Array[] = [];
  for (let r = 0; r < rows; r++) out.push(all.subarray(r * dim, (r + 1) * dim));
  return out;
}

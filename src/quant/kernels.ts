/**
 * Distance kernels on typed arrays. Written for V8: four independent accumulators (they break
 * the add dependency chain), offsets instead of subarrays (no allocation), a scalar tail.
 */

/** Inner product of a[aOff..aOff+dim) and b[bOff..bOff+dim). */
export function dot(a: Float32Array, aOff: number, b: Float32Array, bOff: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const end4 = dim & ~3;
  let i = 0;
  for (; i < end4; i += 4) {
    s0 += a[aOff + i]! * b[bOff + i]!;
    s1 += a[aOff + i + 1]! * b[bOff + i + 1]!;
    s2 += a[aOff + i + 2]! * b[bOff + i + 2]!;
    s3 += a[aOff + i + 3]! * b[bOff + i + 3]!;
  }
  for (; i < dim; i++) s0 += a[aOff + i]! * b[bOff + i]!;
  return s0 + s1 + s2 + s3;
}

/** Squared Euclidean distance of a[aOff..aOff+dim) and b[bOff..bOff+dim). */
export function l2sq(a: Float32Array, aOff: number, b: Float32Array, bOff: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const end4 = dim & ~3;
  let i = 0;
  for (; i < end4; i += 4) {
    const d0 = a[aOff + i]! - b[bOff + i]!;
    const d1 = a[aOff + i + 1]! - b[bOff + i + 1]!;
    const d2 = a[aOff + i + 2]! - b[bOff + i + 2]!;
    const d3 = a[aOff + i + 3]! - b[bOff + i + 3]!;
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; i < dim; i++) {
    const d = a[aOff + i]! - b[bOff + i]!;
    s0 += d * d;
  }
  return s0 + s1 + s2 + s3;
}

/**
 * Inner product of a dense row `dense` (the query scattered into a zero row of length dim)
 * with the sparse item whose non-zeros are ids/vals[start..end).
 */
export function sparseDotDense(dense: Float32Array, ids: Uint32Array, vals: Float32Array, start: number, end: number): number {
  let s0 = 0;
  let s1 = 0;
  let j = start;
  const end2 = end - ((end - start) & 1);
  for (; j < end2; j += 2) {
    s0 += dense[ids[j]!]! * vals[j]!;
    s1 += dense[ids[j + 1]!]! * vals[j + 1]!;
  }
  if (j < end) s0 += dense[ids[j]!]! * vals[j]!;
  return s0 + s1;
}

/** Inner product of two sparse vectors by merging their sorted ids. */
export function sparseDotSparse(
  aIds: Uint32Array,
  aVals: Float32Array,
  aStart: number,
  aEnd: number,
  bIds: Uint32Array,
  bVals: Float32Array,
  bStart: number,
  bEnd: number,
): number {
  let s = 0;
  let i = aStart;
  let j = bStart;
  while (i < aEnd && j < bEnd) {
    const x = aIds[i]!;
    const y = bIds[j]!;
    if (x === y) {
      s += aVals[i++]! * bVals[j++]!;
    } else if (x < y) i++;
    else j++;
  }
  return s;
}

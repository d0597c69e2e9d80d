/**
 * IEEE 754 half precision (binary16) conversions for the f16 store. Encoding rounds to nearest
 * (ties to even) and flushes half subnormals (|x| < 2^-14 = 6.1e-5) to signed zero: the SIMD
 * decoder then never meets a subnormal, whose arithmetic is slow on x86, and the error that
 * adds (< 6.1e-5 absolute) is below the rounding error of the values around it.
 */

/** The largest finite half. */
export const HALF_MAX = 65504;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bits nearest `x` (finite, |x| <= HALF_MAX after rounding; the caller checks). */
export function halfBits(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  // Below 2^-14 (the smallest normal half, f32 exponent field 113) the half is flushed to zero.
  if (exp < 113) return sign;
  let mant = bits & 0x7fffff;
  let e = exp - 112;
  // Keep 10 of 23 mantissa bits, rounding to nearest even on the 13 dropped.
  const dropped = mant & 0x1fff;
  mant >>>= 13;
  if (dropped > 0x1000 || (dropped === 0x1000 && (mant & 1) === 1)) {
    mant++;
    if (mant === 0x400) {
      mant = 0;
      e++;
    }
  }
  if (e >= 31) return sign | 0x7c00; // overflow: infinity (callers reject values past HALF_MAX first)
  return sign | (e << 10) | mant;
}

/** The value of binary16 bits `h` (normal, zero, subnormal, infinite or NaN). */
export function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

let table: Float32Array | null = null;

/** All 65536 half values as f32 (256 KiB, made on first use): the JS kernels decode by lookup. */
export function halfTable(): Float32Array {
  if (table === null) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = halfValue(h);
  }
  return table;
}

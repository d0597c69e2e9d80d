import { fail } from '../../errors.js';
import { Rng } from '../../util/rng.js';

/** Rounds of sign flips and Walsh-Hadamard transforms (three make the rotation close enough to a random one). */
export const ROTATION_ROUNDS = 3;

/** The rotated dimension: the smallest power of two >= dim, and at least 128 (one 128-bit SIMD chunk of code per plane). */
export function paddedDimOf(dim: number): number {
  let p = 128;
  while (p < dim) p *= 2;
  return p;
}

/**
 * A seeded random orthogonal transform of R^dim into R^P (P = paddedDimOf(dim), the vector
 * padded with zeros): ROTATION_ROUNDS rounds of a random sign flip per component followed
 * by the normalized fast Walsh-Hadamard transform. O(P log P) per vector instead of a dense
 * matrix's O(P^2) (784-d: 30k operations, not 600k, per query), and the signs (one byte per
 * component and round) are all it stores.
 */
export class HadamardRotation {
  readonly paddedDim: number;
  private readonly buf: Float64Array;
  private readonly buf32: Float32Array;
  /** The signs as +-1 per round (multiplied: a branch on a random sign mispredicts half the time). */
  private readonly flips: Float64Array;
  /** The rounds' 1/sqrt(P) factors, applied once. */
  readonly scale: number;

  /** `signs`: ROTATION_ROUNDS x P entries, 0 (keep) or 1 (negate). */
  constructor(
    readonly dim: number,
    readonly signs: Uint8Array,
  ) {
    this.paddedDim = paddedDimOf(dim);
    if (signs.length !== ROTATION_ROUNDS * this.paddedDim)
      fail(
        'CORRUPT_FILE',
        `RaBitQ rotation signs hold ${signs.length} entries, dimension ${dim} needs ${ROTATION_ROUNDS * this.paddedDim}`,
      );
    for (let i = 0; i < signs.length; i++) if (signs[i]! > 1) fail('CORRUPT_FILE', `RaBitQ rotation sign ${i} is ${signs[i]}, not 0 or 1`);
    this.buf = new Float64Array(this.paddedDim);
    this.buf32 = new Float32Array(this.paddedDim);
    this.flips = Float64Array.from(signs, (s) => (s === 1 ? -1 : 1));
    this.scale = Math.sqrt(this.paddedDim) ** -ROTATION_ROUNDS;
  }

  /** A rotation drawn from `seed`. */
  static seeded(dim: number, seed: number): HadamardRotation {
    const rng = new Rng(seed);
    const signs = new Uint8Array(ROTATION_ROUNDS * paddedDimOf(dim));
    for (let i = 0; i < signs.length; i++) signs[i] = rng.nextU32() & 1;
    return new HadamardRotation(dim, signs);
  }

  /** out (P) = R (x - shift), x and shift of length dim (shift null: zero). */
  rotate(x: Float32Array, shift: Float32Array | null, out: Float64Array): Float64Array {
    const b = this.buf;
    const P = this.paddedDim;
    const f = this.flips;
    for (let i = 0; i < this.dim; i++) b[i] = (x[i]! - (shift === null ? 0 : shift[i]!)) * f[i]!;
    b.fill(0, this.dim);
    for (let r = 0; r < ROTATION_ROUNDS; r++) {
      if (r > 0) for (let i = 0, at = r * P; i < P; i++) b[i] = b[i]! * f[at + i]!;
      fwht(b);
    }
    const scale = this.scale;
    for (let i = 0; i < P; i++) out[i] = b[i]! * scale;
    return out;
  }

  /**
   * out (P) = R (x - shift) in f32 arithmetic, every operation rounded to f32 in the order of
   * the query kernel (query/wasm-kernels.ts, rabitqRotate), which gives the same bits: the scale
   * applied once at the end, as fround(P^(-ROUNDS/2)). Queries take this path (a query's 4-bit
   * levels need no more precision); codes are encoded with `rotate`, in f64.
   */
  rotateQuery32(x: Float32Array, shift: Float32Array, out: Float32Array): Float32Array {
    const b = this.buf32;
    const P = this.paddedDim;
    const f = this.flips;
    for (let i = 0; i < this.dim; i++) b[i] = Math.fround(x[i]! - shift[i]!) * f[i]!;
    b.fill(0, this.dim);
    for (let r = 0; r < ROTATION_ROUNDS; r++) {
      if (r > 0) for (let i = 0, at = r * P; i < P; i++) b[i] = b[i]! * f[at + i]!;
      fwht32(b);
    }
    const scale = Math.fround(this.scale);
    for (let i = 0; i < P; i++) out[i] = b[i]! * scale;
    return out;
  }

  /** The sign masks of the query kernel: ROTATION_ROUNDS x P u32, 0x80000000 where a round negates (round 0: only below dim). */
  signMasks(): Uint32Array {
    const P = this.paddedDim;
    const masks = new Uint32Array(ROTATION_ROUNDS * P);
    for (let i = 0; i < masks.length; i++) if (this.signs[i] === 1 && (i >= P || i < this.dim)) masks[i] = 0x80000000;
    return masks;
  }

  /** out (dim) = R^-1 y + shift: the inverse, keeping the first dim components. */
  unrotate(y: Float64Array, shift: Float32Array | null, out: Float32Array): Float32Array {
    const b = this.buf;
    const P = this.paddedDim;
    b.set(y);
    const f = this.flips;
    for (let r = ROTATION_ROUNDS - 1; r >= 0; r--) {
      fwht(b);
      for (let i = 0, at = r * P; i < P; i++) b[i] = b[i]! * f[at + i]!;
    }
    const scale = this.scale;
    for (let i = 0; i < this.dim; i++) out[i] = b[i]! * scale + (shift === null ? 0 : shift[i]!);
    return out;
  }
}

/**
 * In-place Walsh-Hadamard transform, unscaled (H H = n I: the caller scales by 1/sqrt(n) per
 * round). The first two levels in one radix-4 pass: their loops are too short to run well.
 */
function fwht(a: Float64Array): void {
  const n = a.length;
  for (let i = 0; i < n; i += 4) {
    const x0 = a[i]!;
    const x1 = a[i + 1]!;
    const x2 = a[i + 2]!;
    const x3 = a[i + 3]!;
    const s01 = x0 + x1;
    const d01 = x0 - x1;
    const s23 = x2 + x3;
    const d23 = x2 - x3;
    a[i] = s01 + s23;
    a[i + 1] = d01 + d23;
    a[i + 2] = s01 - s23;
    a[i + 3] = d01 - d23;
  }
  for (let h = 4; h < n; h *= 2) {
    for (let i = 0; i < n; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const x = a[j]!;
        const y = a[j + h]!;
        a[j] = x + y;
        a[j + h] = x - y;
      }
    }
  }
}

/**
 * fwht in f32: the same butterflies, each sum rounded to f32 (a Float32Array store rounds, and
 * the radix-4 pass's temporaries are rounded by hand), as the query kernel computes them.
 */
function fwht32(a: Float32Array): void {
  const n = a.length;
  const f = Math.fround;
  for (let i = 0; i < n; i += 4) {
    const x0 = a[i]!;
    const x1 = a[i + 1]!;
    const x2 = a[i + 2]!;
    const x3 = a[i + 3]!;
    const s01 = f(x0 + x1);
    const d01 = f(x0 - x1);
    const s23 = f(x2 + x3);
    const d23 = f(x2 - x3);
    a[i] = s01 + s23;
    a[i + 1] = d01 + d23;
    a[i + 2] = s01 - s23;
    a[i + 3] = d01 - d23;
  }
  for (let h = 4; h < n; h *= 2) {
    for (let i = 0; i < n; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const x = a[j]!;
        const y = a[j + h]!;
        a[j] = x + y;
        a[j + h] = x - y;
      }
    }
  }
}

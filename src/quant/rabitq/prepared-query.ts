/** Bits of the quantized query (RaBitQ's 4-bit query: four bit-planes, AND and popcount per code plane). */
export const QUERY_BITS = 4;
/** The largest query level, 2^QUERY_BITS - 1. */
export const TOP_LEVEL = 2 ** QUERY_BITS - 1;

/** One query prepared for the estimator: its quantized bit-planes and the constants the estimate combines. */
export interface PreparedRabitqQuery {
  /** The query as QUERY_BITS bit-planes, per 128-component chunk: planes 0..3 of chunk i at words (4i + k) * 4. */
  readonly planes: Uint32Array;
  /** The quantized components (0 .. 2^QUERY_BITS - 1), for the JS kernels' byte tables. */
  readonly levels: Uint8Array;
  /** Query component i is about low + step * levels[i] (rotated, centred). */
  readonly low: number;
  /** The width of one query level. */
  readonly step: number;
  /** Sum of the quantized components (low * P + step * sum(levels)). */
  readonly sum: number;
  /** ||R(q - c)||. */
  readonly norm: number;
  /** Added to every estimate: ||q - c||^2 (l2) or -<c, q> (ip). */
  readonly constant: number;
}

/** A prepared query; its levels are unpacked from the planes on first use where the preparation did not keep them (SIMD). */
export class PreparedQuery implements PreparedRabitqQuery {
  constructor(
    readonly planes: Uint32Array,
    private levelsKept: Uint8Array | null,
    readonly low: number,
    readonly step: number,
    readonly sum: number,
    readonly norm: number,
    readonly constant: number,
  ) {}

  get levels(): Uint8Array {
    if (this.levelsKept === null) this.levelsKept = unpackLevels(this.planes);
    return this.levelsKept;
  }
}

/** The levels of query planes (32 components per word; QUERY_BITS planes of 4 words per 128-component chunk). */
function unpackLevels(planes: Uint32Array): Uint8Array {
  const levels = new Uint8Array(planes.length * (32 / QUERY_BITS));
  for (let w = 0; w < levels.length / 32; w++) {
    const word = (w >>> 2) * 4 * QUERY_BITS + (w & 3);
    for (let b = 0; b < 32; b++) {
      let v = 0;
      for (let k = 0; k < QUERY_BITS; k++) v |= ((planes[word + 4 * k]! >>> b) & 1) << k;
      levels[32 * w + b] = v;
    }
  }
  return levels;
}

/**
 * The quantization of components in [low, high]: low itself (+0 for -0: the kernels' minimum may
 * pick either zero), the level width, and its inverse as the kernels take it (f32; 0 where every
 * component is equal).
 */
export function quantizationStep(low: number, high: number): { low: number; step: number; inv: number } {
  const step = (high - low) / TOP_LEVEL;
  return { low: low + 0, step, inv: step > 0 ? Math.fround(1 / step) : 0 };
}

/** x rounded to the nearest integer, ties to even (f32x4.nearest), for x >= 0. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && (r & 1) === 1 ? r - 1 : r;
}

/** A prepared query's constants as the estimate reads them (f32 values, and the metric's sign). */
export interface EstimateConstants {
  /** f32 of the level width. */
  readonly step: number;
  /** f32 of the lowest component. */
  readonly low: number;
  /** f32 of middle * sum: the code grid's centre times the sum of the quantized components. */
  readonly middleSum: number;
  /** f32 of the query's constant. */
  readonly constant: number;
  /** -2 (l2) or -1 (ip). */
  readonly sign: number;
}

/**
 * The estimated distance of an item with integer product `s` and factors at f[at..] (add,
 * rescale, sx), in f32 and in the kernels' order:
 *   (add + constant) + (sign * rescale) * ((step * S + low * sx) - middleSum)
 * the JS kernels' estimate, equal to the SIMD kernels' bit for bit.
 */
export function estimate32(c: EstimateConstants, s: number, f: Float32Array, at: number): number {
  const r = Math.fround;
  const base = r(f[at]! + c.constant);
  const scale = r(c.sign * f[at + 1]!);
  const inner = r(r(r(c.step * r(s)) + r(c.low * f[at + 2]!)) - c.middleSum);
  return r(base + r(scale * inner));
}

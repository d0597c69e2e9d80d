import type { DenseDataset } from '../../data/dense.js';
import type { Metric } from '../../types.js';
import {
  type EstimateConstants,
  estimate32,
  PreparedQuery,
  type PreparedRabitqQuery,
  QUERY_BITS,
  quantizationStep,
  roundHalfEven,
  TOP_LEVEL,
} from './prepared-query.js';
import { WasmQueryPreparer } from './query-prep.js';
import type { HadamardRotation } from './rotation.js';

/** Per-item factors, in this order: add, rescale, sx, normO, ob (see RabitqEncoding). */
export const FACTORS = 5;
/** Candidate scales tried per vector by the multi-bit encoder (extended RaBitQ's rescaling search). */
const SCALE_STEPS = 24;

export { type PreparedRabitqQuery, QUERY_BITS } from './prepared-query.js';

/**
 * RaBitQ's encoding of dense vectors (Gao & Long, SIGMOD 2024; the multi-bit codes of the
 * extended RaBitQ, SIGMOD 2025). An item x becomes, after subtracting the centroid c and
 * rotating, o' = R(x - c) in R^P; its direction o = o' / |o'| is quantized to `bits` bits per
 * component: x_u = clamp(floor(t o_i) + 2^(bits-1)), a grid point y = x_u - (2^bits - 1) / 2
 * (1 bit: the sign of o_i), t chosen to maximize <y/|y|, o> =: ob. A query q is rotated the
 * same way (q' = R(q - c)) and quantized to QUERY_BITS bits per component (low + step * level).
 * Then <o', q'> is estimated, without bias over the rotation, by
 *   |o'| / (|y| ob) * sum_i y_i q'_i = rescale * (step * S + low * sx - (2^bits - 1)/2 * sum q'),
 * where S = sum_i x_u_i * level_i is integer arithmetic (popcounts of code planes AND query
 * planes) and sx = sum_i x_u_i. The error of <o_bar, q>/ob against <o, q> is
 * sqrt(1 - ob^2)/ob * N(0, <= 1/(P-1)), which gives the confidence bound (boundOf).
 *
 * Each item keeps FACTORS floats: add (|o'|^2 for l2, -<x - c, c> for ip), rescale, sx,
 * |o'| and ob. A distance is add + constant(q) + sign * <o', q'>_est with sign -2 (l2) or -1 (ip).
 */
export class RabitqEncoding {
  readonly paddedDim: number;
  /** Bytes of one item's code: `bits` planes of P bits, interleaved per 128-component chunk. */
  readonly rowBytes: number;
  /** Bytes of a prepared query's planes. */
  readonly queryBytes: number;
  /** The grid's centre, (2^bits - 1) / 2. */
  readonly middle: number;
  /** -2 (l2) or -1 (ip): how <o', q'> enters the distance. */
  readonly sign: number;
  private readonly rot: Float64Array;
  private readonly rot32: Float32Array;
  /** The SIMD query preparation (null: none on this platform), made on first use. */
  private preparer: WasmQueryPreparer | null | undefined;

  constructor(
    readonly dim: number,
    readonly metric: Metric,
    readonly bits: number,
    readonly centroid: Float32Array,
    readonly rotation: HadamardRotation,
    /** Half-width of the confidence bound in standard deviations (RaBitQ's epsilon_0). */
    readonly epsilon0: number,
  ) {
    this.paddedDim = rotation.paddedDim;
    this.rowBytes = (bits * this.paddedDim) / 8;
    this.queryBytes = (QUERY_BITS * this.paddedDim) / 8;
    this.middle = (2 ** bits - 1) / 2;
    this.sign = metric === 'l2' ? -2 : -1;
    this.rot = new Float64Array(this.paddedDim);
    this.rot32 = new Float32Array(this.paddedDim);
  }

  /** Encodes rows of `data` into `codes` (u8, size x rowBytes) and `factors`: row i at item slots[i] (default i). */
  encodeRows(data: DenseDataset, codes: Uint8Array, factors: Float32Array, slots?: Uint32Array): void {
    const xu = new Uint8Array(this.paddedDim);
    for (let i = 0; i < data.size; i++) {
      const item = slots ? slots[i]! : i;
      this.encodeOne(data.get(i) as Float32Array, xu, factors, item * FACTORS);
      this.packCode(xu, codes, item * this.rowBytes);
    }
  }

  /** x_u of one vector and its factors at factors[at..]. */
  private encodeOne(x: Float32Array, xu: Uint8Array, factors: Float32Array, at: number): void {
    const P = this.paddedDim;
    const o = this.rotation.rotate(x, this.centroid, this.rot);
    let norm2 = 0;
    for (let i = 0; i < P; i++) norm2 += o[i]! * o[i]!;
    const norm = Math.sqrt(norm2);
    let add = norm2;
    if (this.metric === 'ip') {
      add = 0;
      for (let d = 0; d < this.dim; d++) add -= (x[d]! - this.centroid[d]!) * this.centroid[d]!;
    }
    if (norm === 0) {
      // o' = 0: every <o', q'> is exactly 0, which rescale 0 gives whatever the code.
      xu.fill(0);
      factors.set([add, 0, 0, 0, 1], at);
      return;
    }
    const { ob, ynorm } = this.quantizeDirection(o, 1 / norm, xu);
    let sx = 0;
    for (let i = 0; i < P; i++) sx += xu[i]!;
    factors.set([add, norm / (ynorm * ob), sx, norm, ob], at);
  }

  /**
   * x_u for the direction o * inv (o unnormalized), the scale t tried on SCALE_STEPS points
   * (one for a single bit, whose code is the sign whatever t): the best <y/|y|, o> wins.
   */
  private quantizeDirection(o: Float64Array, inv: number, xu: Uint8Array): { ob: number; ynorm: number } {
    const P = this.paddedDim;
    const half = 2 ** (this.bits - 1);
    const top = 2 ** this.bits - 1;
    let maxAbs = 0;
    for (let i = 0; i < P; i++) maxAbs = Math.max(maxAbs, Math.abs(o[i]! * inv));
    const steps = this.bits === 1 ? 1 : SCALE_STEPS;
    let best = -Infinity;
    let bestT = 1;
    for (let s = 1; s <= steps; s++) {
      const t = (half / maxAbs) * (s / steps);
      let dot = 0;
      let yy = 0;
      for (let i = 0; i < P; i++) {
        const oi = o[i]! * inv;
        const y = Math.min(top, Math.max(0, Math.floor(t * oi) + half)) - this.middle;
        dot += y * oi;
        yy += y * y;
      }
      const score = dot / Math.sqrt(yy);
      if (score > best) {
        best = score;
        bestT = t;
      }
    }
    let yy = 0;
    for (let i = 0; i < P; i++) {
      const v = Math.min(top, Math.max(0, Math.floor(bestT * o[i]! * inv) + half));
      xu[i] = v;
      yy += (v - this.middle) ** 2;
    }
    return { ob: best, ynorm: Math.sqrt(yy) };
  }

  /** Writes x_u as `bits` bit-planes: chunk i (128 components) of plane j at 16 * (i * bits + j). */
  private packCode(xu: Uint8Array, codes: Uint8Array, at: number): void {
    codes.fill(0, at, at + this.rowBytes);
    for (let i = 0; i < this.paddedDim; i++) {
      const v = xu[i]!;
      const chunk = i >>> 7;
      const byte = (i & 127) >>> 3;
      const bit = 1 << (i & 7);
      for (let j = 0; j < this.bits; j++) if ((v >>> j) & 1) codes[at + 16 * (chunk * this.bits + j) + byte]! |= bit;
    }
  }

  /** Item `id`'s x_u, unpacked from its code. */
  unpackCode(codes: Uint8Array, id: number, out = new Uint8Array(this.paddedDim)): Uint8Array {
    const at = id * this.rowBytes;
    for (let i = 0; i < this.paddedDim; i++) {
      const chunk = i >>> 7;
      const byte = (i & 127) >>> 3;
      let v = 0;
      for (let j = 0; j < this.bits; j++) v |= ((codes[at + 16 * (chunk * this.bits + j) + byte]! >>> (i & 7)) & 1) << j;
      out[i] = v;
    }
    return out;
  }

  /** The vector item `id` stands for: c + R^-1 (|o'| y / |y|). */
  decodeRow(codes: Uint8Array, factors: Float32Array, id: number, out = new Float32Array(this.dim)): Float32Array {
    const xu = this.unpackCode(codes, id);
    const y = this.rot;
    let yy = 0;
    for (let i = 0; i < this.paddedDim; i++) {
      y[i] = xu[i]! - this.middle;
      yy += y[i]! * y[i]!;
    }
    const scale = factors[id * FACTORS + 3]! / Math.sqrt(yy);
    for (let i = 0; i < this.paddedDim; i++) y[i] = y[i]! * scale;
    return this.rotation.unrotate(y, this.centroid, out);
  }

  /**
   * Rotates and quantizes a query (checked by the caller), writing its planes into `planes`
   * when given: with the SIMD kernels where the platform has them (query-prep.ts), else
   * prepareQueryJs; both give the same bits.
   */
  prepareQuery(query: Float32Array, planes?: Uint32Array): PreparedRabitqQuery {
    if (this.preparer === undefined) this.preparer = WasmQueryPreparer.create(this.centroid, this.rotation, this.queryBytes);
    if (this.preparer === null) return this.prepareQueryJs(query, planes);
    const q = this.preparer.prepare(query);
    if (planes !== undefined) planes.set(q.planes);
    return this.preparedQuery(query, planes ?? q.planes, null, q.low, q.step, q.levelSum);
  }

  /**
   * prepareQuery in JS, the reference of the SIMD preparation (query/wasm-kernels.ts): the rotation
   * in f32 (HadamardRotation.rotateQuery32), then level_i = min(15, roundEven(f32((q_i - low) *
   * inv))) with inv = f32(1 / step).
   */
  prepareQueryJs(query: Float32Array, planes: Uint32Array = new Uint32Array(this.queryBytes / 4)): PreparedRabitqQuery {
    const P = this.paddedDim;
    const q = this.rotation.rotateQuery32(query, this.centroid, this.rot32);
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < P; i++) {
      min = Math.min(min, q[i]!);
      max = Math.max(max, q[i]!);
    }
    const { low, step, inv } = quantizationStep(min, max);
    const levels = new Uint8Array(P);
    let levelSum = 0;
    // Planes a word at a time: 32 components, each level's bits OR-ed in without branches.
    for (let w = 0; w < P / 32; w++) {
      let p0 = 0;
      let p1 = 0;
      let p2 = 0;
      let p3 = 0;
      for (let b = 0; b < 32; b++) {
        const i = 32 * w + b;
        const v = Math.min(TOP_LEVEL, roundHalfEven(Math.fround(Math.fround(q[i]! - low) * inv)));
        levels[i] = v;
        levelSum += v;
        p0 |= (v & 1) << b;
        p1 |= ((v >>> 1) & 1) << b;
        p2 |= ((v >>> 2) & 1) << b;
        p3 |= ((v >>> 3) & 1) << b;
      }
      const word = (w >>> 2) * 4 * QUERY_BITS + (w & 3);
      planes[word] = p0;
      planes[word + 4] = p1;
      planes[word + 8] = p2;
      planes[word + 12] = p3;
    }
    return this.preparedQuery(query, planes, levels, low, step, levelSum);
  }

  /**
   * A prepared query from its planes and quantization (`levels` null: unpacked from the planes
   * when asked for); its norm and constant from the query itself, in f64 (R is orthogonal:
   * ||R(q - c)|| = ||q - c||).
   */
  preparedQuery(
    query: Float32Array,
    planes: Uint32Array,
    levels: Uint8Array | null,
    low: number,
    step: number,
    levelSum: number,
  ): PreparedRabitqQuery {
    const c = this.centroid;
    let norm2 = 0;
    let dot = 0;
    for (let d = 0; d < this.dim; d++) {
      const x = query[d]! - c[d]!;
      norm2 += x * x;
      dot -= c[d]! * query[d]!;
    }
    const constant = this.metric === 'ip' ? dot : norm2;
    return new PreparedQuery(planes, levels, low, step, low * this.paddedDim + step * levelSum, Math.sqrt(norm2), constant);
  }

  /** The f32 constants of `p`'s estimates (what the kernels read from a query slot). */
  estimateConstants(p: PreparedRabitqQuery): EstimateConstants {
    const f = Math.fround;
    return { step: f(p.step), low: f(p.low), middleSum: f(this.middle * p.sum), constant: f(p.constant), sign: this.sign };
  }

  /** The estimated distance of an item with integer product `s` (sum x_u * level) and factors at f[at..] (estimate32). */
  estimate(p: PreparedRabitqQuery, s: number, f: Float32Array, at: number): number {
    return estimate32(this.estimateConstants(p), s, f, at);
  }

  /**
   * Half-width of the estimate's confidence interval for the item with factors at f[at..]:
   * epsilon0 standard deviations of the rotation's error (sqrt(1 - ob^2)/ob |o'| |q'| / sqrt(P - 1))
   * and of the query's rounding (about step / sqrt(12) per unit of |o'|/ob), added in quadrature.
   */
  bound(p: PreparedRabitqQuery, f: Float32Array, at: number): number {
    const norm = f[at + 3]!;
    const ob = f[at + 4]!;
    const rotation = (p.norm * p.norm * (1 - ob * ob)) / (this.paddedDim - 1);
    const rounding = (p.step * p.step) / 12;
    return (-this.sign * this.epsilon0 * norm * Math.sqrt(rotation + rounding)) / ob;
  }
}

import type { DenseDataset } from '../../data/dense.js';
import { fail } from '../../errors.js';
import type { Metric } from '../../types.js';
import { HALF_MAX, halfBits, halfTable } from './half.js';

/** How a scalar-quantized store encodes each component: IEEE half, or one byte over [min, max]. */
export type ScalarEncoding = 'f16' | 'sq8';
/** Every ScalarEncoding, for argument checks. */
export const SCALAR_ENCODINGS: readonly ScalarEncoding[] = ['f16', 'sq8'];

/**
 * The f16 ip kernel decodes a half to its value x 2^-112 (see scalar/wasm-kernels.ts); the query
 * is scaled by 2^56 and the sum by 2^56 again, keeping every product in the normal f32 range.
 */
const F16_IP_QUERY_SCALE = 2 ** 56;

/** Components per padded row: the SIMD kernels decode 16 at a time with no scalar tail. */
const LANES = 16;

/**
 * The shape of one scalar encoding over one dimension: how many bytes a row takes, and for SQ8
 * the per-dimension range (x_d = min_d + scale_d * c_d, scale_d = (max_d - min_d) / 255).
 */
export class ScalarCodec {
  /** dim rounded up to what the kernels read at once. */
  readonly paddedDim: number;
  /** Bytes of one encoded row. */
  readonly rowBytes: number;
  /**
   * Bytes of one prepared query: f32 per padded component (for SQ8 l2 followed by the scales),
   * or for SQ8 ip i16 per padded component.
   */
  readonly queryBytes: number;

  constructor(
    /** 'f16' or 'sq8'. */
    readonly encoding: ScalarEncoding,
    /** Dimension of the vectors. */
    readonly dim: number,
    /** 'l2' or 'ip'. */
    readonly metric: Metric,
    /** SQ8: each component's minimum in the training data (null for f16). */
    readonly mins: Float32Array | null,
    /** SQ8: each component's step, (max - min) / 255 (null for f16). */
    readonly scales: Float32Array | null,
  ) {
    this.paddedDim = Math.ceil(dim / LANES) * LANES;
    this.rowBytes = this.paddedDim * (encoding === 'f16' ? 2 : 1);
    this.queryBytes = this.paddedDim * (encoding === 'f16' ? 4 : metric === 'l2' ? 8 : 2);
    if (encoding === 'sq8') {
      if (mins?.length !== dim || scales?.length !== dim) fail('CORRUPT_FILE', `SQ8 needs ${dim} minimums and scales`);
      for (let d = 0; d < dim; d++) {
        if (!Number.isFinite(mins[d]!) || !Number.isFinite(scales[d]!) || scales[d]! < 0)
          fail('CORRUPT_FILE', `SQ8 range of component ${d} is invalid (min ${mins[d]}, scale ${scales[d]})`);
      }
    }
  }

  /** Writes the codes of rows [0, data.size) of `data` into `out` at row slots[i] (or i). */
  encodeRows(data: DenseDataset, out: Uint8Array, slots?: Uint32Array): void {
    const { dim, rowBytes } = this;
    const x = data.data;
    if (this.encoding === 'f16') {
      const halves = new Uint16Array(out.buffer, out.byteOffset, out.byteLength >>> 1);
      for (let i = 0; i < data.size; i++) {
        const at = ((slots ? slots[i]! : i) * rowBytes) >>> 1;
        for (let d = 0; d < dim; d++) {
          const v = x[i * dim + d]!;
          if (Math.abs(v) > HALF_MAX)
            fail(
              'INVALID_ARGUMENT',
              `vector ${slots ? slots[i]! : i} has ${v} at component ${d}, outside the f16 range (±${HALF_MAX}): use sq8, pq or plain vectors`,
            );
          halves[at + d] = halfBits(v);
        }
      }
      return;
    }
    const mins = this.mins!;
    const scales = this.scales!;
    for (let i = 0; i < data.size; i++) {
      const at = (slots ? slots[i]! : i) * rowBytes;
      for (let d = 0; d < dim; d++) {
        const s = scales[d]!;
        // Values outside the trained range (rows added later) clamp to its ends.
        const c = s === 0 ? 0 : Math.round((x[i * dim + d]! - mins[d]!) / s);
        out[at + d] = Math.max(0, Math.min(c, 255));
      }
    }
  }

  /** Row `id` of `codes`, decoded to f32 (dim components). */
  decodeRow(codes: Uint8Array, id: number, out: Float32Array<ArrayBufferLike> = new Float32Array(this.dim)): Float32Array<ArrayBufferLike> {
    const at = id * this.rowBytes;
    if (this.encoding === 'f16') {
      const table = halfTable();
      for (let d = 0; d < this.dim; d++) out[d] = table[codes[at + 2 * d]! | (codes[at + 2 * d + 1]! << 8)]!;
    } else {
      for (let d = 0; d < this.dim; d++) out[d] = this.mins![d]! + this.scales![d]! * codes[at + d]!;
    }
    return out;
  }

  /**
   * Writes the query in the form the kernels take (queryBytes at byte `at` of `buffer`, 16-byte
   * aligned). An ip distance is then -(kernel * scale + offset); l2 kernels return the squared
   * distance itself.
   */
  prepareQuery(q: Float32Array, buffer: ArrayBufferLike, at: number): PreparedQuery {
    const { dim, paddedDim } = this;
    if (this.encoding === 'f16') {
      const f32 = new Float32Array(buffer, at, paddedDim);
      const scale = this.metric === 'ip' ? F16_IP_QUERY_SCALE : 1;
      f32.fill(0);
      for (let d = 0; d < dim; d++) f32[d] = q[d]! * scale;
      return { scale, offset: 0 };
    }
    const mins = this.mins!;
    const scales = this.scales!;
    if (this.metric === 'l2') {
      const f32 = new Float32Array(buffer, at, 2 * paddedDim);
      f32.fill(0);
      for (let d = 0; d < dim; d++) {
        f32[d] = q[d]! - mins[d]!;
        f32[paddedDim + d] = scales[d]!;
      }
      return { scale: 1, offset: 0 };
    }
    // ip: r_d = round(q_d * scale_d / unit), |r_d| <= limit, where the limit keeps every i32
    // lane of the kernel (paddedDim / 4 products of |r| <= limit and c <= 255) from
    // overflowing; the kernel adds the four lanes in f32.
    const i16 = new Int16Array(buffer, at, paddedDim);
    i16.fill(0);
    let offset = 0;
    let largest = 0;
    for (let d = 0; d < dim; d++) {
      offset += q[d]! * mins[d]!;
      largest = Math.max(largest, Math.abs(q[d]! * scales[d]!));
    }
    if (largest === 0) return { scale: 0, offset };
    const limit = Math.min(32767, Math.floor((2 ** 31 - 1) / ((paddedDim / 4) * 255)));
    const unit = largest / limit;
    for (let d = 0; d < dim; d++) i16[d] = Math.round((q[d]! * scales[d]!) / unit);
    return { scale: unit, offset };
  }
}

/** A prepared query's constants: an ip distance is -(kernel sum * scale + offset). */
export interface PreparedQuery {
  readonly scale: number;
  readonly offset: number;
}

import type { DenseDataset } from '../../data/dense.js';

/** Centroids per subspace: a code is one byte per subspace. */
export const PQ_KSUB = 256;

/**
 * What a PQ store and its evaluators read of a trained product quantizer: the shape, the
 * codebooks (m x 256 x dsub floats), and encoding and decoding rows. ProductQuantizer
 * (quantizer.ts) is the one implementation; this interface lets the store sit below it.
 */
export interface PqCodebook {
  /** Subspaces (bytes per code). */
  readonly m: number;
  readonly dim: number;
  /** Components per subspace. */
  readonly dsub: number;
  readonly codebooks: Float32Array;
  /** m-byte codes of every vector (nearest centroid per subspace). */
  encodeCodes(data: DenseDataset): Uint8Array;
  /** The vector a code stands for. */
  decode(codes: Uint8Array, offset?: number, out?: Float32Array): Float32Array;
}

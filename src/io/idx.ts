import { DenseDataset } from '../data/dense.js';
import { fail } from '../errors.js';

/**
 * Reads an idx3-ubyte image file (MNIST's format: big-endian u32 magic 0x803, n, rows, cols,
 * then n x rows x cols bytes) as a dense float32 dataset of dimension rows x cols.
 * `limit` keeps only the first rows.
 */
export function parseIdxImages(bytes: Uint8Array, limit = Infinity): DenseDataset {
  if (bytes.byteLength < 16) fail('TRUNCATED_FILE', `idx file is ${bytes.byteLength} bytes, shorter than its 16-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== 0x803) fail('FOREIGN_FILE', `not an idx3-ubyte image file (magic 0x${magic.toString(16)}, expected 0x803)`);
  const total = view.getUint32(4, false);
  const dim = view.getUint32(8, false) * view.getUint32(12, false);
  if (bytes.byteLength < 16 + total * dim) {
    fail('TRUNCATED_FILE', `idx file holds ${bytes.byteLength - 16} image bytes, its header announces ${total * dim}`);
  }
  const n = Math.min(total, limit);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n * dim; i++) out[i] = bytes[16 + i]!;
  return new DenseDataset(out, dim);
}

/** Reads an idx1-ubyte label file (magic 0x801). */
export function parseIdxLabels(bytes: Uint8Array, limit = Infinity): Uint8Array {
  if (bytes.byteLength < 8) fail('TRUNCATED_FILE', 'idx label file is shorter than its 8-byte header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, false) !== 0x801) fail('FOREIGN_FILE', 'not an idx1-ubyte label file');
  const n = Math.min(view.getUint32(4, false), limit);
  if (bytes.byteLength < 8 + n) fail('TRUNCATED_FILE', 'idx label file is truncated');
  return bytes.slice(8, 8 + n);
}

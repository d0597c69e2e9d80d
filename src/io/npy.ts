import { DenseDataset } from '../data/dense.js';
import { fail } from '../errors.js';
import { checkLimit, dataView, readWordsLE, writeWordsLE } from './vecs.js';

/**
 * NumPy `.npy` files holding one 2-D array (rows, dim).
 *
 * Layout: magic "\x93NUMPY", major and minor version bytes, the header length (u16 LE in
 * version 1.0, u32 LE in 2.0 and 3.0), then an ASCII Python dict literal such as
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (97, 768), }` padded with spaces and a
 * final newline, then the raw array data.
 *
 * Accepted dtypes: '<f4' (read as is) and '<f8' (converted to float32, because most tools
 * that export embeddings from Python default to float64; values beyond float32 range become
 * Infinity and are then refused as NON_FINITE). Anything else - big-endian, integer, structured
 * - is an UNSUPPORTED_FORMAT error naming the dtype. Fortran-ordered arrays are refused rather
 * than transposed, so that a column-major export is never mistaken for row vectors.
 */

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
/** numpy aligns the start of the data to this many bytes (numpy.lib.format.ARRAY_ALIGN). */
const ALIGN = 64;

interface NpyHeader {
  descr: string;
  fortran: boolean;
  shape: number[];
  dataStart: number;
}

function parseHeader(bytes: Uint8Array): NpyHeader {
  const len = bytes.byteLength;
  if (len === 0) fail('EMPTY_DATA', '.npy file is empty');
  for (let i = 0; i < Math.min(len, MAGIC.length); i++) {
    if (bytes[i] !== MAGIC[i]) fail('FOREIGN_FILE', 'not a .npy file: it does not start with "\\x93NUMPY"');
  }
  if (len < 10) fail('TRUNCATED_FILE', `.npy file is ${len} bytes, shorter than its fixed header`);
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (major < 1 || major > 3) fail('UNSUPPORTED_VERSION', `.npy format version ${major}.${minor} is not supported (1.0, 2.0 and 3.0 are)`);
  const view = dataView(bytes);
  let headerLen: number;
  let textStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    textStart = 10;
  } else {
    if (len < 12) fail('TRUNCATED_FILE', `.npy file is ${len} bytes, shorter than its fixed header`);
    headerLen = view.getUint32(8, true);
    textStart = 12;
  }
  const dataStart = textStart + headerLen;
  if (dataStart > len) fail('TRUNCATED_FILE', `.npy file ends inside its header (${len} bytes, header ends at ${dataStart})`);
  // The header is ASCII (UTF-8 in 3.0, but the keys and values we need are ASCII either way).
  let text = '';
  for (let i = textStart; i < dataStart; i++) text += String.fromCharCode(bytes[i]!);

  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined) {
    fail('UNSUPPORTED_FORMAT', `.npy dtype is not a plain numeric type (header: ${text.trim()}); save a float32 array`);
  }
  if (fortran === undefined || shapeText === undefined) fail('CORRUPT_FILE', `.npy header is malformed: ${text.trim()}`);
  const parts = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const shape = parts.map((s) => (/^\d+$/.test(s) ? Number(s) : fail('CORRUPT_FILE', `.npy header has a bad shape (${shapeText})`)));
  return { descr, fortran: fortran === 'True', shape, dataStart };
}

/** Reads a 2-D '<f4' or '<f8' C-order array; `limit` keeps the first rows. */
export function readNpy(bytes: Uint8Array, limit = Infinity): DenseDataset {
  checkLimit(limit);
  const { descr, fortran, shape, dataStart } = parseHeader(bytes);
  const itemBytes = descr === '<f4' ? 4 : descr === '<f8' ? 8 : 0;
  if (itemBytes === 0) {
    fail(
      'UNSUPPORTED_FORMAT',
      `.npy dtype '${descr}' is not supported: webannolo reads '<f4' (float32) and '<f8' (converted); use arr.astype('<f4')`,
    );
  }
  if (fortran) {
    fail('UNSUPPORTED_FORMAT', '.npy array is in Fortran (column-major) order: save np.ascontiguousarray(arr) instead');
  }
  if (shape.length !== 2) {
    fail('UNSUPPORTED_FORMAT', `.npy array has shape (${shape.join(', ')}): expected a 2-D array (rows, dim)`);
  }
  const [rows, dim] = shape as [number, number];
  if (rows === 0 || dim === 0) fail('EMPTY_DATA', `.npy array has shape (${rows}, ${dim}): it needs at least one vector`);
  const need = rows * dim * itemBytes; // a double: exact up to 2^53, and any larger value cannot fit anyway
  const have = bytes.byteLength - dataStart;
  if (have < need) fail('TRUNCATED_FILE', `.npy data is ${have} bytes, its shape (${rows}, ${dim}) of '${descr}' needs ${need}`);
  if (have > need) fail('FOREIGN_FILE', `.npy file has ${have - need} unexpected bytes after the (${rows}, ${dim}) '${descr}' array`);

  const n = Math.min(rows, limit);
  const out = new Float32Array(n * dim);
  if (itemBytes === 4) {
    readWordsLE(bytes, dataStart, out, 0, n * dim);
  } else {
    const view = dataView(bytes);
    for (let i = 0; i < n * dim; i++) out[i] = view.getFloat64(dataStart + 8 * i, true);
  }
  return new DenseDataset(out, dim);
}

/** Writes a version 1.0 '<f4' C-order file, header padded so the data is 64-byte aligned as numpy does. */
export function writeNpy(ds: DenseDataset): Uint8Array {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${ds.size}, ${ds.dim}), }`;
  const unpadded = 10 + dict.length + 1; // fixed part + dict + the closing '\n'
  const header = `${dict}${' '.repeat((ALIGN - (unpadded % ALIGN)) % ALIGN)}\n`;
  const out = new Uint8Array(10 + header.length + ds.data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  dataView(out).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  writeWordsLE(ds.data, 0, out, 10 + header.length, ds.data.length);
  return out;
}

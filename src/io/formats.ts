import type { DenseDataset } from '../data/dense.js';
import type { SparseDataset } from '../data/sparse.js';
import { fail } from '../errors.js';
import { readCsr } from './csr.js';
import { parseIdxImages } from './idx.js';
import { readNpy } from './npy.js';
import { readSparseBin } from './sparse-bin.js';
import { checkLimit, readBvecs, readFvecs } from './vecs.js';

/**
 * Picking a reader for a dataset file: by extension, or by an explicit override (the CLI's
 * `--format`), since names like `base.bin` or `data` say little about their contents.
 */

export type DataFormat = 'fvecs' | 'bvecs' | 'npy' | 'csr' | 'bin' | 'idx';

export const DATA_FORMATS: readonly DataFormat[] = ['fvecs', 'bvecs', 'npy', 'csr', 'bin', 'idx'];

/** What each format holds, for error messages and help texts. */
const DESCRIPTIONS: Record<DataFormat, string> = {
  fvecs: '.fvecs (dense float32)',
  bvecs: '.bvecs (dense uint8)',
  npy: '.npy (2-D float32 NumPy array)',
  csr: '.csr (big-ann-benchmarks sparse)',
  bin: '.bin (kANNolo/Seismic sparse)',
  idx: 'idx3-ubyte (MNIST images)',
};

function knownList(): string {
  return DATA_FORMATS.map((f) => DESCRIPTIONS[f]).join(', ');
}

function isFormat(s: string): s is DataFormat {
  return (DATA_FORMATS as readonly string[]).includes(s);
}

/**
 * The format of `path` (a file path or URL), or of `override` when given (case-insensitive,
 * a leading dot allowed). Unknown -> UNSUPPORTED_FORMAT listing the known formats.
 */
export function formatFromPath(path: string, override?: string): DataFormat {
  if (override !== undefined) {
    const f = override.trim().toLowerCase().replace(/^\./, '');
    if (isFormat(f)) return f;
    if (f === 'idx3-ubyte') return 'idx';
    fail('UNSUPPORTED_FORMAT', `unknown format '${override}': known formats are ${DATA_FORMATS.join(', ')}`);
  }
  // For URLs, the query string and fragment are not part of the file name.
  const clean = path.includes('://') ? path.replace(/[?#].*$/, '') : path;
  const name = clean.slice(Math.max(clean.lastIndexOf('/'), clean.lastIndexOf('\\')) + 1).toLowerCase();
  // MNIST files are named like `train-images-idx3-ubyte` or `train-images.idx3-ubyte`.
  if (name.endsWith('idx3-ubyte')) return 'idx';
  const dot = name.lastIndexOf('.');
  const ext = dot >= 0 ? name.slice(dot + 1) : '';
  if (isFormat(ext) && ext !== 'idx') return ext;
  if (ext === 'ivecs') {
    fail('UNSUPPORTED_FORMAT', `${path} is an .ivecs file (integer ids such as ground truth), not a dataset of vectors`);
  }
  if (ext === 'gz' || ext === 'zip' || ext === 'tar' || ext === 'bz2' || ext === 'xz' || ext === 'zst') {
    fail('UNSUPPORTED_FORMAT', `${path} is compressed: decompress it first (known formats: ${knownList()})`);
  }
  const what = ext === '' ? 'has no extension' : `has the unknown extension '.${ext}'`;
  return fail('UNSUPPORTED_FORMAT', `${path} ${what}: known formats are ${knownList()} (or pass the format explicitly)`);
}

/** Parses a whole file's bytes; `limit` keeps the first rows. Sparse .bin takes dim = max id + 1. */
export function parseDataset(bytes: Uint8Array, format: DataFormat, limit = Infinity): DenseDataset | SparseDataset {
  checkLimit(limit);
  switch (format) {
    case 'fvecs':
      return readFvecs(bytes, limit);
    case 'bvecs':
      return readBvecs(bytes, limit);
    case 'npy':
      return readNpy(bytes, limit);
    case 'csr':
      return readCsr(bytes, limit);
    case 'bin':
      return readSparseBin(bytes, undefined, limit);
    case 'idx':
      return parseIdxImages(bytes, limit);
    default:
      return fail('UNSUPPORTED_FORMAT', `unknown format '${String(format)}': known formats are ${DATA_FORMATS.join(', ')}`);
  }
}

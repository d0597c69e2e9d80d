import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DenseDataset } from '../data/dense.js';
import type { SparseDataset } from '../data/sparse.js';
import { fail } from '../errors.js';
import { formatFromPath, parseDataset } from '../io/formats.js';
import { readIvecs } from '../io/vecs.js';

/**
 * Node-only file access around the pure byte readers of src/io: reading with one readable
 * error line for a missing or unreadable file, and crash-safe writing.
 */

/** The whole file, or INVALID_ARGUMENT `cannot read <path>: ...` (a user typo, not a bug). */
export async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') fail('INVALID_ARGUMENT', `cannot read ${path}: no such file`);
    if (code === 'EISDIR') fail('INVALID_ARGUMENT', `cannot read ${path}: it is a directory`);
    if (code === 'EACCES' || code === 'EPERM') fail('INVALID_ARGUMENT', `cannot read ${path}: permission denied`);
    throw err;
  }
}

/**
 * Reads a dense or sparse dataset; the format comes from the extension unless `format` is
 * given (see formatFromPath). `limit` keeps the first rows. The format is resolved before
 * the file is read, so a wrong name fails fast without loading gigabytes.
 */
export async function readDatasetFile(path: string, opts: { format?: string; limit?: number } = {}): Promise<DenseDataset | SparseDataset> {
  const format = formatFromPath(path, opts.format);
  return parseDataset(await readBytes(path), format, opts.limit ?? Infinity);
}

/** Reads an .ivecs file (e.g. ground-truth neighbour ids). */
export async function readIvecsFile(path: string, limit = Infinity): Promise<{ rows: number; dim: number; data: Int32Array }> {
  return readIvecs(await readBytes(path), limit);
}

/**
 * Writes `bytes` so that `path` holds either its old content or all of the new one, never a
 * torn file (an index written while the process is killed must not be half-readable): the
 * data goes to a temporary file in the same directory (same file system, so rename is
 * atomic), is fsynced, then renamed over the target. On any error the temporary file is
 * removed and the error rethrown.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let created = false;
  try {
    // 'wx': fail rather than clobber if the (random) name somehow exists.
    const handle = await open(tmp, 'wx');
    created = true;
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    created = false;
  } catch (err) {
    if (created) await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(dirname(path));
}

/** Makes the rename itself durable where the platform allows fsync on a directory (not Windows). */
async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Best effort: the file content is already synced; only the directory entry may lag.
  }
}

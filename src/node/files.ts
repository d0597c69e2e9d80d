import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { DenseDataset } from '../data/dense.js';
import type { SparseDataset } from '../data/sparse.js';
import { fail, WebannoloError } from '../errors.js';
import { formatFromPath, parseDataset } from '../io/formats.js';
import { readIvecs } from '../io/vecs.js';
import { processAlive } from './processes.js';

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

/** Reads an .ivecs file (e.g. ground-truth neighbour ids): `rows` rows of `dim` values, row-major in `data`. */
export async function readIvecsFile(path: string, limit = Infinity): Promise<{ rows: number; dim: number; data: Int32Array }> {
  return readIvecs(await readBytes(path), limit);
}

/**
 * Writes `bytes` so that `path` holds either its old content or all of the new one, never a
 * torn file (an index written while the process is killed must not be half-readable): the
 * data goes to a temporary file in the same directory (same file system, so rename is
 * atomic), is fsynced, then renamed over the target. On any error the temporary file is
 * removed and the error rethrown; the temporary files of writers killed before they could
 * remove theirs (`PATH.tmp-PID-HEX` of a dead PID) are removed first.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await writeAtomic(path, bytes, null);
}

/**
 * A file's identity and version: which file the name leads to (device, inode) and what it
 * holds (size, modification and status-change times, in nanoseconds). Replacing the file,
 * or writing into it, changes it.
 */
export interface FileVersion {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

/** The version of the file at `path` now, or null when there is none. */
export async function fileVersion(path: string): Promise<FileVersion | null> {
  try {
    const { dev, ino, size, mtimeNs, ctimeNs } = await stat(path, { bigint: true });
    return { dev, ino, size, mtimeNs, ctimeNs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function sameVersion(a: FileVersion | null, b: FileVersion | null): boolean {
  if (a === null || b === null) return a === b;
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** The file a change was based on was replaced or rewritten by someone else before the change could be written. */
export class FileReplacedError extends WebannoloError {
  constructor(readonly path: string) {
    super(
      'INVALID_ARGUMENT',
      `${path} was replaced or rewritten by another program while this change ran: nothing was written (writing would lose that program's change); run it again`,
    );
    this.name = 'FileReplacedError';
  }
}

/**
 * writeFileAtomic for a read-change-write: `expected` is the version of `path` the change
 * was made from (see fileVersion, taken before reading it). Checked once the new content is
 * on disk, just before the rename: a file replaced or rewritten meanwhile fails with
 * FileReplacedError and is left as it is. (A replacement in the moment between that check
 * and the rename cannot be seen: writers of one file should also share its lock, see
 * file-lock.ts.)
 */
export async function writeFileReplacing(path: string, bytes: Uint8Array, expected: FileVersion | null): Promise<void> {
  await writeAtomic(path, bytes, async () => {
    if (!sameVersion(await fileVersion(path), expected)) throw new FileReplacedError(path);
  });
}

async function writeAtomic(path: string, bytes: Uint8Array, beforeRename: (() => Promise<void>) | null): Promise<void> {
  await removeStaleTemps(path);
  const tmp = tempPathOf(path);
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
    await beforeRename?.();
    await rename(tmp, path);
    created = false;
  } catch (err) {
    if (created) await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(dirname(path));
}

/** A temporary name beside `path` for this process: `PATH.tmp-PID-HEX`. */
export function tempPathOf(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/**
 * Removes the temporary files beside `path` (see tempPathOf) of processes that are gone: a
 * writer killed between creating its temporary file and renaming it could not remove it.
 * Only this machine's processes can be checked: in a directory that writers on several
 * machines share, a file of a writer elsewhere whose pid is free here looks stale, and that
 * writer's rename then fails (an error, never a torn or lost file). webannolo add/remove
 * hold the index's lock while they write, so their writes never meet that way.
 */
export async function removeStaleTemps(path: string): Promise<void> {
  const dir = dirname(path);
  const prefix = `${basename(path)}.tmp-`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return; // No directory (the write will say so) or not listable: nothing to clean.
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)-[0-9a-f]+$/.exec(name.slice(prefix.length));
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    // Another process may be removing it at the same moment: that is fine.
    await unlink(join(dir, name)).catch(() => undefined);
  }
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

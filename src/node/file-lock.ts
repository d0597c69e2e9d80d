import { randomBytes } from 'node:crypto';
import { link, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { WebannoloError } from '../errors.js';
import { removeStaleTemps, tempPathOf } from './files.js';
import { type ProcessId, processGone, thisProcess } from './processes.js';

/**
 * An exclusive lock on a file for a read-change-write (the CLI's add and remove): the file
 * `PATH.lock` beside it, created only if absent, names the process holding it. A second
 * process finds it and fails at once or waits; a lock whose process is gone (killed before
 * it could remove it) is taken over. Advisory: it binds only writers that take it.
 */

/** What a lock file holds: who holds it, since when, doing what, and a token of this holding. */
export interface LockHolder extends ProcessId {
  readonly since: string;
  readonly command: string;
  readonly token: string;
}

/** Another process holds the lock on a file (see FileLock.acquire). */
export class FileLockedError extends WebannoloError {
  constructor(
    readonly path: string,
    /** The lock's holder, or null when its lock file could not be read as one. */
    readonly holder: LockHolder | null,
    message: string,
  ) {
    super('INVALID_ARGUMENT', message);
    this.name = 'FileLockedError';
  }
}

export interface LockOptions {
  /** What the holder does, for the message a second process shows: e.g. 'webannolo add'. */
  readonly command: string;
  /** How long to wait for another holder to finish, in milliseconds (default 0: fail at once). */
  readonly waitMs?: number;
  /** What the error says to do while another process on this machine holds the lock. */
  readonly waitHint?: string;
}

/** A lock file that cannot be read as one is taken for the remains of a crash after this long (a live one is whole within microseconds). */
const UNREADABLE_STALE_MS = 10_000;
/** Give up taking over stale locks after this many rounds (a directory we may not change, say). */
const MAX_TAKEOVERS = 20;

export class FileLock {
  private released = false;

  private constructor(
    /** The lock file: the target's path plus `.lock`. */
    readonly path: string,
    private readonly token: string,
  ) {}

  /**
   * Locks `target` for this process: fails with FileLockedError while another live process
   * holds its lock (or waits up to `waitMs` for it to end), takes over a lock whose process
   * is gone. Release it when done, also on errors (try/finally).
   */
  static async acquire(target: string, options: LockOptions): Promise<FileLock> {
    const path = `${target}.lock`;
    const me: LockHolder = {
      ...thisProcess(),
      since: new Date().toISOString(),
      command: options.command,
      token: randomBytes(8).toString('hex'),
    };
    const text = `${JSON.stringify(me)}\n`;
    // Staging files of lockers killed mid-way (see place).
    await removeStaleTemps(path);
    const waitMs = options.waitMs ?? 0;
    const deadline = Date.now() + waitMs;
    let pause = 20;
    for (let takeovers = 0; ; ) {
      if (await place(path, text)) return new FileLock(path, me.token);
      const found = await readLock(path);
      if (found === null) continue; // Released in between: try again at once.
      if (isStale(found)) {
        if (++takeovers > MAX_TAKEOVERS) throw lockedError(target, path, found, options, 'cannot be taken over');
        await takeOver(path, found.text);
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw lockedError(target, path, found, options, null);
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
      pause = Math.min(pause * 2, 500);
    }
  }

  /** Removes the lock file if it is still this holding's (idempotent). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const found = await readLock(this.path);
    if (found?.holder?.token === this.token) await unlink(this.path).catch(() => undefined);
  }
}

interface FoundLock {
  readonly text: string;
  readonly holder: LockHolder | null;
  readonly mtimeMs: number;
}

/**
 * Creates the lock file with `text` unless one exists. The text goes into a staging file
 * first, then is hard-linked to the lock's name (which fails if that exists): a lock file
 * is never seen without its holder, even if this process is killed half-way. Where the
 * file system has no hard links, an exclusive create and a write.
 */
async function place(path: string, text: string): Promise<boolean> {
  const staging = tempPathOf(path);
  await writeFile(staging, text, { flag: 'wx' });
  try {
    await link(staging, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
  } finally {
    await unlink(staging).catch(() => undefined);
  }
  try {
    await writeFile(path, text, { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** The lock file's content and holder, or null when there is none. */
async function readLock(path: string): Promise<FoundLock | null> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, { mtimeMs }] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return { text, holder: parseHolder(text), mtimeMs };
}

function parseHolder(text: string): LockHolder | null {
  try {
    const h = JSON.parse(text) as Partial<LockHolder> | null;
    if (h === null || typeof h !== 'object') return null;
    if (!Number.isSafeInteger(h.pid) || typeof h.host !== 'string' || typeof h.token !== 'string') return null;
    return {
      pid: h.pid!,
      host: h.host,
      start: typeof h.start === 'string' ? h.start : null,
      since: String(h.since ?? ''),
      command: String(h.command ?? 'process'),
      token: h.token,
    };
  } catch {
    return null;
  }
}

function isStale(found: FoundLock): boolean {
  if (found.holder === null) return Date.now() - found.mtimeMs > UNREADABLE_STALE_MS;
  return processGone(found.holder);
}

/**
 * Removes a stale lock whose content was `staleText`. It is first renamed aside (atomic),
 * so that of two processes taking over at once only one moves it; if what was moved is
 * not that stale lock (a live process had taken it over in between), it is put back.
 */
async function takeOver(path: string, staleText: string): Promise<void> {
  const aside = tempPathOf(path);
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    const moved = await readFile(aside, 'utf8');
    if (moved !== staleText) await place(path, moved);
  } finally {
    await unlink(aside).catch(() => undefined);
  }
}

function lockedError(target: string, path: string, found: FoundLock, options: LockOptions, stuck: string | null): FileLockedError {
  const h = found.holder;
  const waitMs = options.waitMs ?? 0;
  const waited = waitMs > 0 ? ` (waited ${formatWait(waitMs)})` : '';
  if (h === null)
    return new FileLockedError(
      target,
      null,
      `${target} is locked by ${path}, which another process is creating or which is damaged${waited}: if nothing is changing ${target}, delete ${path}`,
    );
  const here = h.host === thisProcess().host;
  const who = `another ${h.command} (pid ${h.pid}${here ? '' : ` on ${h.host}`}${h.since ? `, since ${h.since}` : ''})`;
  if (stuck !== null) return new FileLockedError(target, h, `${target}: the stale lock ${path} of ${who} ${stuck}: delete it`);
  const remedy = here ? (options.waitHint ?? 'try again when it has finished') : `if that process no longer runs, delete ${path}`;
  return new FileLockedError(target, h, `${who} is changing ${target}${waited}: ${remedy}`);
}

function formatWait(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s` : `${ms} ms`;
}

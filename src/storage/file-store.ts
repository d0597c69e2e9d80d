import type { ByteSource } from './read-index.js';

/**
 * A flat folder of named files: what saved indexes need of a storage backend, kept this small
 * so that the logic above it (generations, the manifest written last, cleaning up, quota
 * errors) is the same for OPFS and IndexedDB, and testable with an in-memory folder.
 */
export interface FileStore {
  /** The backend's name, as StorageBackend says it. */
  readonly backend: string;
  /**
   * Writes a file. A file of that name keeps its old contents until close() resolves, then
   * has the new ones, whole (a new name may show up empty before that). Bytes go out in the
   * writer's chunks: the file is never held whole.
   */
  create(name: string): Promise<FileWriter>;
  /** The file's bytes, read a range at a time, or null when there is no such file. */
  open(name: string): Promise<ByteSource | null>;
  /** Removes a file; no error when there is none. */
  remove(name: string): Promise<void>;
  /** The names of the files there (files whose writing never finished included). */
  list(): Promise<string[]>;
  /**
   * The file opened for synchronous reads (what re-ranking from disk reads rows through), or
   * null when there is no such file. Only stores whose platform has synchronous reads have it
   * (OPFS in a dedicated worker). While open, the file may refuse removal: removers retry later.
   */
  openSync?(name: string): Promise<SyncFile | null>;
}

/** A file open for synchronous positioned reads. */
export interface SyncFile {
  /** Bytes in the file. */
  readonly size: number;
  /** Reads bytes at `position` into `into`, up to its length; returns how many (0 at the end). */
  read(into: Uint8Array, position: number): number;
  /** Releases the file. */
  close(): void;
}

export interface FileWriter {
  /** Appends bytes; the caller may change `chunk` once the promise resolves. */
  write(chunk: Uint8Array): Promise<void>;
  /** Makes the file what was written. */
  close(): Promise<void>;
  /** Gives up: the file stays as it was before create(). */
  abort(): Promise<void>;
}

/** Whether `e` is a storage quota refusal (a DOMException named QuotaExceededError, from OPFS or IndexedDB). */
export function isQuotaError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'QuotaExceededError';
}

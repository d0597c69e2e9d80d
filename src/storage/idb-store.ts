import { fail } from '../errors.js';
import type { FileStore, FileWriter } from './file-store.js';
import type { ByteSource } from './read-index.js';

/** A file's record: which write holds its chunks, and its size. */
interface FileRecord {
  token: string;
  size: number;
  chunkBytes: number;
}

const FILES = 'files';
const CHUNKS = 'chunks';

/**
 * Files in an IndexedDB database, for browsers without a writable origin private file system.
 * A file is its record in `files` and its bytes in `chunks`, one record per chunk of a few MB
 * keyed [name, token, i]: a write puts its chunks under a fresh token and switches the file's
 * record to it in one transaction on close(), so a write cut short leaves the file as it was
 * (its chunks stay behind, listed under the file's name, until the file is removed).
 */
export class IdbFileStore implements FileStore {
  readonly backend = 'indexeddb';
  private constructor(private readonly db: IDBDatabase) {}

  /** The store in database `name`, or null where this context has no IndexedDB. */
  static async open(name: string): Promise<IdbFileStore | null> {
    const factory = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    if (!factory) return null;
    const request = factory.open(name, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore(FILES);
      request.result.createObjectStore(CHUNKS);
    };
    const db = await done(request);
    // Another tab upgrading the database later: let it, this connection is done.
    db.onversionchange = () => db.close();
    return new IdbFileStore(db);
  }

  async create(name: string): Promise<FileWriter> {
    const token = Math.random().toString(36).slice(2);
    let size = 0;
    let chunks = 0;
    let chunkBytes = 0;
    return {
      write: async (chunk) => {
        if (chunks > 0 && chunk.length > chunkBytes) fail('INVALID_ARGUMENT', 'internal: IndexedDB chunks must not grow');
        chunkBytes = Math.max(chunkBytes, chunk.length);
        // A view would store its whole buffer: store exactly the chunk's bytes.
        const record = chunk.slice().buffer;
        const tx = this.db.transaction(CHUNKS, 'readwrite');
        tx.objectStore(CHUNKS).put(record, [name, token, chunks]);
        await committed(tx);
        chunks++;
        size += chunk.length;
      },
      close: async () => {
        const tx = this.db.transaction([FILES, CHUNKS], 'readwrite');
        const files = tx.objectStore(FILES);
        const old = await done(files.get(name) as IDBRequest<FileRecord | undefined>);
        if (old) tx.objectStore(CHUNKS).delete(chunkRange(name, old.token));
        files.put({ token, size, chunkBytes } satisfies FileRecord, name);
        await committed(tx);
      },
      abort: async () => {
        const tx = this.db.transaction(CHUNKS, 'readwrite');
        tx.objectStore(CHUNKS).delete(chunkRange(name, token));
        await committed(tx);
      },
    };
  }

  async open(name: string): Promise<ByteSource | null> {
    const tx = this.db.transaction(FILES, 'readonly');
    const record = await done(tx.objectStore(FILES).get(name) as IDBRequest<FileRecord | undefined>);
    if (!record) return null;
    const { token, size, chunkBytes } = record;
    return {
      size,
      read: async (start, end) => {
        if (end <= start) return new Uint8Array(0);
        const first = Math.floor(start / chunkBytes);
        const last = Math.floor((end - 1) / chunkBytes);
        const t = this.db.transaction(CHUNKS, 'readonly');
        const range = IDBKeyRange.bound([name, token, first], [name, token, last]);
        const parts = (await done(t.objectStore(CHUNKS).getAll(range))) as ArrayBuffer[];
        // One chunk (reads the size of the chunks): a view, no copy.
        if (parts.length === 1 && first === last) {
          const from = start - first * chunkBytes;
          return new Uint8Array(parts[0]!).subarray(from, from + end - start);
        }
        const out = new Uint8Array(end - start);
        let filled = 0;
        for (const [i, part] of parts.entries()) {
          const bytes = new Uint8Array(part);
          const at = (first + i) * chunkBytes;
          const from = Math.max(start, at);
          const to = Math.min(end, at + bytes.length);
          if (to > from) {
            out.set(bytes.subarray(from - at, to - at), from - start);
            filled = to - start;
          }
        }
        return out.subarray(0, filled);
      },
    };
  }

  async remove(name: string): Promise<void> {
    const tx = this.db.transaction([FILES, CHUNKS], 'readwrite');
    tx.objectStore(FILES).delete(name);
    tx.objectStore(CHUNKS).delete(IDBKeyRange.bound([name], [name, []]));
    await committed(tx);
  }

  async list(): Promise<string[]> {
    const tx = this.db.transaction([FILES, CHUNKS], 'readonly');
    const files = (await done(tx.objectStore(FILES).getAllKeys())) as string[];
    const chunks = (await done(tx.objectStore(CHUNKS).getAllKeys())) as [string, string, number][];
    return [...new Set([...files, ...chunks.map((k) => k[0])])];
  }

  /** Closes the database connection (the store is unusable after). */
  close(): void {
    this.db.close();
  }
}

/** Every chunk of one write of `name`. */
function chunkRange(name: string, token: string): IDBKeyRange {
  return IDBKeyRange.bound([name, token], [name, token, []]);
}

function done<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Resolves when the transaction commits; rejects with its error (QuotaExceededError among them) when it aborts. */
function committed(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new DOMException('IndexedDB transaction aborted', 'AbortError'));
  });
}

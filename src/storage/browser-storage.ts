import { fail } from '../errors.js';
import type { AnyIndex, SerializeOptions } from '../indexes/index-codec.js';
import type { FileStore } from './file-store.js';
import { IdbFileStore } from './idb-store.js';
import { IndexShelf, type SavedIndexInfo, type ShelfHooks } from './index-shelf.js';
import { OpfsFileStore } from './opfs-store.js';
import { whyNoSyncReads } from './opfs-sync-file.js';

export type { SavedIndexInfo } from './index-shelf.js';
export { StorageFullError } from './storage-full.js';

/** Where saved indexes are kept. */
export type StorageBackend = 'opfs' | 'indexeddb';

/** Where saveIndex, openIndex, listIndexes and deleteIndex keep indexes. */
export interface StorageOptions {
  /**
   * 'auto' (default): the origin private file system where this context can write it,
   * else IndexedDB. A named backend is used as it is, or fails where it is missing. The two
   * keep separate sets of indexes.
   */
  backend?: 'auto' | StorageBackend;
  /** The OPFS folder, or IndexedDB database, the indexes live in (default 'webannolo'). */
  namespace?: string;
}

/**
 * Saves `index` in this browser under `name`, replacing any index of that name atomically:
 * until the new copy is whole the old one stays the one openIndex reads, and a save cut short
 * (the tab closed, the quota reached) leaves it as it was. The file streams out a few MB at a
 * time. A quota too small fails with StorageFullError (IO_FAILURE), saying how much was needed.
 * Do not change the index while the save runs (it retries, then fails, if a change lands).
 */
export async function saveIndex(index: AnyIndex, name: string, options: StorageOptions & SerializeOptions = {}): Promise<SavedIndexInfo> {
  const { backend, namespace, ...serialize } = options;
  return (await shelf({ backend, namespace })).save(index, name, serialize);
}

/** Options of openIndex. */
export interface OpenIndexOptions extends StorageOptions {
  /**
   * Where the plain vectors a quantized index keeps for re-ranking live (the file's
   * `rerank.*` sections): 'memory' (default) reads them with the rest; 'disk' leaves them in
   * the origin private file system and reads the rows each re-ranking needs, as
   * `loadIndexFile(path, { rerank: 'disk' })` does in Node. 'disk' works only in a dedicated
   * Web Worker (synchronous file reads exist nowhere else) with the OPFS backend; the index
   * then holds its file open until closeIndex. Indexes without re-ranking vectors open as
   * with 'memory'; one that re-ranks with f16 or SQ8 codes is refused (INVALID_ARGUMENT).
   */
  rerank?: 'memory' | 'disk';
}

/**
 * Opens the index saved under `name` (INVALID_ARGUMENT when there is none), reading it in
 * chunks straight into place; with `rerank: 'disk'` its re-ranking vectors stay in the file
 * (see OpenIndexOptions).
 */
export async function openIndex(name: string, options: OpenIndexOptions = {}): Promise<AnyIndex> {
  const { rerank = 'memory', ...storage } = options;
  if (rerank !== 'memory' && rerank !== 'disk') fail('INVALID_ARGUMENT', `rerank must be 'memory' or 'disk', got '${String(rerank)}'`);
  if (rerank === 'disk') {
    const why = whyNoSyncReads();
    if (why !== null) fail('INVALID_ARGUMENT', why);
  }
  return (await shelf(storage)).open(name, rerank);
}

/** The indexes saved in this browser (in the backend `options` picks), by name. */
export async function listIndexes(options: StorageOptions = {}): Promise<SavedIndexInfo[]> {
  return (await shelf(options)).list();
}

/** Deletes the index saved under `name`; false when there was none. */
export async function deleteIndex(name: string, options: StorageOptions = {}): Promise<boolean> {
  return (await shelf(options)).delete(name);
}

/** The backend `options` lead to here ('auto' resolved); fails as the other calls do where there is none. */
export async function storageBackend(options: StorageOptions = {}): Promise<StorageBackend> {
  return (await shelf(options)).files.backend as StorageBackend;
}

/** Shelves by backend and namespace: the file stores open once. */
const shelves = new Map<string, Promise<IndexShelf>>();

function shelf(options: StorageOptions): Promise<IndexShelf> {
  const backend = options.backend ?? 'auto';
  if (backend !== 'auto' && backend !== 'opfs' && backend !== 'indexeddb')
    fail('INVALID_ARGUMENT', `backend must be 'auto', 'opfs' or 'indexeddb', got '${String(backend)}'`);
  const namespace = options.namespace ?? 'webannolo';
  if (typeof namespace !== 'string' || !/^[\w.-]{1,64}$/.test(namespace) || namespace.startsWith('.'))
    fail('INVALID_ARGUMENT', `namespace must be 1 to 64 letters, digits, '_', '-' or '.', got ${JSON.stringify(namespace)}`);
  const key = `${backend}:${namespace}`;
  let made = shelves.get(key);
  if (!made) {
    made = fileStore(backend, namespace).then((files) => new IndexShelf(files, browserHooks, namespace));
    // A failure (no storage here) is not kept: the next call asks again.
    made.catch(() => shelves.delete(key));
    shelves.set(key, made);
  }
  return made;
}

async function fileStore(backend: 'auto' | StorageBackend, namespace: string): Promise<FileStore> {
  if (backend !== 'indexeddb') {
    const opfs = await OpfsFileStore.open(namespace);
    if (opfs) return opfs;
    if (backend === 'opfs')
      fail(
        'INVALID_ARGUMENT',
        "backend 'opfs' is not available here (no origin private file system with writable streams): use 'auto' or 'indexeddb'",
      );
  }
  const idb = await IdbFileStore.open(namespace);
  if (idb) return idb;
  return fail(
    'INVALID_ARGUMENT',
    backend === 'indexeddb'
      ? "backend 'indexeddb' is not available here (no IndexedDB)"
      : 'saved indexes need a browser: this context has neither an origin private file system nor IndexedDB (in Node, use saveIndexFile and loadIndexFile from webannolo/node)',
  );
}

interface BrowserNavigator {
  storage?: { estimate?: () => Promise<{ quota?: number; usage?: number }> };
  locks?: { request<T>(name: string, options: { mode: 'exclusive' | 'shared' }, fn: () => Promise<T>): Promise<T> };
}

const browserHooks: ShelfHooks = {
  async estimate() {
    const nav = (globalThis as { navigator?: BrowserNavigator }).navigator;
    const e = await nav?.storage?.estimate?.();
    return e && typeof e.quota === 'number' && typeof e.usage === 'number' ? { quota: e.quota, usage: e.usage } : null;
  },
  lock(name, mode, fn) {
    const locks = (globalThis as { navigator?: BrowserNavigator }).navigator?.locks;
    return locks ? locks.request(name, { mode }, fn) : fn();
  },
};

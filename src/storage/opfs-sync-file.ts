import { fail } from '../errors.js';
import type { SyncFile } from './file-store.js';

/** The parts of FileSystemSyncAccessHandle a SyncFile uses. */
interface SyncAccessHandle {
  read(into: Uint8Array, options: { at: number }): number;
  getSize(): number;
  close(): void;
}
/** An OPFS file handle, as far as synchronous access goes (lib.dom's types lag the `mode` option). */
export interface SyncOpenable {
  createSyncAccessHandle?(options?: { mode?: string }): Promise<SyncAccessHandle>;
}

/**
 * Why this context cannot read OPFS files synchronously, or null when it can. Browsers offer
 * synchronous reads (FileSystemSyncAccessHandle) only in dedicated Web Workers: re-ranking from
 * disk reads rows inside synchronous searches, so it needs them.
 */
export function whyNoSyncReads(): string | null {
  const g = globalThis as { FileSystemFileHandle?: { prototype: object }; DedicatedWorkerGlobalScope?: unknown; document?: unknown };
  if (g.FileSystemFileHandle && typeof (g.FileSystemFileHandle.prototype as SyncOpenable).createSyncAccessHandle === 'function')
    return null;
  if (!g.FileSystemFileHandle && g.document === undefined && g.DedicatedWorkerGlobalScope === undefined)
    return (
      "openIndex with rerank 'disk' reads a saved index's vectors from the origin private file system, which this context lacks " +
      "(in Node, loadIndexFile(path, { rerank: 'disk' }) from webannolo/node does the same for index files)"
    );
  if (typeof g.DedicatedWorkerGlobalScope === 'function' && globalThis instanceof (g.DedicatedWorkerGlobalScope as new () => object))
    return "this browser cannot read the origin private file system synchronously (no FileSystemSyncAccessHandle): open with rerank 'memory'";
  return (
    "openIndex with rerank 'disk' reads the vectors synchronously while searching, which browsers allow only in a dedicated " +
    "Web Worker (FileSystemSyncAccessHandle), not here (a page's main thread, a shared or service worker): open and search the index in a dedicated worker, " +
    "or open it with rerank 'memory' (the default) here"
  );
}

/** Access handles open in this thread, by file: opens of one file share one handle. */
const open = new Map<string, { handle: Promise<SyncAccessHandle>; refs: number }>();

/**
 * Opens `file` for synchronous reads. Opens of the same `key` (folder and name) in this thread
 * share one access handle, released when the last is closed: where the browser's handles lock
 * the file for one reader (no 'read-only' mode) a second open here still works. While a handle
 * is open the browser refuses to remove the file (NoModificationAllowedError).
 */
export async function openSyncFile(key: string, file: SyncOpenable): Promise<SyncFile> {
  let entry = open.get(key);
  if (!entry) {
    entry = { handle: accessHandle(file), refs: 0 };
    open.set(key, entry);
  }
  const shared = entry;
  shared.refs++;
  let handle: SyncAccessHandle;
  try {
    handle = await shared.handle;
  } catch (e) {
    if (--shared.refs === 0 && open.get(key) === shared) open.delete(key);
    throw e;
  }
  let closed = false;
  return {
    size: handle.getSize(),
    read(into, position) {
      if (closed) fail('INVALID_ARGUMENT', `${key}: read after close`);
      return handle.read(into, { at: position });
    },
    close() {
      if (closed) return;
      closed = true;
      if (--shared.refs > 0) return;
      if (open.get(key) === shared) open.delete(key);
      handle.close();
    },
  };
}

async function accessHandle(file: SyncOpenable): Promise<SyncAccessHandle> {
  if (typeof file.createSyncAccessHandle !== 'function')
    return fail('INVALID_ARGUMENT', whyNoSyncReads() ?? 'no synchronous file access here');
  try {
    // 'read-only' lets readers in several workers and tabs share the file (Chromium 121+). A
    // browser that does not know the option ignores it and gives an exclusive handle.
    return await file.createSyncAccessHandle({ mode: 'read-only' });
  } catch (e) {
    // A browser that knows `mode` but not this value.
    if (!(e instanceof TypeError)) throw e;
    return file.createSyncAccessHandle();
  }
}

import type { FileStore, FileWriter, SyncFile } from './file-store.js';
import { openSyncFile, type SyncOpenable } from './opfs-sync-file.js';
import { blobSource } from './read-index.js';

/** The parts of the File System API an OPFS FileStore uses (lib.dom may lack some, e.g. entries()). */
interface Directory {
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<Directory>;
  getFileHandle(name: string, options?: { create?: boolean }): Promise<FileHandle>;
  removeEntry(name: string): Promise<void>;
  keys(): AsyncIterable<string>;
}
interface FileHandle extends SyncOpenable {
  getFile(): Promise<File>;
  createWritable(options?: { keepExistingData?: boolean }): Promise<Writable>;
}
interface Writable {
  write(data: BufferSource): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * The origin private file system, if this context can write it with a
 * FileSystemWritableFileStream (pages and workers in Chromium and Firefox, Safari from 17.4 or
 * so); null otherwise.
 */
export async function opfsRoot(): Promise<Directory | null> {
  const storage = (globalThis as { navigator?: { storage?: { getDirectory?: () => Promise<unknown> } } }).navigator?.storage;
  const handleClass = (globalThis as { FileSystemFileHandle?: { prototype: object } }).FileSystemFileHandle;
  if (typeof storage?.getDirectory !== 'function' || !handleClass || !('createWritable' in handleClass.prototype)) return null;
  try {
    return (await storage.getDirectory()) as Directory;
  } catch {
    // Refused (say a private window): not available here.
    return null;
  }
}

/**
 * Files in a folder of the origin private file system. A writable stream writes to a swap
 * file and replaces the file's contents only on close(), so a write cut short (an error, a
 * tab closed) leaves the file as it was.
 */
export class OpfsFileStore implements FileStore {
  readonly backend = 'opfs';
  private constructor(
    private readonly dir: Directory,
    private readonly folder: string,
  ) {}

  /** The store in folder `folder` of the origin private file system, or null where there is none. */
  static async open(folder: string): Promise<OpfsFileStore | null> {
    const root = await opfsRoot();
    return root && new OpfsFileStore(await root.getDirectoryHandle(folder, { create: true }), folder);
  }

  async create(name: string): Promise<FileWriter> {
    const handle = await this.dir.getFileHandle(name, { create: true });
    const writable = await handle.createWritable({ keepExistingData: false });
    return {
      write: (chunk) => writable.write(chunk as Uint8Array<ArrayBuffer>),
      close: () => writable.close(),
      abort: () => writable.abort(),
    };
  }

  async open(name: string) {
    try {
      return blobSource(await (await this.dir.getFileHandle(name)).getFile());
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  /** The file through a FileSystemSyncAccessHandle (dedicated workers only; see openSyncFile). */
  async openSync(name: string): Promise<SyncFile | null> {
    let handle: FileHandle;
    try {
      handle = await this.dir.getFileHandle(name);
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
    return openSyncFile(`${this.folder}/${name}`, handle);
  }

  async remove(name: string): Promise<void> {
    try {
      await this.dir.removeEntry(name);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  async list(): Promise<string[]> {
    const names: string[] = [];
    // Chromium's swap files of writes in progress (.crswap) are not ours to list.
    for await (const name of this.dir.keys()) if (!name.endsWith('.crswap')) names.push(name);
    return names;
  }
}

function isNotFound(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'NotFoundError';
}

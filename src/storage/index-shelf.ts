import { fail, type WebannoloError } from '../errors.js';
import { HnswIndex } from '../indexes/hnsw/hnsw-index.js';
import { type AnyIndex, type SerializeOptions, serializeIndexPieces } from '../indexes/index-codec.js';
import { type FileStore, isQuotaError, type SyncFile } from './file-store.js';
import { readIndexFrom } from './read-index.js';
import { readRerankOnDisk } from './rerank-on-disk.js';
import { StorageFullError } from './storage-full.js';
import { WRITE_CHUNK, writePieces } from './write-index.js';

/** A saved index as listIndexes describes it. */
export interface SavedIndexInfo {
  /** The name it was saved under. */
  readonly name: string;
  /** Bytes of its file. */
  readonly bytes: number;
  /** When it was saved. */
  readonly savedAt: Date;
  /** Where it is kept: 'opfs' or 'indexeddb'. */
  readonly backend: string;
}

/** What the shelf needs of its surroundings: both have browser defaults and stand-ins in tests. */
export interface ShelfHooks {
  /** The origin's storage quota and use (navigator.storage.estimate), or null where unknown. */
  estimate(): Promise<{ quota: number; usage: number } | null>;
  /** Runs `fn` holding a lock shared by every tab of the origin (navigator.locks), or just runs it. */
  lock<T>(name: string, mode: 'exclusive' | 'shared', fn: () => Promise<T>): Promise<T>;
  /** Bytes per chunk written (default 4 MiB). */
  chunkBytes?: number;
}

/** The manifest of one saved index: written last, it names the file that holds the index. */
interface Manifest {
  format: typeof MANIFEST_FORMAT;
  name: string;
  file: string;
  generation: number;
  bytes: number;
  savedAt: string;
}
const MANIFEST_FORMAT = 'webannolo-saved-index-1';
const MANIFEST = '.index.json';
const DATA = /^(.+)\.(\d+)-[0-9a-z]+\.wann$/;
const MAX_NAME = 200;
/** File names stay well under the 255 bytes file systems allow. */
const MAX_KEY = 200;
/** A save retries this many times when the index changes while it is written. */
const SAVE_ATTEMPTS = 3;

/**
 * Saved indexes in a FileStore. Each index has data files `<key>.<generation>-<token>.wann`
 * and one manifest `<key>.index.json` naming the current one. Saving writes a new generation
 * beside the old, then replaces the manifest (a FileStore replaces a file whole, on close),
 * then removes the old generation: a save cut short at any point (a tab closed, the quota
 * reached) leaves the previous index as it was, and leftovers of unfinished saves are removed
 * by the next save of that name. Saves, deletes and opens of one name are serialized across
 * tabs by a lock (shared for opens).
 */
export class IndexShelf {
  constructor(
    readonly files: FileStore,
    private readonly hooks: ShelfHooks,
    private readonly namespace: string,
  ) {}

  async save(index: AnyIndex, name: string, options: SerializeOptions = {}): Promise<SavedIndexInfo> {
    const key = keyOf(name);
    return this.locked(key, 'exclusive', async () => {
      const previous = await this.manifest(key);
      const generation = (previous?.generation ?? 0) + 1;
      const file = `${key}.${generation}-${token()}.wann`;
      let bytes = 0;
      for (let attempt = 1; ; attempt++) {
        // A change to the index installs a new graph object (see HnswIndex.graph): seeing the same
        // objects after the write means no change ran while its memory was being copied out.
        const before = stateOf(index);
        const pieces = serializeIndexPieces(index, options);
        bytes = pieces.byteLength;
        await this.checkRoom(name, bytes);
        const writer = await this.files.create(file);
        try {
          await writePieces(pieces, writer, this.hooks.chunkBytes ?? WRITE_CHUNK);
        } catch (e) {
          await writer.abort().catch(() => {});
          await this.files.remove(file).catch(() => {});
          if (isQuotaError(e)) throw await this.full(name, bytes, e);
          throw e;
        }
        if (sameState(before, stateOf(index))) {
          await writer.close().catch(async (e: unknown) => {
            await this.files.remove(file).catch(() => {});
            throw isQuotaError(e) ? await this.full(name, bytes, e) : e;
          });
          break;
        }
        await writer.abort().catch(() => {});
        await this.files.remove(file).catch(() => {});
        if (attempt === SAVE_ATTEMPTS)
          fail('INVALID_ARGUMENT', `index '${name}' changed while each of ${SAVE_ATTEMPTS} saves ran: save it while no change runs`);
      }
      const manifest: Manifest = { format: MANIFEST_FORMAT, name, file, generation, bytes, savedAt: new Date().toISOString() };
      const text = new TextEncoder().encode(JSON.stringify(manifest));
      const writer = await this.files.create(key + MANIFEST);
      try {
        await writer.write(text);
        await writer.close();
      } catch (e) {
        await writer.abort().catch(() => {});
        await this.files.remove(file).catch(() => {});
        throw isQuotaError(e) ? await this.full(name, bytes, e) : e;
      }
      // The new generation is current: every other data file of this name is an old one or
      // the leftover of an unfinished save.
      await this.removeData(key, file);
      return info(manifest, this.files.backend);
    });
  }

  /** Opens a saved index; with rerank 'disk' its re-ranking vectors stay in the file (see openRerankOnDisk). */
  async open(name: string, rerank: 'memory' | 'disk' = 'memory'): Promise<AnyIndex> {
    const key = keyOf(name);
    return this.locked(key, 'shared', async () => {
      const manifest = await this.manifest(key);
      if (!manifest) return fail('INVALID_ARGUMENT', `no index is saved as '${name}' here (listIndexes() names the saved ones)`);
      if (rerank === 'disk') return this.openRerankOnDisk(name, key, manifest);
      const source = await this.files.open(manifest.file);
      if (!source) return fail('CORRUPT_FILE', `saved index '${name}' lost its data file ${manifest.file}`);
      if (source.size !== manifest.bytes)
        fail('CORRUPT_FILE', `saved index '${name}' has ${source.size} bytes, its manifest says ${manifest.bytes}`);
      return readIndexFrom(source);
    });
  }

  async list(): Promise<SavedIndexInfo[]> {
    const names = await this.files.list();
    const out: SavedIndexInfo[] = [];
    for (const file of names) {
      if (!file.endsWith(MANIFEST)) continue;
      const manifest = await this.manifest(file.slice(0, -MANIFEST.length)).catch(() => null);
      if (manifest) out.push(info(manifest, this.files.backend));
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Deletes a saved index; false when there was none of that name. */
  async delete(name: string): Promise<boolean> {
    const key = keyOf(name);
    return this.locked(key, 'exclusive', async () => {
      const had = (await this.files.open(key + MANIFEST)) !== null;
      // The manifest first: from then on the index is gone whole, whatever happens to the rest.
      await this.files.remove(key + MANIFEST);
      await this.removeData(key, null);
      return had;
    });
  }

  /**
   * The index with its re-ranking vectors read from the data file on demand, through the
   * store's synchronous reads. The file stays open until closeIndex; meanwhile the browser may
   * refuse to remove it, so a save or delete of the name leaves it (the open index keeps
   * working) and closing it retries the removal (as does the next save of the name).
   */
  private async openRerankOnDisk(name: string, key: string, manifest: Manifest): Promise<AnyIndex> {
    if (!this.files.openSync)
      fail(
        'INVALID_ARGUMENT',
        `rerank 'disk' reads the vectors from the origin private file system: the ${this.files.backend} backend cannot (use backend 'opfs', or rerank 'memory')`,
      );
    let source: SyncFile | null;
    try {
      source = await this.files.openSync(manifest.file);
    } catch (e) {
      if ((e as { name?: unknown } | null)?.name === 'NoModificationAllowedError')
        fail(
          'IO_FAILURE',
          `saved index '${name}' is held open elsewhere (another worker or tab) in a way that locks its file: closeIndex it there, or open it here with rerank 'memory'`,
        );
      throw e;
    }
    if (!source) return fail('CORRUPT_FILE', `saved index '${name}' lost its data file ${manifest.file}`);
    if (source.size !== manifest.bytes) {
      source.close();
      fail('CORRUPT_FILE', `saved index '${name}' has ${source.size} bytes, its manifest says ${manifest.bytes}`);
    }
    return readRerankOnDisk(source, `saved index '${name}'`, () => this.tidy(key));
  }

  /** Removes the data files of `key` but the current one (none once deleted); a damaged manifest leaves them. */
  private tidy(key: string): Promise<void> {
    return this.locked(key, 'exclusive', async () => {
      const manifest = await this.manifest(key).catch(() => undefined);
      if (manifest !== undefined) await this.removeData(key, manifest?.file ?? null);
    });
  }

  private locked<T>(key: string, mode: 'exclusive' | 'shared', fn: () => Promise<T>): Promise<T> {
    return this.hooks.lock(`webannolo:${this.files.backend}:${this.namespace}:${key}`, mode, fn);
  }

  private async manifest(key: string): Promise<Manifest | null> {
    const source = await this.files.open(key + MANIFEST);
    if (!source) return null;
    let m: Partial<Manifest>;
    try {
      m = JSON.parse(new TextDecoder().decode(await source.read(0, source.size))) as Partial<Manifest>;
    } catch {
      return fail('CORRUPT_FILE', `the manifest of saved index ${key} is not JSON`);
    }
    const ok =
      m !== null &&
      typeof m === 'object' &&
      m.format === MANIFEST_FORMAT &&
      typeof m.name === 'string' &&
      keyOf(m.name) === key &&
      typeof m.file === 'string' &&
      DATA.exec(m.file)?.[1] === key &&
      Number.isSafeInteger(m.generation) &&
      Number.isSafeInteger(m.bytes) &&
      typeof m.savedAt === 'string';
    if (!ok) fail('CORRUPT_FILE', `the manifest of saved index ${key} is malformed`);
    return m as Manifest;
  }

  /** Removes the data files of `key` but `keep`. */
  private async removeData(key: string, keep: string | null): Promise<void> {
    for (const file of await this.files.list()) {
      if (file !== keep && DATA.exec(file)?.[1] === key) await this.files.remove(file).catch(() => {});
    }
  }

  /** Refuses a save the quota cannot take before a byte is written. */
  private async checkRoom(name: string, bytes: number): Promise<void> {
    const e = await this.hooks.estimate().catch(() => null);
    if (e && bytes > e.quota - e.usage) throw new StorageFullError(name, bytes, e.quota, e.usage);
  }

  private async full(name: string, bytes: number, cause: unknown): Promise<WebannoloError> {
    const e = await this.hooks.estimate().catch(() => null);
    const error = new StorageFullError(name, bytes, e?.quota ?? null, e?.usage ?? null);
    (error as { cause?: unknown }).cause = cause;
    return error;
  }
}

/** What a save's views depend on: a change to the index replaces these objects. */
function stateOf(index: AnyIndex): readonly unknown[] {
  return index instanceof HnswIndex
    ? [index.graph, index.store, index.rerankStore, index.keys, index.labels, index.removed, index.order]
    : [index.store];
}

function sameState(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.every((x, i) => x === b[i]);
}

function info(m: Manifest, backend: string): SavedIndexInfo {
  return { name: m.name, bytes: m.bytes, savedAt: new Date(m.savedAt), backend };
}

/**
 * A file-name-safe key for an index name: percent-encoding, dots and the characters
 * encodeURIComponent leaves alone but some file systems dislike included.
 */
export function keyOf(name: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME)
    fail('INVALID_ARGUMENT', `an index name must be a string of 1 to ${MAX_NAME} characters, got ${JSON.stringify(name)}`);
  const key = encodeURIComponent(name).replace(/[.!~*'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  if (key.length > MAX_KEY)
    fail(
      'INVALID_ARGUMENT',
      `index name ${JSON.stringify(name)} is too long (${key.length} characters percent-encoded, at most ${MAX_KEY})`,
    );
  return key;
}

/** Tells the files of two saves apart (another tab, a save that never finished). */
function token(): string {
  return Math.floor(Math.random() * 36 ** 6)
    .toString(36)
    .padStart(6, '0');
}

import { HnswIndex } from '../indexes/hnsw/hnsw-index.js';
import type { AnyIndex } from '../indexes/index-codec.js';
import { RowFileStore, type RowReader } from '../quant/dense/row-file-store.js';
import type { SyncFile } from './file-store.js';
import { type ByteSource, readIndexWith } from './read-index.js';
import { rerankRowsOf } from './rerank-section.js';

/**
 * Gaps between wanted rows up to this many bytes are read through: in Chromium a synchronous
 * OPFS read costs about 0.3 ms however small, and 64 KiB more add about a quarter of that.
 */
const BRIDGE_BYTES = 64 << 10;

/**
 * A saved index's re-ranking rows, read through its file's synchronous handle. Closing it
 * releases the handle, then lets the shelf remove the generations (this one, if a save or a
 * delete replaced it meanwhile) that the browser would not let go while the file was open.
 */
class SavedIndexRows implements RowReader {
  /** Settles once close() has released the file and the removal retried. */
  released: Promise<void> = Promise.resolve();
  constructor(
    private readonly file: SyncFile,
    readonly label: string,
    private readonly afterClose: () => Promise<void>,
  ) {}
  read(into: Uint8Array, position: number): number {
    return this.file.read(into, position);
  }
  close(): void {
    this.file.close();
    // Never awaited inside a lock: the retry takes the name's exclusive lock itself.
    this.released = this.afterClose().catch(() => {});
  }
}

/**
 * Reads a saved index from `file` with its `rerank.*` sections left there (they still stream
 * through the checksum): the re-ranking store is a RowFileStore over the file, which then
 * stays open until closeIndex. Any other index (no plain re-ranking vectors kept, a flat index)
 * reads whole and the file is closed at once, as it is when reading fails.
 */
export async function readRerankOnDisk(file: SyncFile, label: string, afterClose: () => Promise<void>): Promise<AnyIndex> {
  const made: { store: RowFileStore | null } = { store: null };
  let index: AnyIndex | null = null;
  try {
    index = await readIndexWith(syncSource(file), {}, (params, metric, entries) => {
      const reader = new SavedIndexRows(file, label, afterClose);
      made.store = new RowFileStore({ reader, ...rerankRowsOf(params, entries), metric, bridgeBytes: BRIDGE_BYTES });
      return made.store;
    });
    return index;
  } finally {
    const kept = made.store !== null && index instanceof HnswIndex && index.rerankStore === made.store;
    if (!kept) {
      if (made.store) made.store.close();
      else file.close();
    }
  }
}

/**
 * Releases the file an index opened with `rerank: 'disk'` reads its re-ranking vectors from
 * (an OPFS access handle in a browser's worker, a file descriptor in Node); a no-op for any
 * other index. Resolves once it is released and, for a saved index, once the generations that
 * a save or deleteIndex could not remove while the file was open are removed. The index's
 * searches with `rerank` fail afterwards (INVALID_ARGUMENT); without `rerank` they still run.
 */
export async function closeIndex(index: AnyIndex): Promise<void> {
  const store = index instanceof HnswIndex ? index.rerankStore : null;
  if (!(store instanceof RowFileStore)) return;
  store.close();
  if (store.reader instanceof SavedIndexRows) await store.reader.released;
}

/** A SyncFile as the ByteSource the streamed reader takes. */
function syncSource(file: SyncFile): ByteSource {
  return {
    size: file.size,
    async read(start, end) {
      const buf = new Uint8Array(end - start);
      let done = 0;
      while (done < buf.length) {
        const n = file.read(buf.subarray(done), start + done);
        if (!(n > 0)) break;
        done += n;
      }
      return buf.subarray(0, done);
    },
  };
}

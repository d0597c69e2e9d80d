import { closeSync, fstatSync, openSync } from 'node:fs';
import { checkInteger, fail } from '../errors.js';
import { HnswIndex } from '../indexes/hnsw/hnsw-index.js';
import { type AnyIndex, decodeIndexFromSections, deserializeIndex, type SerializeOptions, serializeIndex } from '../indexes/index-codec.js';
import { checkIndexHeader } from '../indexes/index-header.js';
import {
  type ContainerHeader,
  containerFromSections,
  MAGIC,
  READABLE_VERSIONS,
  readContainerLayout,
  type SectionEntry,
} from '../io/container.js';
import { RowFileStore } from '../quant/dense/row-file-store.js';
import { sectionBuffer } from '../storage/read-index.js';
import { rerankRowsOf } from '../storage/rerank-section.js';
import type { Metric } from '../types.js';
import { DiskDenseStore } from './disk-store.js';
import { readBytes, writeFileAtomic } from './files.js';
import { FiniteVectorsCheck, readInto, readSectionsChecked } from './overlapped-read.js';

/** Bytes per read while streaming the file through the checksum. */
const CHUNK = 4 << 20;

/** Options of loadIndexFile. */
export interface LoadIndexOptions {
  /**
   * Where the plain vectors kept for re-ranking live: 'memory' (default) loads them with the
   * rest; 'disk' leaves them in the file and reads the rows each re-ranking needs (the index
   * then holds the file open: close it with closeIndex). 'disk' takes plain f32 vectors only:
   * an index that re-ranks with f16 or SQ8 codes (quantize's rerankCodes) is refused with
   * INVALID_ARGUMENT.
   */
  rerank?: 'memory' | 'disk';
  /** Bytes per read while the file streams through the checksum (default 4 MiB). */
  chunkBytes?: number;
  /**
   * Read the file in chunks, each section into its final place (dense vectors straight into
   * the SIMD kernels' memory, so they are held once), instead of whole. Default: for files over
   * 1 GiB, and always with rerank 'disk' (fs.readFile stops at 2 GiB).
   */
  stream?: boolean;
}

/** Files above this size stream by default. */
const STREAM_ABOVE = 1 << 30;

/** Writes an index to `path` atomically (temp file + rename): a crash never leaves half a file. */
export async function saveIndexFile(index: AnyIndex, path: string, options: SerializeOptions = {}): Promise<void> {
  await writeFileAtomic(path, serializeIndex(index, options));
}

/** Reads an index file; damaged, truncated, foreign or newer-version files fail clearly. */
export async function loadIndexFile(path: string, options: LoadIndexOptions = {}): Promise<AnyIndex> {
  const where = options.rerank ?? 'memory';
  if (where !== 'memory' && where !== 'disk') fail('INVALID_ARGUMENT', `rerank must be 'memory' or 'disk', got '${String(where)}'`);
  if (options.stream !== undefined && typeof options.stream !== 'boolean')
    fail('INVALID_ARGUMENT', `stream must be true or false, got ${String(options.stream)}`);
  const fd = openForReading(path);
  const stream = where === 'disk' || (options.stream ?? fstatSync(fd).size > STREAM_ABOVE);
  if (!stream) {
    closeSync(fd);
    return deserializeIndex(await readBytes(path));
  }
  let index: AnyIndex | null = null;
  const disk: { store: DiskDenseStore | null } = { store: null };
  try {
    index = await loadStreaming(fd, path, checkInteger('chunkBytes', options.chunkBytes ?? CHUNK, 1), where === 'disk', disk);
    return index;
  } finally {
    // The descriptor stays open only when the loaded index's disk store owns it. A disk store
    // made before the load failed is closed through the store: its finalizer must never close
    // the same number again once another file has it.
    const kept = disk.store !== null && index instanceof HnswIndex && index.rerankStore === disk.store;
    if (!kept) {
      if (disk.store) disk.store.close();
      else closeSync(fd);
    }
  }
}

/** Closes the file an index loaded with `rerank: 'disk'` keeps open (no-op otherwise). */
export function closeIndex(index: AnyIndex): void {
  if (index instanceof HnswIndex && index.rerankStore instanceof RowFileStore) index.rerankStore.close();
}

/**
 * The header of an index file (what it holds, parameters, sections), its format version and
 * the file size, reading only the header (any size of file). The header is checked as a load
 * would check it (every field, the sections table against the header), the data is not: a
 * cut-off file still describes itself.
 */
export async function readIndexHeader(path: string): Promise<{ header: ContainerHeader; fileBytes: number; version: number }> {
  const fd = openForReading(path);
  try {
    const fileBytes = fstatSync(fd).size;
    const layout = readContainerLayout(await readHeaderPrefix(fd, fileBytes));
    checkIndexHeader(layout, fileBytes);
    return { header: layout.header, fileBytes, version: layout.version };
  } finally {
    closeSync(fd);
  }
}

/**
 * The file's first bytes through its JSON header. Only a file with our magic and a readable
 * version gets its (claimed) header length trusted: readContainerHeader then reports a foreign
 * file, a newer version or a cut-off header as deserializeIndex does.
 */
async function readHeaderPrefix(fd: number, fileBytes: number): Promise<Uint8Array> {
  const head = await readAt(fd, 0, Math.min(16, fileBytes));
  if (head.length < 16) return head;
  const view = new DataView(head.buffer, head.byteOffset, 16);
  const ours = new TextDecoder().decode(head.subarray(0, 8)) === MAGIC && READABLE_VERSIONS.includes(view.getUint32(8, true));
  return ours ? readAt(fd, 0, Math.min(16 + view.getUint32(12, true), fileBytes)) : head;
}

/**
 * One pass over the file: the CRC of every byte streamed in chunks, each section copied out of
 * the chunks as they pass into its own buffer (a dense store's vectors into the memory its
 * SIMD kernels use). With rerankOnDisk the `rerank.*` sections are skipped: never held.
 */
async function loadStreaming(
  fd: number,
  path: string,
  chunkBytes: number,
  rerankOnDisk: boolean,
  disk: { store: DiskDenseStore | null },
): Promise<AnyIndex> {
  const fileBytes = fstatSync(fd).size;
  // Everything the header says is checked before a byte is allocated for a section: the
  // sections are the ones it implies, in the file and apart, so together they fit the file.
  const layout = readContainerLayout(await readHeaderPrefix(fd, fileBytes), fileBytes);
  const { entries } = layout;
  const index = checkIndexHeader(layout, fileBytes);
  // Only plain f32 rows are read from disk; codes (f16, SQ8) are small enough to hold.
  if (rerankOnDisk && index.rerank !== null && index.rerank.kind !== 'dense')
    fail(
      'INVALID_ARGUMENT',
      `${path}: rerank 'disk' reads plain f32 vectors from the file, and this index re-ranks with ${index.rerank.kind} codes: re-rank from memory (rerank 'memory', --rerank-from memory)`,
    );
  const onDisk = (e: SectionEntry) => rerankOnDisk && e.name.startsWith('rerank.');
  const held = new Map<string, Uint8Array>();
  for (const e of entries) if (!onDisk(e)) held.set(e.name, sectionBuffer(index, e));

  const body = fileBytes - 4;
  const dense = [index.store.kind === 'dense' ? 'store.vectors' : '', index.rerank?.kind === 'dense' ? 'rerank.vectors' : ''];
  const finite = new FiniteVectorsCheck(dense.filter((name) => held.has(name)));
  const crc = await readSectionsChecked(fd, body, entries, held, chunkBytes, finite.onPiece);
  const tail = await readAt(fd, body, 4);
  if (tail.length < 4) fail('TRUNCATED_FILE', 'index file is truncated');
  if (crc !== new DataView(tail.buffer, tail.byteOffset, 4).getUint32(0, true))
    fail('CORRUPT_FILE', 'index file checksum mismatch: the file is damaged');
  finite.vouch(held);

  const file = containerFromSections(layout, (e) => held.get(e.name) ?? fail('CORRUPT_FILE', `section '${e.name}' is not loaded`));
  return decodeIndexFromSections(
    index,
    (name) => file.section(name),
    rerankOnDisk
      ? {
          rerankStore: (params, metric) => {
            disk.store = diskStore(params, metric, entries, fd, path);
            return disk.store;
          },
        }
      : {},
  );
}

/** The re-ranking vectors as a DiskDenseStore over the file's `rerank.vectors` section. */
function diskStore(params: Record<string, unknown>, metric: Metric, entries: SectionEntry[], fd: number, path: string): DiskDenseStore {
  return new DiskDenseStore({ fd, ...rerankRowsOf(params, entries), metric, path });
}

/** Opens a file for reading, or INVALID_ARGUMENT `cannot read <path>: ...`. */
function openForReading(path: string): number {
  try {
    const fd = openSync(path, 'r');
    if (fstatSync(fd).isDirectory()) {
      closeSync(fd);
      fail('INVALID_ARGUMENT', `cannot read ${path}: it is a directory`);
    }
    return fd;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') fail('INVALID_ARGUMENT', `cannot read ${path}: no such file`);
    if (code === 'EISDIR') fail('INVALID_ARGUMENT', `cannot read ${path}: it is a directory`);
    if (code === 'EACCES' || code === 'EPERM') fail('INVALID_ARGUMENT', `cannot read ${path}: permission denied`);
    throw err;
  }
}

/** Up to `length` bytes at `position` (fewer at the end of the file). */
async function readAt(fd: number, position: number, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  return buf.subarray(0, await readInto(fd, buf, position));
}

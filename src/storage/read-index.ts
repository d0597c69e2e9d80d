import { checkInteger, fail } from '../errors.js';
import { type AnyIndex, decodeIndexFromSections } from '../indexes/index-codec.js';
import { checkIndexHeader, type IndexHeader } from '../indexes/index-header.js';
import { bytesPer, containerFromSections, MAGIC, readContainerLayout, type SectionEntry } from '../io/container.js';
import { crc32 } from '../io/crc32.js';
import { storeCodec } from '../quant/registry.js';
import type { Metric, VectorStore } from '../types.js';
import { sharedArray } from '../util/shared-memory.js';

/** A file read a range at a time: a Blob (an OPFS file, a dropped file), IndexedDB chunks. */
export interface ByteSource {
  /** Bytes in the file. */
  readonly size: number;
  /** Bytes [start, end): exactly that many, fewer only when the file shrank meanwhile. */
  read(start: number, end: number): Promise<Uint8Array>;
}

/** A Blob (or File, such as an OPFS file's getFile()) as a ByteSource. */
export function blobSource(blob: Blob): ByteSource {
  return { size: blob.size, read: async (start, end) => new Uint8Array(await blob.slice(start, end).arrayBuffer()) };
}

/** Options of readIndexBlob and readIndexFrom. */
export interface ReadIndexOptions {
  /** Bytes per read (default 8 MiB). */
  chunkBytes?: number;
}

const CHUNK = 8 << 20;
/** Chunk reads in flight while one is checked and copied. */
const READ_AHEAD = 3;
/** The first read: magic, version and (nearly always) the whole JSON header. */
const FIRST = 64 << 10;

/**
 * Reads an index from a Blob (a File from an <input>, an OPFS file) in chunks, the way
 * deserializeIndex reads a buffer, without ever holding the whole file: each section is copied
 * from the chunks as they pass into its final place (a dense store's vectors straight into the
 * SIMD kernels' WebAssembly memory), while the next chunk is already being read and the
 * checksum runs over this one. Damaged, foreign, malformed or newer files fail as
 * deserializeIndex's do.
 */
export function readIndexBlob(blob: Blob, options: ReadIndexOptions = {}): Promise<AnyIndex> {
  return readIndexFrom(blobSource(blob), options);
}

/** readIndexBlob over any ByteSource. */
export function readIndexFrom(source: ByteSource, options: ReadIndexOptions = {}): Promise<AnyIndex> {
  return readIndexWith(source, options, null);
}

/**
 * Makes the re-ranking store of a file whose `rerank.*` sections stay in it (never held in
 * memory), from the header's description of the store and the file's sections table.
 */
export type RerankInFile = (params: Record<string, unknown>, metric: Metric, entries: readonly SectionEntry[]) => VectorStore;

/**
 * readIndexFrom, with `rerankInFile` (when given) making the re-ranking store instead of
 * reading its sections: they still stream through the checksum, but are not copied anywhere.
 */
export async function readIndexWith(source: ByteSource, options: ReadIndexOptions, rerankInFile: RerankInFile | null): Promise<AnyIndex> {
  const chunkBytes = checkInteger('chunkBytes', options.chunkBytes ?? CHUNK, 8);
  const size = source.size;
  // Everything the header says is checked before a byte is allocated for a section: the
  // sections are the ones it implies, in the file and apart, so together they fit the file.
  const layout = readContainerLayout(await headerPrefix(source), size);
  const header = checkIndexHeader(layout, size);
  // Only plain f32 rows are read from the file; codes (f16, SQ8) are small enough to hold.
  if (rerankInFile && header.rerank !== null && header.rerank.kind !== 'dense')
    fail(
      'INVALID_ARGUMENT',
      `rerank 'disk' reads plain f32 vectors from the file, and this index re-ranks with ${header.rerank.kind} codes: re-rank from memory (rerank 'memory')`,
    );
  const held = new Map<string, Uint8Array>();
  for (const e of layout.entries) if (!(rerankInFile && e.name.startsWith('rerank.'))) held.set(e.name, sectionBuffer(header, e));

  const body = size - 4;
  let crc = 0;
  const tail = new Uint8Array(4);
  // Reads run READ_AHEAD chunks ahead of the one being checked and copied, so the source
  // (a browser's file reads run off the page's thread) never waits for the checksum.
  const pending: Promise<Uint8Array>[] = [];
  let requested = 0;
  const requestUpTo = (limit: number) => {
    while (requested < size && pending.length < limit) {
      const read = source.read(requested, Math.min(requested + chunkBytes, size));
      // Awaited in turn below; a failure after an earlier one stops the loop must not go unhandled.
      read.catch(() => {});
      pending.push(read);
      requested = Math.min(requested + chunkBytes, size);
    }
  };
  for (let start = 0; start < size; ) {
    requestUpTo(READ_AHEAD);
    const chunk = await pending.shift()!;
    const end = start + chunk.length;
    if (end < Math.min(start + chunkBytes, size) || chunk.length === 0)
      fail('TRUNCATED_FILE', 'index file is truncated (it shrank while being read)');
    requestUpTo(READ_AHEAD);
    const data = chunk.subarray(0, Math.max(0, Math.min(end, body) - start));
    crc = crc32(data, crc);
    for (let i = Math.max(start, body); i < end; i++) tail[i - body] = chunk[i - start]!;
    for (const e of layout.entries) {
      const dest = held.get(e.name);
      if (!dest) continue;
      const from = Math.max(start, e.offset);
      const to = Math.min(end, e.offset + dest.length);
      if (from < to) dest.set(chunk.subarray(from - start, to - start), from - e.offset);
    }
    start = end;
  }
  if (crc !== new DataView(tail.buffer).getUint32(0, true)) fail('CORRUPT_FILE', 'index file checksum mismatch: the file is damaged');
  const file = containerFromSections(layout, (e) => held.get(e.name) ?? fail('CORRUPT_FILE', `section '${e.name}' is not loaded`));
  const rerankStore = rerankInFile && ((params: Record<string, unknown>, metric: Metric) => rerankInFile(params, metric, layout.entries));
  return decodeIndexFromSections(header, (name) => file.section(name), rerankStore ? { rerankStore } : {});
}

/**
 * The file's first bytes through its JSON header. Only a file with our magic gets its claimed
 * header length trusted (and only as far as the file goes): readContainerLayout then reports a
 * foreign file, a newer version or a cut-off header as deserializeIndex does.
 */
async function headerPrefix(source: ByteSource): Promise<Uint8Array> {
  const head = await source.read(0, Math.min(FIRST, source.size));
  if (head.length < 16 || new TextDecoder().decode(head.subarray(0, 8)) !== MAGIC) return head;
  const needed = 16 + new DataView(head.buffer, head.byteOffset, 16).getUint32(12, true);
  return needed > head.length && needed <= source.size ? source.read(0, needed) : head;
}

/** Where a section is read into: its store's codec may place it where the store adopts it. */
export function sectionBuffer(index: IndexHeader, e: SectionEntry): Uint8Array {
  const byteLength = e.length * bytesPer(e.dtype);
  const dot = e.name.indexOf('.');
  const prefix = e.name.slice(0, dot);
  const store = prefix === 'store' ? index.store : prefix === 'rerank' ? index.rerank : null;
  if (store) {
    const placed = storeCodec(store.kind).sectionBuffer?.(store.params, e.name.slice(dot + 1), byteLength);
    if (placed && placed.byteLength === byteLength) return placed;
  }
  // The graph's links go where HnswGraph keeps them (shared memory for worker threads), so it adopts them.
  if (e.name === 'graph.level0' || e.name === 'graph.upper') return sharedArray(Uint8Array, byteLength);
  return new Uint8Array(byteLength);
}

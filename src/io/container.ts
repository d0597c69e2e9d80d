import { fail } from '../errors.js';
import { crc32 } from './crc32.js';

/**
 * The webannolo file container: self-describing and checked.
 *
 *   bytes 0..7   magic "WANNOLO\0"
 *   u32          format version
 *   u32          header length h
 *   h bytes      header: UTF-8 JSON (what the file holds, its parameters, and its sections'
 *                names, types, offsets and lengths)
 *   ...          section data, each starting on an 8-byte boundary of the file
 *   u32          CRC-32 of every byte before it
 *
 * JSON keeps the header readable by anyone (`webannolo info`, a hex dump) and lets later
 * versions add fields without breaking older files.
 */

export const MAGIC = 'WANNOLO\0';
/**
 * The newest version written. 2 added item keys and labels (optional sections); 3 the item
 * order of the locality layout (rows and graph in slot order, the id of each slot), which a
 * version-2 reader would misread as ids: only files with an order are written as 3, so
 * older readers still read every other file. Versions 1 and 2 still load.
 */
export const FORMAT_VERSION = 3;
/** Versions this reader accepts. */
export const READABLE_VERSIONS: readonly number[] = [1, 2, 3];

export type SectionArray = Uint8Array | Uint32Array | Int32Array | Float32Array;
export type Dtype = 'u8' | 'u32' | 'i32' | 'f32';
const DTYPES: readonly Dtype[] = ['u8', 'u32', 'i32', 'f32'];

export interface SectionEntry {
  name: string;
  dtype: Dtype;
  offset: number;
  length: number;
}

export interface ContainerHeader {
  [key: string]: unknown;
  sections?: SectionEntry[];
}

function dtypeOf(a: SectionArray): Dtype {
  if (a instanceof Uint8Array) return 'u8';
  if (a instanceof Uint32Array) return 'u32';
  if (a instanceof Int32Array) return 'i32';
  return 'f32';
}

const align8 = (n: number) => Math.ceil(n / 8) * 8;

/**
 * A container laid out but not copied: its bytes in file order, all but the trailing CRC, as
 * views of the header and of the caller's sections (whatever memory they live on, shared
 * memory included). A writer streams them out one by one and appends the CRC of what it
 * wrote (see encodeContainer), so a large index is never held twice.
 */
export interface ContainerPieces {
  /** Bytes of the whole file, CRC included. */
  readonly byteLength: number;
  /** The file's bytes before the CRC, in order. */
  readonly pieces: readonly Uint8Array[];
}

/** Zero bytes for the padding between sections (at most 7). */
const PADDING = new Uint8Array(8);

/** Lays out header and sections as pieces (nothing is copied but the header). */
export function layoutContainer(
  header: Record<string, unknown>,
  sections: Record<string, SectionArray>,
  version = FORMAT_VERSION,
): ContainerPieces {
  const names = Object.keys(sections);
  const entries: SectionEntry[] = names.map((name) => ({
    name,
    dtype: dtypeOf(sections[name]!),
    offset: 0,
    length: sections[name]!.length,
  }));
  // Offsets depend on the header length, which depends on the offsets' digits: iterate.
  let headerBytes = new Uint8Array(0);
  for (let pass = 0; pass < 4; pass++) {
    let offset = align8(16 + headerBytes.length);
    for (let i = 0; i < entries.length; i++) {
      entries[i]!.offset = offset;
      offset = align8(offset + sections[names[i]!]!.byteLength);
    }
    const next = new TextEncoder().encode(JSON.stringify({ ...header, sections: entries }));
    if (next.length === headerBytes.length) {
      headerBytes = next;
      break;
    }
    headerBytes = next;
  }
  const prefix = new Uint8Array(align8(16 + headerBytes.length));
  prefix.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(prefix.buffer);
  view.setUint32(8, version, true);
  view.setUint32(12, headerBytes.length, true);
  prefix.set(headerBytes, 16);
  const pieces: Uint8Array[] = [prefix];
  let at = prefix.length;
  for (const e of entries) {
    const a = sections[e.name]!;
    if (a.byteLength > 0) pieces.push(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    at = e.offset + a.byteLength;
    if (align8(at) > at) pieces.push(PADDING.subarray(0, align8(at) - at));
    at = align8(at);
  }
  return { byteLength: at + 4, pieces };
}

/** Lays out header and sections; returns the whole file. */
export function encodeContainer(
  header: Record<string, unknown>,
  sections: Record<string, SectionArray>,
  version = FORMAT_VERSION,
): Uint8Array {
  const { byteLength, pieces } = layoutContainer(header, sections, version);
  const out = new Uint8Array(byteLength);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  new DataView(out.buffer).setUint32(at, crc32(out.subarray(0, at)), true);
  return out;
}

export interface DecodedContainer {
  header: ContainerHeader;
  version: number;
  /** The checked sections table, in file order. */
  entries: SectionEntry[];
  section(name: string): SectionArray;
  has(name: string): boolean;
}

/**
 * Reads the header without checking the data (for `info` on huge files): magic, version and
 * a JSON object. Its fields, sections table included, are still unchecked.
 */
export function readContainerHeader(bytes: Uint8Array): ContainerHeader {
  if (bytes.length < 16) fail('TRUNCATED_FILE', `file is ${bytes.length} bytes: too short to be a webannolo index`);
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== MAGIC) fail('FOREIGN_FILE', 'not a webannolo index file (bad magic bytes)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (!READABLE_VERSIONS.includes(version)) {
    fail(
      'UNSUPPORTED_VERSION',
      `index file format version ${version} is not supported (this webannolo reads versions ${READABLE_VERSIONS.join(', ')})`,
    );
  }
  const headerLength = view.getUint32(12, true);
  if (16 + headerLength > bytes.length) fail('TRUNCATED_FILE', 'index file is truncated inside its header');
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(16, 16 + headerLength)));
  } catch {
    return fail('CORRUPT_FILE', 'index file header is not valid JSON: the file is damaged');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    fail('CORRUPT_FILE', 'index file header is not a JSON object');
  return header as ContainerHeader;
}

/** A container's header with its sections table checked (see checkSectionTable). */
export interface ContainerLayout {
  header: ContainerHeader;
  version: number;
  /** First byte after the JSON header: no section starts before it. */
  headerEnd: number;
  entries: SectionEntry[];
}

/**
 * Magic, version, header and sections table from the file's first bytes (at least through
 * the header). With `fileLength`, the table must also imply exactly that length (shorter:
 * TRUNCATED_FILE); after that every section lies inside the file, so a reader may size its
 * buffers from the table: together they never exceed the file.
 */
export function readContainerLayout(prefix: Uint8Array, fileLength?: number): ContainerLayout {
  const header = readContainerHeader(prefix);
  const view = new DataView(prefix.buffer, prefix.byteOffset, 16);
  const headerEnd = 16 + view.getUint32(12, true);
  const entries = checkSectionTable(header.sections, headerEnd);
  if (fileLength !== undefined) {
    const expected = containerLength(entries, headerEnd);
    if (fileLength < expected) fail('TRUNCATED_FILE', `index file is truncated: ${fileLength} bytes, expected ${expected}`);
    if (fileLength > expected) fail('CORRUPT_FILE', `index file has ${fileLength - expected} unexpected trailing bytes`);
  }
  return { header, version: view.getUint32(8, true), headerEnd, entries };
}

/** Far more than any index writes (about 20): a longer table is not ours. */
const MAX_SECTIONS = 256;
const MAX_NAME = 128;

/**
 * The sections table, checked on its own: an array of {name, dtype, offset, length} with
 * unique names, known element types, whole-number offsets on 8-byte boundaries, in file
 * order after the header and never overlapping (a zero-length section may share its offset
 * with the next, as the writer lays them out). A file is never trusted: each field is
 * named when it is wrong.
 */
export function checkSectionTable(sections: unknown, headerEnd: number): SectionEntry[] {
  if (!Array.isArray(sections)) fail('CORRUPT_FILE', "index file header's 'sections' is not a list of sections");
  if (sections.length > MAX_SECTIONS) fail('CORRUPT_FILE', `index file header lists ${sections.length} sections (at most ${MAX_SECTIONS})`);
  const names = new Set<string>();
  let end = headerEnd;
  const entries: SectionEntry[] = [];
  for (const [i, e] of sections.entries()) {
    if (typeof e !== 'object' || e === null || Array.isArray(e)) fail('CORRUPT_FILE', `index file section ${i} is not an object`);
    const { name, dtype, offset, length } = e as Record<string, unknown>;
    if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME)
      fail('CORRUPT_FILE', `index file section ${i} has an invalid name`);
    const what = `index file section '${name}'`;
    if (names.has(name)) fail('CORRUPT_FILE', `${what} is listed twice`);
    names.add(name);
    if (typeof dtype !== 'string' || !DTYPES.includes(dtype as Dtype)) fail('CORRUPT_FILE', `${what} has an unknown element type`);
    if (!Number.isSafeInteger(offset) || (offset as number) % 8 !== 0)
      fail('CORRUPT_FILE', `${what} has an invalid offset (${String(offset)}): not a whole multiple of 8`);
    if (!Number.isSafeInteger(length) || (length as number) < 0) fail('CORRUPT_FILE', `${what} has an invalid length (${String(length)})`);
    if ((offset as number) < end)
      fail('CORRUPT_FILE', `${what} starts at byte ${String(offset)}, inside the header or an earlier section (which end at ${end})`);
    end = (offset as number) + (length as number) * bytesPer(dtype as Dtype);
    if (!Number.isSafeInteger(end)) fail('CORRUPT_FILE', `${what} is too long`);
    entries.push({ name, dtype: dtype as Dtype, offset: offset as number, length: length as number });
  }
  return entries;
}

/** The file length a checked sections table implies (data, padding and the CRC). */
export function containerLength(entries: readonly SectionEntry[], headerEnd: number): number {
  const last = entries[entries.length - 1];
  return align8(last ? last.offset + last.length * bytesPer(last.dtype) : headerEnd) + 4;
}

/**
 * A container read piecewise: a checked sections table plus a reader of each section's raw
 * bytes (exactly its byteLength, e.g. read from a file at its offset). The caller checks
 * length and CRC.
 */
export function containerFromSections(
  { header, version, entries }: Omit<ContainerLayout, 'headerEnd'>,
  read: (entry: SectionEntry) => Uint8Array,
): DecodedContainer {
  const byName = new Map(entries.map((e) => [e.name, e]));
  return {
    header,
    version,
    entries,
    has: (name) => byName.has(name),
    section(name: string): SectionArray {
      const e = byName.get(name);
      if (!e) return fail('CORRUPT_FILE', `index file lacks its '${name}' section`);
      const bytes = read(e);
      if (bytes.length !== e.length * bytesPer(e.dtype)) fail('TRUNCATED_FILE', `index file section '${name}' is truncated`);
      return view32(bytes, { ...e, offset: 0 });
    },
  };
}

/** Checks magic, version, sections table, length and checksum, then gives typed views of the sections. */
export function decodeContainer(bytes: Uint8Array): DecodedContainer {
  const layout = readContainerLayout(bytes, bytes.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stored = view.getUint32(bytes.length - 4, true);
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== stored) fail('CORRUPT_FILE', 'index file checksum mismatch: the file is damaged');
  return containerFromSections(layout, (e) => bytes.subarray(e.offset, e.offset + e.length * bytesPer(e.dtype)));
}

export function bytesPer(d: Dtype): number {
  return d === 'u8' ? 1 : 4;
}

/** A typed view of a section, copied when the file's bytes are not 4-byte aligned. */
function view32(bytes: Uint8Array, e: SectionEntry): SectionArray {
  const start = bytes.byteOffset + e.offset;
  const byteLength = e.length * bytesPer(e.dtype);
  let buffer = bytes.buffer as ArrayBuffer;
  let at = start;
  if (start % 4 !== 0) {
    buffer = bytes.slice(e.offset, e.offset + byteLength).buffer;
    at = 0;
  }
  switch (e.dtype) {
    case 'u8':
      return new Uint8Array(buffer, at, e.length);
    case 'u32':
      return new Uint32Array(buffer, at, e.length);
    case 'i32':
      return new Int32Array(buffer, at, e.length);
    case 'f32':
      return new Float32Array(buffer, at, e.length);
    default:
      return fail('CORRUPT_FILE', `unknown section type ${String(e.dtype)}`);
  }
}

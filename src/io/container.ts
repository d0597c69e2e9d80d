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
type Dtype = 'u8' | 'u32' | 'i32' | 'f32';

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

/** Lays out header and sections; returns the whole file. */
export function encodeContainer(
  header: Record<string, unknown>,
  sections: Record<string, SectionArray>,
  version = FORMAT_VERSION,
): Uint8Array {
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
  const last = entries[entries.length - 1];
  const dataEnd = last ? last.offset + sections[last.name]!.byteLength : align8(16 + headerBytes.length);
  const out = new Uint8Array(align8(dataEnd) + 4);
  out.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, version, true);
  view.setUint32(12, headerBytes.length, true);
  out.set(headerBytes, 16);
  for (const e of entries) {
    const a = sections[e.name]!;
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), e.offset);
  }
  view.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

export interface DecodedContainer {
  header: ContainerHeader;
  section(name: string): SectionArray;
  has(name: string): boolean;
}

/** Reads the header without checking the data (for `info` on huge files). */
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
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(16, 16 + headerLength))) as ContainerHeader;
  } catch {
    return fail('CORRUPT_FILE', 'index file header is not valid JSON: the file is damaged');
  }
}

/** The file length the header's sections table implies (data, padding and the CRC). */
export function containerLength(header: ContainerHeader): number {
  const entries = header.sections ?? [];
  const last = entries[entries.length - 1];
  return align8(last ? last.offset + last.length * bytesPer(last.dtype) : 16) + 4;
}

/** Fails unless a file of `actual` bytes has the length its header implies. */
export function checkContainerLength(header: ContainerHeader, actual: number): void {
  const expected = containerLength(header);
  if (actual < expected) fail('TRUNCATED_FILE', `index file is truncated: ${actual} bytes, expected ${expected}`);
  if (actual > expected) fail('CORRUPT_FILE', `index file has ${actual - expected} unexpected trailing bytes`);
}

/**
 * The sections table, checked against a file of `fileLength` bytes: known types, whole
 * numbers, every section after the header and before the CRC. For readers that seek to
 * sections instead of holding the whole file (the header is not covered by the CRC yet).
 */
export function sectionEntries(header: ContainerHeader, fileLength: number): SectionEntry[] {
  const entries = header.sections ?? [];
  if (!Array.isArray(entries)) fail('CORRUPT_FILE', 'index file header has no valid sections table');
  for (const e of entries) {
    const ok =
      typeof e === 'object' &&
      e !== null &&
      typeof e.name === 'string' &&
      ['u8', 'u32', 'i32', 'f32'].includes(e.dtype) &&
      Number.isSafeInteger(e.offset) &&
      Number.isSafeInteger(e.length) &&
      e.offset >= 16 &&
      e.length >= 0 &&
      e.offset % 8 === 0 &&
      e.offset + e.length * bytesPer(e.dtype) <= fileLength - 4;
    if (!ok) fail('CORRUPT_FILE', 'index file header has an invalid sections table');
  }
  return entries;
}

/**
 * A container read piecewise: the header plus a reader of each section's raw bytes (exactly
 * its byteLength, e.g. read from a file at its offset). The caller checks length and CRC.
 */
export function containerFromSections(header: ContainerHeader, read: (entry: SectionEntry) => Uint8Array): DecodedContainer {
  const byName = new Map((header.sections ?? []).map((e) => [e.name, e]));
  return {
    header,
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

/** Checks magic, version, length and checksum, then gives typed views of the sections. */
export function decodeContainer(bytes: Uint8Array): DecodedContainer {
  const header = readContainerHeader(bytes);
  checkContainerLength(header, bytes.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stored = view.getUint32(bytes.length - 4, true);
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== stored) fail('CORRUPT_FILE', 'index file checksum mismatch: the file is damaged');
  return containerFromSections(header, (e) => bytes.subarray(e.offset, e.offset + e.length * bytesPer(e.dtype)));
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

import { open, readdir, readFile, truncate } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fail } from '../../errors.js';
import { decodeRecord, type LoggedChange } from './log-record.js';

/**
 * The write-ahead log's files: segments beside the index, `INDEX.wal-000001`,
 * `INDEX.wal-000002`, ..., each a 24-byte header (magic "WANNOLOG", u32 version, u32 segment
 * number, 8 bytes of the log's id) and then records (log-record.ts). A snapshot starts a new
 * segment, and the old ones go once the snapshot holds all their records. The log's id is
 * also in the index file's annotations: a log never replays onto an index it does not belong to.
 */

export const SEGMENT_MAGIC = 'WANNOLOG';
export const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER_BYTES = 24;

/** A segment as read on start: its records, and where its whole records end. */
export interface ReadSegment {
  readonly number: number;
  readonly path: string;
  readonly changes: LoggedChange[];
  /** Bytes of whole records plus the header: where the next record goes. */
  readonly end: number;
  /** Bytes after the last whole record (a torn tail), dropped on open. */
  readonly tornBytes: number;
}

export function segmentPath(indexPath: string, number: number): string {
  return `${indexPath}.wal-${String(number).padStart(6, '0')}`;
}

/** The segment numbers beside `indexPath`, ascending. */
export async function listSegments(indexPath: string): Promise<number[]> {
  const prefix = `${basename(indexPath)}.wal-`;
  const names = await readdir(dirname(indexPath));
  return names
    .filter((n) => n.startsWith(prefix) && /^\d{6,}$/.test(n.slice(prefix.length)))
    .map((n) => Number(n.slice(prefix.length)))
    .sort((a, b) => a - b);
}

export function segmentHeader(number: number, logId: Uint8Array): Uint8Array {
  const out = new Uint8Array(SEGMENT_HEADER_BYTES);
  out.set(new TextEncoder().encode(SEGMENT_MAGIC));
  const view = new DataView(out.buffer);
  view.setUint32(8, SEGMENT_VERSION, true);
  view.setUint32(12, number, true);
  out.set(logId.subarray(0, 8), 16);
  return out;
}

/** The log id as text (16 hex digits), as the index file's annotations hold it. */
export const logIdText = (id: Uint8Array) => Buffer.from(id.subarray(0, 8)).toString('hex');

/**
 * Reads one segment. A header cut short is a segment created by a crash before its first
 * record (taken as empty, rewritten on open); a foreign or other log's header fails. The
 * first frame that is not whole ends the records: in the last segment that is a crash
 * mid-append (never acknowledged), elsewhere it is damage.
 */
export async function readSegment(indexPath: string, number: number, logId: string, last: boolean): Promise<ReadSegment> {
  const path = segmentPath(indexPath, number);
  const bytes = new Uint8Array(await readFile(path));
  const empty = { number, path, changes: [], end: 0, tornBytes: bytes.length };
  if (bytes.length < SEGMENT_HEADER_BYTES) {
    if (last) return empty;
    fail('CORRUPT_FILE', `write-ahead log segment ${path} is cut short inside its header`);
  }
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== SEGMENT_MAGIC)
    fail('FOREIGN_FILE', `${path} is not a webannolo write-ahead log segment`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== SEGMENT_VERSION)
    fail('UNSUPPORTED_VERSION', `write-ahead log segment ${path} has version ${version}; this reader knows ${SEGMENT_VERSION}`);
  if (view.getUint32(12, true) !== number)
    fail('CORRUPT_FILE', `write-ahead log segment ${path} says it is segment ${view.getUint32(12, true)}`);
  const id = logIdText(bytes.subarray(16, 24));
  if (id !== logId)
    fail(
      'CORRUPT_FILE',
      `write-ahead log segment ${path} belongs to another index (log ${id}, the index file names ${logId}): the index file was replaced while its log stayed; move the old segments away to serve the new file`,
    );
  const changes: LoggedChange[] = [];
  let at = SEGMENT_HEADER_BYTES;
  for (;;) {
    const record = decodeRecord(bytes, at, path);
    if (record === null) break;
    changes.push(record.change);
    at = record.end;
  }
  if (at < bytes.length && !last)
    fail('CORRUPT_FILE', `write-ahead log segment ${path} has a damaged record at byte ${at}, and later segments follow it`);
  return { number, path, changes, end: at, tornBytes: bytes.length - at };
}

/** Cuts a segment back to its whole records (a torn tail is dropped) and makes that durable. */
export async function cutTornTail(segment: ReadSegment): Promise<void> {
  if (segment.tornBytes === 0) return;
  await truncate(segment.path, segment.end);
  const handle = await open(segment.path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync on a directory makes created, renamed and removed names durable (not on Windows: best effort). */
export async function syncDirectory(path: string): Promise<void> {
  try {
    const handle = await open(dirname(join(path)), 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Not supported here: the data itself is synced; only the name may lag.
  }
}

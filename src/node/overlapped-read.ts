import { read } from 'node:fs';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { firstNonFinite, vouchFinite } from '../data/dense.js';
import { fail } from '../errors.js';
import type { SectionEntry } from '../io/container.js';
import { bytesPer } from '../io/container.js';
import { crc32 } from '../io/crc32.js';

const readAsync = promisify(read);

/**
 * zlib's CRC-32 where this Node has it (20.15 and later): the same checksum as io/crc32.ts,
 * about 2.5x faster (149 against 375 ms over 619 MiB here), which matters since opening checks
 * every byte of the file.
 */
const checksum: (bytes: Uint8Array, seed: number) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function'
    ? (bytes, seed) => (zlib as unknown as { crc32(data: Uint8Array, value: number): number }).crc32(bytes, seed) >>> 0
    : crc32;

/** A stretch of the file and where its bytes go: a section's own buffer, or scratch space. */
interface Piece {
  readonly start: number;
  readonly into: Uint8Array;
  /** The held section it belongs to (null: scratch) and where that section starts in the file. */
  readonly section: string | null;
  readonly sectionStart: number;
}

/**
 * Reads bytes [0, body) of a file and returns their CRC-32: each section in `held` straight
 * into its buffer (no copy), everything else (the header, sections left on disk) through two
 * scratch buffers, `chunkBytes` per read. The read of the next piece runs on libuv's thread
 * pool while the checksum of this one runs here, so opening costs about the longer of the two
 * instead of their sum (1M x 128 f32: reading 619 MiB and checking it take about as long each).
 */
export async function readSectionsChecked(
  fd: number,
  body: number,
  entries: readonly SectionEntry[],
  held: ReadonlyMap<string, Uint8Array>,
  chunkBytes: number,
  /** Called with each piece of a held section once its checksum is taken (the next read runs meanwhile). */
  onPiece?: (section: string, offset: number, bytes: Uint8Array) => void,
): Promise<number> {
  const pieces = piecesOf(body, entries, held, chunkBytes);
  let crc = 0;
  let next = pieces.length > 0 ? readPiece(fd, pieces[0]!) : null;
  for (let i = 0; i < pieces.length; i++) {
    await next;
    // Piece i + 1 never shares a buffer with piece i (scratch alternates), so it may be read meanwhile.
    next = i + 1 < pieces.length ? readPiece(fd, pieces[i + 1]!) : null;
    // A failed read after a damaged one stops this loop must not go unhandled.
    next?.catch(() => {});
    const piece = pieces[i]!;
    crc = checksum(piece.into, crc);
    if (piece.section !== null) onPiece?.(piece.section, piece.start - piece.sectionStart, piece.into);
  }
  return crc;
}

/** The file's [0, body) in reading order, each piece at most chunkBytes long. */
function piecesOf(body: number, entries: readonly SectionEntry[], held: ReadonlyMap<string, Uint8Array>, chunkBytes: number): Piece[] {
  const scratch = [new Uint8Array(Math.min(chunkBytes, body)), new Uint8Array(Math.min(chunkBytes, body))];
  const placed = entries
    .filter((e) => held.has(e.name))
    .map((e) => ({ name: e.name, start: e.offset, bytes: held.get(e.name)!, length: e.length * bytesPer(e.dtype) }))
    .sort((a, b) => a.start - b.start);
  const pieces: Piece[] = [];
  const loose = (from: number, to: number) => {
    for (let at = from; at < to; at += chunkBytes) {
      const n = Math.min(chunkBytes, to - at);
      pieces.push({ start: at, into: scratch[pieces.length % 2]!.subarray(0, n), section: null, sectionStart: 0 });
    }
  };
  let at = 0;
  for (const p of placed) {
    if (p.bytes.length !== p.length || p.start < at || p.start + p.length > body)
      fail('CORRUPT_FILE', 'index file sections overlap or leave the file');
    loose(at, p.start);
    for (let off = 0; off < p.length; off += chunkBytes) {
      pieces.push({
        start: p.start + off,
        into: p.bytes.subarray(off, Math.min(p.length, off + chunkBytes)),
        section: p.name,
        sectionStart: p.start,
      });
    }
    at = p.start + p.length;
  }
  loose(at, body);
  return pieces;
}

async function readPiece(fd: number, piece: Piece): Promise<void> {
  if ((await readInto(fd, piece.into, piece.start)) < piece.into.length)
    fail('TRUNCATED_FILE', 'index file is truncated (it shrank while being read)');
}

/** Fills `buf` from `position` on as far as the file goes; returns the bytes read. */
export async function readInto(fd: number, buf: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await readAsync(fd, buf, done, buf.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/**
 * The NaN/Infinity check of plain f32 vectors (the `vectors` section of a dense search or
 * re-ranking store), done per piece while the next piece is read instead of in one pass after
 * the file is in: at 1M x 128 that pass alone was about a fifth of opening. Sections whose
 * pieces all pass are vouched for (vouchFinite), so the DenseDataset decoding makes over them
 * skips its own pass; one that fails, or a piece that is not whole floats, is left to that
 * pass, which reports the row and component.
 */
export class FiniteVectorsCheck {
  private readonly state = new Map<string, boolean>();

  constructor(denseSections: readonly string[]) {
    for (const name of denseSections) this.state.set(name, true);
  }

  /** readSectionsChecked's onPiece. */
  readonly onPiece = (section: string, offset: number, bytes: Uint8Array): void => {
    if (this.state.get(section) !== true) return;
    const whole = offset % 4 === 0 && bytes.length % 4 === 0 && bytes.byteOffset % 4 === 0;
    if (!whole || firstNonFinite(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)) >= 0) this.state.set(section, false);
  };

  /** Vouches for every held section that passed, as the Float32Array over its whole buffer that decoding wraps. */
  vouch(held: ReadonlyMap<string, Uint8Array>): void {
    for (const [name, ok] of this.state) {
      const bytes = held.get(name);
      if (ok && bytes !== undefined && bytes.byteOffset % 4 === 0 && bytes.length % 4 === 0)
        vouchFinite(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
    }
  }
}

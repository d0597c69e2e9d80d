import { fail, WebannoloError } from '../../errors.js';

/**
 * The frame every message of the sharded service uses (search requests and replies, changes
 * in the log): a small JSON header for what is not a vector, and the vectors as raw
 * little-endian numbers, so a 784-dimension query costs 3136 bytes, not ~9 KB of JSON text.
 *
 *   u32 LE    header length H (bytes)
 *   H bytes   header: JSON, UTF-8
 *   0-7 bytes zero padding, so the body starts at a multiple of 8 from the frame's start
 *   body      typed arrays back to back, each padded to a multiple of 8 bytes; the header
 *             says which (see the message types below)
 *
 * Little-endian throughout (what every platform Node runs on uses, so typed arrays view the
 * bytes directly). A header `v` other than WIRE_VERSION is refused.
 */
export const WIRE_VERSION = 1;

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();

type BodyArray = Float32Array | Float64Array | Uint32Array;

/** Encodes a header and body arrays into one frame. */
export function encodeFrame(header: Record<string, unknown>, body: readonly BodyArray[] = []): Uint8Array {
  const head = ENCODER.encode(JSON.stringify({ v: WIRE_VERSION, ...header }));
  let size = align8(4 + head.length);
  for (const a of body) size += align8(a.byteLength);
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, head.length, true);
  out.set(head, 4);
  let at = align8(4 + head.length);
  for (const a of body) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += align8(a.byteLength);
  }
  return out;
}

/** A decoded frame: its header, and a reader that takes the body's arrays in order. */
export interface Frame<H> {
  readonly header: H;
  readonly body: BodyReader;
}

/** Decodes a frame; malformed bytes fail with INVALID_ARGUMENT naming what is wrong. */
export function decodeFrame<H>(bytes: Uint8Array, what: string): Frame<H> {
  if (bytes.length < 4) fail('INVALID_ARGUMENT', `${what}: a frame of ${bytes.length} bytes is too short`);
  const headLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (4 + headLength > bytes.length) fail('INVALID_ARGUMENT', `${what}: header of ${headLength} bytes past the frame's end`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(DECODER.decode(bytes.subarray(4, 4 + headLength))) as Record<string, unknown>;
  } catch {
    return fail('INVALID_ARGUMENT', `${what}: the header is not JSON`);
  }
  if (header === null || typeof header !== 'object' || header['v'] !== WIRE_VERSION)
    fail('INVALID_ARGUMENT', `${what}: wire version ${String(header?.['v'])}, this side speaks ${WIRE_VERSION}`);
  return { header: header as H, body: new BodyReader(bytes, align8(4 + headLength), what) };
}

/** Reads a frame's body arrays in order; each is copied out (a message's buffer is not ours to keep). */
export class BodyReader {
  constructor(
    private readonly bytes: Uint8Array,
    private at: number,
    private readonly what: string,
  ) {}

  f32(count: number): Float32Array {
    return new Float32Array(this.take(count * 4));
  }

  f64(count: number): Float64Array {
    return new Float64Array(this.take(count * 8));
  }

  u32(count: number): Uint32Array {
    return new Uint32Array(this.take(count * 4));
  }

  private take(bytes: number): ArrayBuffer {
    if (!Number.isSafeInteger(bytes) || bytes < 0 || this.at + bytes > this.bytes.length)
      fail('INVALID_ARGUMENT', `${this.what}: the body is shorter than its header says`);
    const start = this.bytes.byteOffset + this.at;
    this.at += align8(bytes);
    return this.bytes.buffer.slice(start, start + bytes) as ArrayBuffer;
  }
}

/** An error as it crosses the wire: its code and message, rebuilt as a WebannoloError on the other side. */
export interface WireError {
  readonly code: string;
  readonly message: string;
}

export function toWireError(err: unknown): WireError {
  if (err instanceof WebannoloError) return { code: err.code, message: err.message };
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

export function fromWireError(e: WireError, where: string): WebannoloError {
  const known = e.code !== 'INTERNAL';
  return new WebannoloError(known ? (e.code as WebannoloError['code']) : 'INVALID_ARGUMENT', `${where}: ${e.message}`);
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

import { fail } from '../../errors.js';
import type { LabelRow } from '../../indexes/hnsw/living/living-index.js';
import type { ItemKey } from '../../indexes/items/item-keys.js';
import { crc32 } from '../../io/crc32.js';
import type { SparseVector, Vector } from '../../types.js';

/**
 * One change in the write-ahead log, and its bytes. A record is framed as
 *
 *   u32  payload length p (little-endian)
 *   u32  CRC-32 of the payload
 *   p    payload: u32 JSON length j, j bytes of UTF-8 JSON (seq, op, keys, labels, upsert,
 *        vector kind and count), zero padding to a multiple of 4, then the vectors: dense rows
 *        as count x dim f32, sparse rows each as u32 nnz, nnz u32 indices, nnz f32 values.
 *
 * The checksum is what tells a record cut short by a crash (or never fully written) from a
 * whole one: a frame whose length runs past the end of the file, or whose payload does not
 * match its CRC, was never acknowledged.
 */
export type LoggedChange =
  | {
      readonly seq: number;
      readonly op: 'add';
      readonly keys: readonly ItemKey[];
      readonly vectors: readonly Vector[];
      readonly labels?: readonly LabelRow[];
      readonly upsert: boolean;
    }
  | { readonly seq: number; readonly op: 'remove'; readonly keys: readonly ItemKey[] };

/** Bytes of a frame's length and checksum. */
export const FRAME_BYTES = 8;
/** Larger payloads are refused when written and taken for damage when read. */
export const MAX_RECORD_BYTES = 1 << 30;

interface RecordHead {
  seq: number;
  op: 'add' | 'remove';
  keys: ItemKey[];
  labels?: LabelRow[];
  upsert?: boolean;
  kind?: 'dense' | 'sparse';
  count?: number;
  dim?: number;
}

const isSparse = (v: Vector): v is SparseVector => !(v instanceof Float32Array);

/** The framed bytes of one change. */
export function encodeRecord(change: LoggedChange): Uint8Array {
  const head: RecordHead = { seq: change.seq, op: change.op, keys: [...change.keys] };
  let body: Uint8Array = new Uint8Array(0);
  if (change.op === 'add') {
    head.upsert = change.upsert;
    if (change.labels !== undefined) head.labels = change.labels.map((l) => (l === null || typeof l === 'number' ? l : [...l]));
    const vectors = change.vectors;
    head.count = vectors.length;
    if (vectors.length > 0 && isSparse(vectors[0]!)) {
      head.kind = 'sparse';
      body = encodeSparse(vectors as readonly SparseVector[]);
    } else {
      head.kind = 'dense';
      head.dim = vectors.length > 0 ? (vectors[0] as Float32Array).length : 0;
      body = encodeDense(vectors as readonly Float32Array[], head.dim);
    }
  }
  const json = new TextEncoder().encode(JSON.stringify(head));
  const jsonPadded = align4(4 + json.length);
  const payloadBytes = jsonPadded + body.length;
  if (payloadBytes > MAX_RECORD_BYTES)
    fail('INVALID_ARGUMENT', `a change of ${payloadBytes} bytes is too large for the log (at most ${MAX_RECORD_BYTES})`);
  const out = new Uint8Array(FRAME_BYTES + payloadBytes);
  const view = new DataView(out.buffer);
  const payload = out.subarray(FRAME_BYTES);
  view.setUint32(FRAME_BYTES, json.length, true);
  payload.set(json, 4);
  payload.set(body, jsonPadded);
  view.setUint32(0, payloadBytes, true);
  view.setUint32(4, crc32(payload), true);
  return out;
}

/**
 * Reads the frame at `offset` of `bytes`. Returns the change and the offset after it, or null
 * when no whole, checksummed frame starts there (a torn tail); a frame that checks out but
 * cannot be read as a change is damage, not a tear, and fails with CORRUPT_FILE.
 */
export function decodeRecord(bytes: Uint8Array, offset: number, where: string): { change: LoggedChange; end: number } | null {
  if (bytes.length - offset < FRAME_BYTES) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(offset, true);
  const sum = view.getUint32(offset + 4, true);
  const start = offset + FRAME_BYTES;
  if (length < 4 || length > MAX_RECORD_BYTES || length > bytes.length - start) return null;
  const payload = bytes.subarray(start, start + length);
  if (crc32(payload) !== sum) return null;
  return { change: parsePayload(payload, `${where} at byte ${offset}`), end: start + length };
}

function parsePayload(payload: Uint8Array, where: string): LoggedChange {
  const bad = (why: string): never => fail('CORRUPT_FILE', `write-ahead log record ${where} is invalid: ${why}`);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const jsonLength = view.getUint32(0, true);
  if (jsonLength > payload.length - 4) bad('its header runs past its end');
  let head: RecordHead;
  try {
    head = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload.subarray(4, 4 + jsonLength))) as RecordHead;
  } catch (e) {
    return bad(`its header is not JSON (${(e as Error).message})`);
  }
  if (!Number.isSafeInteger(head.seq) || head.seq < 1) bad('no sequence number');
  if (!Array.isArray(head.keys)) bad('no keys');
  if (head.op === 'remove') return { seq: head.seq, op: 'remove', keys: head.keys };
  if (head.op !== 'add') bad(`unknown operation ${JSON.stringify(head.op)}`);
  const count = head.count ?? -1;
  if (!Number.isSafeInteger(count) || count < 0) bad('no vector count');
  const body = payload.subarray(align4(4 + jsonLength));
  let vectors: Vector[];
  if (head.kind === 'dense') {
    const dim = head.dim ?? -1;
    if (!Number.isSafeInteger(dim) || dim < 0 || body.length !== count * dim * 4) bad('its vectors do not match their count and dimension');
    vectors = decodeDense(body, count, dim);
  } else if (head.kind === 'sparse') {
    vectors = decodeSparse(body, count, bad);
  } else return bad(`unknown vector kind ${JSON.stringify(head.kind)}`);
  const change = { seq: head.seq, op: 'add' as const, keys: head.keys, vectors, upsert: head.upsert === true };
  return head.labels === undefined ? change : { ...change, labels: head.labels };
}

const align4 = (n: number) => Math.ceil(n / 4) * 4;

function encodeDense(rows: readonly Float32Array[], dim: number): Uint8Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((row, i) => {
    if (row.length !== dim) fail('DIMENSION_MISMATCH', `vector ${i} has ${row.length} values, the first has ${dim}`);
    out.set(row, i * dim);
  });
  return littleEndianBytes(out);
}

function decodeDense(body: Uint8Array, count: number, dim: number): Float32Array[] {
  const all = new Float32Array(count * dim);
  new Uint8Array(all.buffer).set(body);
  fromLittleEndian(all);
  return Array.from({ length: count }, (_, i) => all.subarray(i * dim, (i + 1) * dim));
}

function encodeSparse(rows: readonly SparseVector[]): Uint8Array {
  const words = rows.reduce((sum, r) => sum + 1 + 2 * r.indices.length, 0);
  const out = new Uint32Array(words);
  const asFloat = new Float32Array(out.buffer);
  let at = 0;
  for (const r of rows) {
    const nnz = r.indices.length;
    out[at++] = nnz;
    out.set(r.indices, at);
    asFloat.set(r.values.subarray(0, nnz), at + nnz);
    at += 2 * nnz;
  }
  return littleEndianBytes(out);
}

function decodeSparse(body: Uint8Array, count: number, bad: (why: string) => never): SparseVector[] {
  if (body.length % 4 !== 0) bad('its sparse vectors are not whole words');
  const words = new Uint32Array(body.length / 4);
  new Uint8Array(words.buffer).set(body);
  fromLittleEndian(words);
  const asFloat = new Float32Array(words.buffer);
  const rows: SparseVector[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at >= words.length) bad('its sparse vectors end early');
    const nnz = words[at++]!;
    if (at + 2 * nnz > words.length) bad('its sparse vectors end early');
    rows.push({ indices: words.slice(at, at + nnz), values: asFloat.slice(at + nnz, at + 2 * nnz) });
    at += 2 * nnz;
  }
  if (at !== words.length) bad('bytes left after its sparse vectors');
  return rows;
}

const BIG_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 0;

/** The array's bytes in little-endian order (a copy on big-endian platforms). */
function littleEndianBytes(a: Float32Array | Uint32Array): Uint8Array {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (!BIG_ENDIAN) return bytes;
  const out = new Uint8Array(bytes);
  for (let i = 0; i < out.length; i += 4) out.subarray(i, i + 4).reverse();
  return out;
}

/** Turns little-endian words read into `a` into this platform's order, in place. */
function fromLittleEndian(a: Float32Array | Uint32Array): void {
  if (!BIG_ENDIAN) return;
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  for (let i = 0; i < bytes.length; i += 4) bytes.subarray(i, i + 4).reverse();
}

import { fail } from '../../errors.js';
import type { SearchFilter } from '../../indexes/filter.js';
import type { ItemKey } from '../../indexes/items/item-keys.js';
import type { Metric, Vector } from '../../types.js';
import type { AddChange, Hits, QueryParams } from '../backend.js';
import { type BodyReader, decodeFrame, encodeFrame, type WireError } from './wire.js';

/**
 * The sharded service's messages, each one frame (wire.ts): JSON header + binary body.
 *
 * Vectors (in search requests and add changes), header field `vectors`:
 *   { "kind": "dense", "dim": D }        body: f32[n * D], row after row
 *   { "kind": "sparse", "nnz": [..n] }   body: u32 indices of every row back to back, then
 *                                        f32 values likewise
 *
 * Search request (subject NAME.search.I), header:
 *   { nq, k, ef?, rerank?, filter?: {label} | {labels}, minSeq?, waitMs?, vectors }
 *   minSeq: the shard first applies its change log up to this sequence (read-your-writes),
 *   waiting at most waitMs.
 *
 * Search reply, header:
 *   { nq, k, metric, keyKind: "number" | "string", stringKeys?, appliedSeq, replica?, error? }
 *   body: with number keys f64[nq * k] keys (NaN: no item), then f32[nq * k] scores; with
 *   string keys (in the header, null: no item) only the scores. k is the reply's row width
 *   (the request's k, or the shard's size when smaller). `error` ({code, message}) replaces
 *   everything else when the shard refused the request. replica: which replica answered.
 *
 * Change (published to NAME.changes.I, one JetStream stream per shard), header:
 *   { op: "add", keys, labels?, upsert?, vectors }   body: the vectors
 *   { op: "remove", keys }
 *
 * The small control messages (NAME.info.I, NAME.lookup.I, NAME.applied.I) are plain JSON: see
 * ShardInfo, and AppliedRequest / AppliedReply in shard-replica.ts.
 */

export interface SearchRequest {
  readonly queries: Vector[];
  readonly k: number;
  readonly params: QueryParams;
  readonly minSeq: number;
  readonly waitMs: number;
}

export interface SearchReply {
  readonly metric: Metric;
  readonly hits: Hits[];
  readonly appliedSeq: number;
  /** The replica that answered (ShardInfo.replica). */
  readonly replica?: string;
}

type VectorsDesc = { kind: 'dense'; dim: number } | { kind: 'sparse'; nnz: number[] };

export function encodeSearchRequest(req: SearchRequest): Uint8Array {
  const { desc, body } = encodeVectors(req.queries);
  const { ef, rerank, filter } = req.params;
  const header: Record<string, unknown> = { nq: req.queries.length, k: req.k, vectors: desc };
  if (ef !== undefined) header['ef'] = ef;
  if (rerank !== undefined) header['rerank'] = rerank;
  if (filter !== undefined) header['filter'] = wireFilter(filter);
  if (req.minSeq > 0) Object.assign(header, { minSeq: req.minSeq, waitMs: req.waitMs });
  return encodeFrame(header, body);
}

export function decodeSearchRequest(bytes: Uint8Array): SearchRequest {
  const { header: h, body } = decodeFrame<Record<string, unknown>>(bytes, 'search request');
  const nq = count(h['nq'], 'nq');
  const params: { ef?: number; rerank?: number; filter?: SearchFilter } = {};
  if (h['ef'] !== undefined) params.ef = h['ef'] as number;
  if (h['rerank'] !== undefined) params.rerank = h['rerank'] as number;
  if (h['filter'] !== undefined) params.filter = h['filter'] as SearchFilter;
  return {
    queries: decodeVectors(h['vectors'] as VectorsDesc, nq, body),
    k: h['k'] as number,
    params,
    minSeq: typeof h['minSeq'] === 'number' ? h['minSeq'] : 0,
    waitMs: typeof h['waitMs'] === 'number' ? h['waitMs'] : 0,
  };
}

export function encodeSearchReply(reply: SearchReply): Uint8Array {
  const nq = reply.hits.length;
  const k = Math.max(0, ...reply.hits.map((h) => h.keys.length));
  const scores = new Float32Array(nq * k).fill(Number.NaN);
  const firstKey = reply.hits.flatMap((h) => h.keys).find((key) => key !== null);
  const keyKind = typeof firstKey === 'string' ? 'string' : 'number';
  const numberKeys = keyKind === 'number' ? new Float64Array(nq * k).fill(Number.NaN) : null;
  const stringKeys: (string | null)[] | null = keyKind === 'string' ? new Array<string | null>(nq * k).fill(null) : null;
  reply.hits.forEach((hits, q) => {
    for (let j = 0; j < hits.keys.length; j++) {
      const key = hits.keys[j];
      if (key === null || key === undefined) continue;
      scores[q * k + j] = hits.scores[j]!;
      if (numberKeys) numberKeys[q * k + j] = key as number;
      else stringKeys![q * k + j] = key as string;
    }
  });
  const header: Record<string, unknown> = { nq, k, metric: reply.metric, keyKind, appliedSeq: reply.appliedSeq };
  if (reply.replica !== undefined) header['replica'] = reply.replica;
  if (stringKeys) header['stringKeys'] = stringKeys;
  return encodeFrame(header, numberKeys ? [numberKeys, scores] : [scores]);
}

export function encodeErrorReply(error: WireError): Uint8Array {
  return encodeFrame({ error });
}

/** A reply's hits, or the shard's error. */
export function decodeSearchReply(bytes: Uint8Array): SearchReply | { error: WireError } {
  const { header: h, body } = decodeFrame<Record<string, unknown>>(bytes, 'search reply');
  if (h['error'] !== undefined) return { error: h['error'] as WireError };
  const nq = count(h['nq'], 'nq');
  const k = count(h['k'], 'k');
  const stringKeys = h['stringKeys'] as (string | null)[] | undefined;
  const numberKeys = stringKeys === undefined ? body.f64(nq * k) : null;
  const scores = body.f32(nq * k);
  const hits: Hits[] = [];
  for (let q = 0; q < nq; q++) {
    const keys: ItemKey[] = [];
    const rowScores: number[] = [];
    for (let j = q * k; j < (q + 1) * k; j++) {
      const key = numberKeys ? (Number.isNaN(numberKeys[j]!) ? null : numberKeys[j]!) : (stringKeys![j] ?? null);
      if (key === null) continue;
      keys.push(key);
      rowScores.push(scores[j]!);
    }
    hits.push({ keys, scores: rowScores });
  }
  const replica = typeof h['replica'] === 'string' ? { replica: h['replica'] } : {};
  return { metric: h['metric'] as Metric, hits, appliedSeq: Number(h['appliedSeq'] ?? 0), ...replica };
}

/** A change to one shard, as its log holds it. */
export type ShardChange = { readonly op: 'add'; readonly change: AddChange } | { readonly op: 'remove'; readonly keys: readonly ItemKey[] };

export function encodeChange(c: ShardChange): Uint8Array {
  if (c.op === 'remove') return encodeFrame({ op: 'remove', keys: c.keys });
  const { desc, body } = encodeVectors(c.change.vectors);
  const header: Record<string, unknown> = { op: 'add', keys: c.change.keys, vectors: desc };
  if (c.change.labels !== undefined) header['labels'] = c.change.labels;
  if (c.change.upsert) header['upsert'] = true;
  return encodeFrame(header, body);
}

export function decodeChange(bytes: Uint8Array): ShardChange {
  const { header: h, body } = decodeFrame<Record<string, unknown>>(bytes, 'change');
  const keys = h['keys'] as ItemKey[];
  if (!Array.isArray(keys)) fail('INVALID_ARGUMENT', 'change: keys must be a list');
  if (h['op'] === 'remove') return { op: 'remove', keys };
  if (h['op'] !== 'add') fail('INVALID_ARGUMENT', `change: unknown op ${JSON.stringify(h['op'])}`);
  const vectors = decodeVectors(h['vectors'] as VectorsDesc, keys.length, body);
  const change: AddChange = {
    keys,
    vectors,
    ...(h['labels'] !== undefined ? { labels: h['labels'] as AddChange['labels'] } : {}),
    ...(h['upsert'] === true ? { upsert: true } : {}),
  };
  return { op: 'add', change };
}

function encodeVectors(vectors: readonly Vector[]): { desc: VectorsDesc; body: (Float32Array | Uint32Array)[] } {
  const first = vectors[0];
  if (first === undefined || first instanceof Float32Array) {
    const dim = first?.length ?? 0;
    const data = new Float32Array(vectors.length * dim);
    vectors.forEach((v, i) => {
      if (!(v instanceof Float32Array) || v.length !== dim)
        fail('DIMENSION_MISMATCH', `vector ${i}: every vector must be a dense Float32Array of dimension ${dim}, like vector 0`);
      data.set(v, i * dim);
    });
    return { desc: { kind: 'dense', dim }, body: [data] };
  }
  const rows = vectors.map((v, i) => {
    if (v instanceof Float32Array) return fail('INVALID_ARGUMENT', `vector ${i} is dense but vector 0 is sparse`);
    return v;
  });
  const nnz = rows.map((r) => r.indices.length);
  const total = nnz.reduce((a, b) => a + b, 0);
  const indices = new Uint32Array(total);
  const values = new Float32Array(total);
  let at = 0;
  for (const r of rows) {
    indices.set(r.indices, at);
    values.set(r.values, at);
    at += r.indices.length;
  }
  return { desc: { kind: 'sparse', nnz }, body: [indices, values] };
}

function decodeVectors(desc: VectorsDesc | undefined, n: number, body: BodyReader): Vector[] {
  if (desc?.kind === 'dense') {
    const dim = count(desc.dim, 'vectors.dim');
    const data = body.f32(n * dim);
    return Array.from({ length: n }, (_, i) => data.subarray(i * dim, (i + 1) * dim));
  }
  if (desc?.kind === 'sparse' && Array.isArray(desc.nnz) && desc.nnz.length === n) {
    const nnz = desc.nnz.map((x) => count(x, 'vectors.nnz'));
    const total = nnz.reduce((a, b) => a + b, 0);
    const indices = body.u32(total);
    const values = body.f32(total);
    let at = 0;
    return nnz.map((c) => {
      const v = { indices: indices.subarray(at, at + c), values: values.subarray(at, at + c) };
      at += c;
      return v;
    });
  }
  return fail('INVALID_ARGUMENT', `vectors: expected {kind: 'dense', dim} or {kind: 'sparse', nnz} for ${n} vectors`);
}

/** Filters by label cross the wire; a key predicate or an id bitset means nothing to another process. */
function wireFilter(filter: SearchFilter): SearchFilter {
  if ('label' in filter) return { label: filter.label };
  if ('labels' in filter) return { labels: [...filter.labels] };
  return fail(
    'INVALID_ARGUMENT',
    'filter: a sharded search filters by label ({label} or {labels}) only; where and bitset filters stay local',
  );
}

function count(x: unknown, name: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) fail('INVALID_ARGUMENT', `${name} must be a count, got ${String(x)}`);
  return x;
}

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebannoloError } from '../../errors.js';
import type { SearchFilter } from '../../indexes/filter.js';
import type { Vector } from '../../types.js';
import type { Hits, QueryParams } from '../backend.js';
import type { HttpContext } from './context.js';
import { badRequest, naming, RequestError } from './errors-to-status.js';
import { rowsFromBinary, vectorFromJson } from './request-vectors.js';
import { SEARCH_QUERY_STRING_SCHEMA, type SearchBody, searchBodySchema } from './schemas.js';

/**
 * POST /search. A JSON body `{"vector":[...],"k","ef","rerank","filter"}` answers
 * `{"keys":[...],"scores":[...]}`; `{"vectors":[[...],...]}` answers one row per query,
 * `{"keys":[[...]],"scores":[[...]]}`. An application/octet-stream body holds little-endian
 * float32 rows of `dim` values with k, ef, rerank, label or labels (comma-separated) in the
 * query string; one row answers like `vector`, several like `vectors`.
 *
 * Each search runs under the server's deadline: past it the request is answered with a 504 and
 * the search is dropped if its batch has not started (the AbortSignal passed to the backend);
 * a client that disconnects aborts its search the same way.
 */
export function registerSearchRoutes(app: FastifyInstance, ctx: HttpContext): void {
  app.post<{ Body: SearchBody | Buffer; Querystring: Record<string, string | undefined> }>(
    '/search',
    {
      onRequest: async (request) => ctx.auth.checkRead(request.headers.authorization),
      schema: {
        body: { content: { 'application/json': { schema: searchBodySchema(ctx.limits) } } },
        querystring: SEARCH_QUERY_STRING_SCHEMA,
      },
    },
    async (request, reply) => {
      const binary = Buffer.isBuffer(request.body);
      const { queries, single, params, k } = binary ? fromBinary(request, ctx) : fromJson(request, ctx);
      const fieldOf = searchFieldOf(binary ? 'body' : single ? 'vector' : 'vectors');
      try {
        return await withDeadline(ctx.deadlineMs, reply, async (signal) => {
          if (single) return singleAnswer(await ctx.backend.search(queries[0]!, k, params, signal));
          return manyAnswer(await ctx.backend.searchMany(queries, k, params, signal));
        });
      } catch (error) {
        throw naming(error, fieldOf);
      }
    },
  );
}

interface ParsedSearch {
  readonly queries: Vector[];
  /** True when the request sent one query the single way (`vector`, one binary row). */
  readonly single: boolean;
  readonly k: number;
  readonly params: QueryParams;
}

function fromJson(
  request: FastifyRequest<{ Body: SearchBody | Buffer; Querystring: Record<string, string | undefined> }>,
  ctx: HttpContext,
): ParsedSearch {
  const stray = Object.keys(request.query ?? {})[0];
  if (stray !== undefined) throw badRequest(stray, `query parameter ${stray} applies to binary bodies: give it in the JSON body instead`);
  const body = (request.body ?? {}) as SearchBody;
  if (body.vector !== undefined && body.vectors !== undefined)
    throw badRequest('vectors', 'give either vector (one query) or vectors (several), not both');
  if (body.vector === undefined && body.vectors === undefined)
    throw badRequest('vector', 'vector is required: the query as an array of numbers (or vectors: an array of them)');
  const queries =
    body.vector !== undefined
      ? [vectorFromJson(body.vector, ctx.dim, 'vector')]
      : body.vectors!.map((v, i) => vectorFromJson(v, ctx.dim, `vectors[${i}]`));
  const filter: SearchFilter | undefined = body.filter;
  return {
    queries,
    single: body.vector !== undefined,
    k: body.k ?? ctx.defaults.k,
    params: queryParams(body.ef ?? ctx.defaults.ef, body.rerank ?? ctx.defaults.rerank, filter),
  };
}

function fromBinary(request: FastifyRequest<{ Querystring: Record<string, string | undefined> }>, ctx: HttpContext): ParsedSearch {
  const query = request.query;
  const int = (name: string, max: number): number | undefined => {
    const text = query[name];
    if (text === undefined) return undefined;
    const value = Number(text);
    if (value > max) throw badRequest(name, `query parameter ${name} must be at most ${max}, got ${text}`);
    return value;
  };
  const k = int('k', ctx.limits.maxK) ?? ctx.defaults.k;
  if (k < 1) throw badRequest('k', 'query parameter k must be at least 1');
  const ef = int('ef', ctx.limits.maxEf);
  if (ef !== undefined && ef < 1) throw badRequest('ef', 'query parameter ef must be at least 1');
  if (query['label'] !== undefined && query['labels'] !== undefined)
    throw badRequest('labels', 'give query parameter label or labels, not both');
  const label = int('label', 0xffffffff);
  const labels = query['labels']?.split(',').map(Number);
  if (labels?.some((l) => l > 0xffffffff)) throw badRequest('labels', 'labels must be integers below 2^32');
  const filter: SearchFilter | undefined = label !== undefined ? { label } : labels !== undefined ? { labels } : undefined;
  const queries = rowsFromBinary(request.body as unknown as Buffer, ctx.dim, ctx.limits.maxQueries);
  return {
    queries,
    single: queries.length === 1,
    k,
    params: queryParams(ef ?? ctx.defaults.ef, int('rerank', ctx.limits.maxEf) ?? ctx.defaults.rerank, filter),
  };
}

function queryParams(ef: number | undefined, rerank: number | undefined, filter: SearchFilter | undefined): QueryParams {
  const params: QueryParams = {};
  if (ef !== undefined) params.ef = ef;
  if (rerank !== undefined && rerank > 0) params.rerank = rerank;
  if (filter !== undefined) params.filter = filter;
  return params;
}

/** Which request field a backend's input error is about, from its message. */
function searchFieldOf(vectorField: string): (error: WebannoloError) => string {
  return (error) => {
    if (error.code !== 'INVALID_ARGUMENT') return vectorField;
    const m = error.message;
    if (/\blabels?\b|\bfilter/i.test(m)) return vectorField === 'body' ? 'label' : 'filter';
    if (/\brerank/i.test(m)) return 'rerank';
    if (/\bef\b/.test(m)) return 'ef';
    if (/\bk\b/.test(m)) return 'k';
    return vectorField;
  };
}

function singleAnswer(hits: Hits): Record<string, unknown> {
  return { keys: hits.keys, scores: hits.scores, ...(hits.missingShards?.length ? { missingShards: hits.missingShards } : {}) };
}

function manyAnswer(rows: Hits[]): Record<string, unknown> {
  const missing = new Set<number>();
  for (const r of rows) for (const s of r.missingShards ?? []) missing.add(s);
  return {
    keys: rows.map((r) => r.keys),
    scores: rows.map((r) => r.scores),
    ...(missing.size > 0 ? { missingShards: [...missing].sort((a, b) => a - b) } : {}),
  };
}

/**
 * Runs `work` with a signal that aborts when the deadline passes (the request then fails with
 * a 504 at once, whether or not the backend has stopped) or when the client goes away.
 */
async function withDeadline<T>(deadlineMs: number, reply: FastifyReply, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onClose = (): void => {
    if (!reply.raw.writableEnded) controller.abort();
  };
  reply.raw.once('close', onClose);
  let timer: NodeJS.Timeout | undefined;
  try {
    if (deadlineMs <= 0) return await work(controller.signal);
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Rejected before the abort, so the race settles with this error rather than the backend's CANCELLED.
        reject(
          new RequestError(
            504,
            `the search did not finish within its ${deadlineMs} ms deadline (--deadline-ms)`,
            undefined,
            'DEADLINE_EXCEEDED',
          ),
        );
        controller.abort();
      }, deadlineMs);
    });
    return await Promise.race([work(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
    reply.raw.off('close', onClose);
  }
}

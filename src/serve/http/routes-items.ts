import type { FastifyInstance } from 'fastify';
import type { WebannoloError } from '../../errors.js';
import type { AddChange } from '../backend.js';
import type { HttpContext } from './context.js';
import { badRequest, naming, RequestError } from './errors-to-status.js';
import { vectorFromJson } from './request-vectors.js';
import { type AddItemsBody, addItemsBodySchema, type RemoveItemsBody, removeItemsBodySchema } from './schemas.js';

/**
 * The writes: POST /items (add, or with `upsert` replace), DELETE /items (remove by key) and
 * POST /admin/snapshot. Each needs write access (checked before the body is read) and is
 * answered once the backend reports the change durable, `{"seq","items"}`. A write has no
 * deadline: once the backend took it, it is applied and logged, and answering before would
 * tell the client nothing true. Bad input is refused before the backend is called where the
 * routes can see it (lengths, dimensions, values), and the backend applies a change
 * all-or-nothing, so a refused write changes nothing.
 */
export function registerItemRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const onRequest = async (request: { headers: { authorization?: string } }) => ctx.auth.checkWrite(request.headers.authorization);

  app.post<{ Body: AddItemsBody }>('/items', { onRequest, schema: { body: addItemsBodySchema(ctx.limits) } }, async (request) => {
    const change = addChangeOf(request.body, ctx.dim);
    try {
      return await ctx.backend.add(change);
    } catch (error) {
      throw naming(error, writeFieldOf);
    }
  });

  app.delete<{ Body: RemoveItemsBody }>('/items', { onRequest, schema: { body: removeItemsBodySchema(ctx.limits) } }, async (request) => {
    const keys = request.body.keys;
    if (new Set(keys).size !== keys.length) throw badRequest('keys', 'keys lists a key twice: give each key once');
    try {
      return await ctx.backend.remove(keys);
    } catch (error) {
      throw naming(error, () => 'keys');
    }
  });

  app.post('/admin/snapshot', { onRequest }, async () => {
    const info = await ctx.backend.snapshot();
    if (info === null)
      throw new RequestError(405, 'this server keeps no write-ahead log, so it has no snapshot to write', undefined, 'READ_ONLY');
    return info;
  });
}

/** The request as the backend's AddChange, its lists checked against each other and the dimension. */
function addChangeOf(body: AddItemsBody, dim: number): AddChange {
  const { keys, vectors, labels } = body;
  if (vectors.length !== keys.length)
    throw badRequest('vectors', `${vectors.length} vectors for ${keys.length} keys: give one vector per key`, 'DIMENSION_MISMATCH');
  if (labels !== undefined && labels.length !== keys.length)
    throw badRequest(
      'labels',
      `${labels.length} label rows for ${keys.length} keys: give one row (a label, a list or null) per key`,
      'DIMENSION_MISMATCH',
    );
  const kinds = new Set(keys.map((k) => typeof k));
  if (kinds.size > 1) throw badRequest('keys', 'keys must all be integers or all be strings');
  return {
    keys,
    vectors: vectors.map((v, i) => vectorFromJson(v, dim, `vectors[${i}]`)),
    ...(labels !== undefined ? { labels } : {}),
    ...(body.upsert !== undefined ? { upsert: body.upsert } : {}),
  };
}

/** Which field of a write a backend's input error is about, from its message. */
function writeFieldOf(error: WebannoloError): string {
  if (error.code === 'DIMENSION_MISMATCH' || error.code === 'NON_FINITE' || error.code === 'BAD_SPARSE_ROW') return 'vectors';
  if (/\bkeys?\b/i.test(error.message)) return 'keys';
  if (/\blabels?\b/i.test(error.message)) return 'labels';
  return 'vectors';
}

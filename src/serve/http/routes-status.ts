import type { FastifyInstance } from 'fastify';
import type { HttpContext } from './context.js';
import { statsOf } from './metrics.js';

/**
 * GET /health: liveness and readiness in one. 200 `{"status":"ok",...}` while the backend can
 * serve; 503 `{"status":"failing","failure":...}` when it reports a failure (its log could not
 * be written: writes wait for a restart), and `{"status":"closing"}` once shutdown began. Never
 * needs a token.
 *
 * GET /metrics: the server's Prometheus metrics (see ServeMetrics); needs the token when reads
 * do.
 */
export function registerStatusRoutes(app: FastifyInstance, ctx: HttpContext): void {
  app.get('/health', async (_request, reply) => {
    if (ctx.state.closing) return reply.code(503).send({ status: 'closing' });
    const info = ctx.backend.describe();
    const log = statsOf(ctx.backend)?.log;
    const body = {
      status: info.failure === null ? 'ok' : 'failing',
      ...(info.failure !== null ? { failure: info.failure } : {}),
      kind: info.kind,
      items: info.items,
      dim: info.dim,
      metric: info.metric,
      backend: info.backend,
      gpuMode: info.gpuMode,
      writable: info.writable,
      writes: ctx.auth.writeAccess,
      ...(log?.seq !== undefined ? { seq: log.seq } : {}),
      uptimeSeconds: Math.round((performance.now() - ctx.startedAt) / 100) / 10,
    };
    return reply.code(info.failure === null ? 200 : 503).send(body);
  });

  app.get('/metrics', { onRequest: async (request) => ctx.auth.checkRead(request.headers.authorization) }, async (_request, reply) => {
    const text = await ctx.metrics.render();
    return reply.type(ctx.metrics.contentType).send(text);
  });
}

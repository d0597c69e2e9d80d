import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { checkInteger, fail } from '../../errors.js';
import type { ServeBackend } from '../backend.js';
import { HttpAuth, type HttpAuthOptions, type WriteAccess } from './auth.js';
import type { HttpContext, SearchDefaults } from './context.js';
import { errorReply } from './errors-to-status.js';
import { ServeMetrics } from './metrics.js';
import { registerItemRoutes } from './routes-items.js';
import { registerSearchRoutes } from './routes-search.js';
import { registerStatusRoutes } from './routes-status.js';
import { DEFAULT_LIMITS, type RequestLimits } from './schemas.js';

/** Options of startHttpServer and createHttpApp. */
export interface HttpServerOptions {
  /** Address to bind. Default '127.0.0.1' (this machine only); '0.0.0.0' or '::' to serve others. */
  host?: string;
  /** Port; 0 (the default) picks a free one (see HttpServer.port). */
  port?: number;
  /** Largest request body in bytes; a larger one is answered 413. Default 16 MiB. */
  bodyLimit?: number;
  /** Milliseconds a search may take before it is answered 504 and dropped if not yet started. 0: none. Default 10000. */
  deadlineMs?: number;
  /** Who may write and read (see HttpAuthOptions). Default: reads open, writes refused (403). */
  auth?: HttpAuthOptions;
  /** k (default 10), ef and rerank for requests that leave them out. */
  defaults?: Partial<SearchDefaults>;
  /** Bounds on one request (see RequestLimits). */
  limits?: Partial<RequestLimits>;
  /** The metrics to report (create them before the backend to feed its batcher's onBatch). Default: new ones. */
  metrics?: ServeMetrics;
  /** Where the server's own failures (500s) are reported, one line each. Default stderr. */
  log?: (line: string) => void;
}

/** A running server. */
export interface HttpServer {
  /** `http://HOST:PORT`. */
  readonly url: string;
  /** The address it listens on. */
  readonly host: string;
  /** The port it listens on (the free one chosen for port 0). */
  readonly port: number;
  /** Its metrics, as GET /metrics reports them. */
  readonly metrics: ServeMetrics;
  /** How writes are guarded: 'token', 'anonymous', or 'disabled' (refused with a 403). */
  readonly writeAccess: WriteAccess;
  /** The fastify instance (for inject() in tests, or more routes). */
  readonly app: FastifyInstance;
  /**
   * Stops taking requests (new ones are answered 503), waits for those in flight, closes the
   * listening socket. The backend stays open: close it afterwards. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * The HTTP front of `webannolo serve` over any ServeBackend (one index in this process, or a
 * gateway to shards): POST /search, POST and DELETE /items, POST /admin/snapshot, GET /health
 * and GET /metrics (see the route files for each one's contract). Starts listening and
 * resolves once it does.
 *
 * @example
 * const metrics = new ServeMetrics();
 * const backend = await LocalBackend.open('mnist.wann', { batcher: { onBatch: metrics.onBatch } });
 * const server = await startHttpServer(backend, { port: 8080, metrics, auth: { token } });
 * // ... on SIGTERM:
 * await server.close();
 * await backend.close();
 */
export async function startHttpServer(backend: ServeBackend, options: HttpServerOptions = {}): Promise<HttpServer> {
  const host = options.host ?? '127.0.0.1';
  const port = checkInteger('port', options.port ?? 0, 0, 65535);
  const { app, ctx } = createHttpApp(backend, options);
  try {
    await app.listen({ host, port });
  } catch (error) {
    await app.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') fail('INVALID_ARGUMENT', `port ${port} on ${host} is in use: pick another (--port), or 0 for a free one`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
      fail('INVALID_ARGUMENT', `cannot bind ${host}: not an address of this machine (--host)`);
    throw error;
  }
  const address = app.server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${shownHost}:${address.port}`,
    host: address.address,
    port: address.port,
    metrics: ctx.metrics,
    writeAccess: ctx.auth.writeAccess,
    app,
    close() {
      ctx.state.closing = true;
      closing ??= app.close();
      return closing;
    },
  };
}

/**
 * The fastify app with every route (`app`, not listening) and its context (`ctx`): what
 * startHttpServer listens with, and what tests can `inject()` requests into.
 */
export function createHttpApp(backend: ServeBackend, options: HttpServerOptions = {}): { app: FastifyInstance; ctx: HttpContext } {
  const bodyLimit = checkInteger('bodyLimit', options.bodyLimit ?? 16 * 1024 * 1024, 1);
  const deadlineMs = checkInteger('deadlineMs', options.deadlineMs ?? 10_000, 0);
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  for (const [name, value] of Object.entries(limits)) checkInteger(`limits.${name}`, value, 1);
  const defaults: SearchDefaults = { k: 10, ...options.defaults };
  checkInteger('defaults.k', defaults.k, 1, limits.maxK);
  const metrics = options.metrics ?? new ServeMetrics();
  metrics.watch(backend);
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const ctx: HttpContext = {
    backend,
    auth: new HttpAuth(options.auth),
    metrics,
    limits,
    defaults,
    deadlineMs,
    dim: backend.describe().dim,
    state: { closing: false },
    startedAt: performance.now(),
  };

  const app = Fastify({
    logger: false,
    bodyLimit,
    // Bodies are taken as sent: no type coercion ("10" is not a number), no silent removal of unknown fields.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  // JSON, or binary rows for /search; plain text is no body this server takes (415).
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.setErrorHandler((error, request, reply) => {
    const answer = errorReply(error);
    if (answer.internal)
      log(`webannolo serve: ${request.method} ${request.url}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return reply.code(answer.status).headers(answer.headers).send(answer.body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      error: `no route ${request.method} ${request.url.split('?')[0]}: this server answers POST /search, POST and DELETE /items, POST /admin/snapshot, GET /health, GET /metrics`,
    }),
  );
  // Answers sent while closing end their connection, so a keep-alive client does not hold the
  // server open until its idle timeout (close() waits for every connection to end).
  app.addHook('onSend', async (_request, reply) => {
    if (ctx.state.closing) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  registerSearchRoutes(app, ctx);
  registerItemRoutes(app, ctx);
  registerStatusRoutes(app, ctx);
  return { app, ctx };
}

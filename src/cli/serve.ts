import { readFile, stat } from 'node:fs/promises';
import { fail } from '../errors.js';
import { type HttpServerOptions, type ServeBackend, ServeMetrics, startHttpServer } from '../serve/index.js';
import { aboutFile, bool, type CliIo, type Command, type FlagSpec, num, type ParsedArgs, println, str, UsageError } from './args.js';
import { searchCommand } from './search.js';
import { LOCAL_BACKEND_FLAGS, type OpenedBackend, openLocalBackend } from './serve-local.js';
import { NATS_SERVE_FLAGS, natsServeMode, openGateway, runReplica } from './serve-nats.js';

// `webannolo serve` in three steps: the HTTP options from the flags, the backend from the flags
// (backendFromFlags: one index in this process; other kinds of backend add a branch there), and
// the server run until SIGTERM or SIGINT.

const searchFlag = (name: string, changes: Partial<FlagSpec> = {}): FlagSpec => ({
  ...searchCommand.flags.find((f) => f.name === name)!,
  ...changes,
});

const HTTP_FLAGS: readonly FlagSpec[] = [
  {
    name: 'host',
    type: 'string',
    placeholder: 'HOST',
    default: '127.0.0.1',
    help: 'address to listen on (0.0.0.0 or :: to serve other machines)',
  },
  { name: 'port', type: 'int', min: 0, max: 65535, default: 8080, help: 'port to listen on (0: a free one; the ready line says which)' },
  searchFlag('k', { help: 'neighbours per query for requests that give no k' }),
  searchFlag('ef', { default: 64, help: 'HNSW beam width for requests that give no ef (raised to k)' }),
  searchFlag('rerank', {
    help: 'quantized indexes (PQ, SQ8, f16, RaBitQ) that keep a re-ranking store: candidates re-scored by it, for requests that give no rerank',
  }),
  {
    name: 'deadline-ms',
    type: 'int',
    min: 0,
    default: 10000,
    help: 'a search not answered within this many ms is answered 504 (and dropped if its batch has not started); 0: no deadline',
  },
  {
    name: 'body-limit',
    type: 'int',
    min: 1024,
    default: 16 * 1024 * 1024,
    placeholder: 'BYTES',
    help: 'largest request body; larger ones are answered 413',
  },
  {
    name: 'auth-token-file',
    type: 'string',
    placeholder: 'FILE',
    help: 'file holding the bearer token writes (and with --auth-reads, reads) must send as Authorization: Bearer <token>',
  },
  {
    name: 'allow-anonymous-writes',
    type: 'boolean',
    help: 'take writes without a token (only where every client that can reach the port is trusted)',
  },
  { name: 'auth-reads', type: 'boolean', help: 'searches and /metrics need the token too (/health never does)' },
];

/** `webannolo serve`: the HTTP query service over an index. */
export const serveCommand: Command = {
  name: 'serve',
  summary: 'serve an index over HTTP: search, add and remove items (durably), health and Prometheus metrics',
  synopsis:
    '--index INDEX [--host 127.0.0.1] [--port 8080] [--auth-token-file FILE | --allow-anonymous-writes] [--auth-reads] [--backend cpu|gpu|auto] [--threads N] [--max-batch 256] [--max-wait-ms 0] [--max-queue 4096] [--deadline-ms 10000] [--body-limit BYTES] [--k 10] [--ef 64] [--rerank N] [--log false] [--fsync false] | --nats URL --shards N [--service NAME] (--index SHARD_FILE --shard I | --gateway [HTTP flags])',
  flags: [...HTTP_FLAGS, ...LOCAL_BACKEND_FLAGS, ...NATS_SERVE_FLAGS],
  notes: [
    'When it is ready, stdout gets one JSON line: {"listening":"http://HOST:PORT","items","dim","metric","kind","backend","writable","writes","seq"?,"replayed"?,...}.',
    'Routes: POST /search {"vector":[...],"k"?,"ef"?,"rerank"?,"filter"?:{"label":N}|{"labels":[...]}} -> {"keys","scores"}; {"vectors":[[...],...]} -> one row per query; an application/octet-stream body of little-endian float32 rows (k, ef, rerank, label, labels in the query string).',
    'POST /items {"keys","vectors","labels"?,"upsert"?} and DELETE /items {"keys"} answer {"seq","items"} once the change is durable; POST /admin/snapshot writes a snapshot. GET /health, GET /metrics (Prometheus).',
    'Writes need Authorization: Bearer <token> (--auth-token-file); without a token file or --allow-anonymous-writes they are answered 403. Errors are one JSON line {"error","code"?,"field"?}: 400 bad input (naming the field), 401/403 auth, 405 read-only index, 413 body too large, 503 overloaded or closing (Retry-After), 504 deadline passed.',
    'SIGTERM or SIGINT: stop taking requests, finish those in flight, flush the log, exit 0.',
  ].join('\n'),
  async run(args, io) {
    // A shard replica answers on NATS only; the gateway serves HTTP in front of the shards.
    if (natsServeMode(args) === 'replica') return runReplica(args, io);
    const http = await httpOptionsFromFlags(args, io);
    const metrics = new ServeMetrics();
    const opened = await backendFromFlags(args, io, metrics);
    return serveUntilSignal(opened, { ...http, metrics }, io);
  },
};

/**
 * The backend the flags ask for. One index in this process (LocalBackend) is the only kind
 * here; another kind (a gateway to shards) is a branch on its own flag, returning its backend
 * and its ready-line fields the same way.
 */
export async function backendFromFlags(args: ParsedArgs, io: CliIo, metrics: ServeMetrics): Promise<OpenedBackend> {
  if (natsServeMode(args) === 'gateway')
    return { backend: await openGateway(args, io), ready: { nats: str(args, 'nats'), shards: num(args, 'shards') } };
  return openLocalBackend(args, io, metrics);
}

/** The server's options from the flags: address, limits, defaults, and who may write and read. */
export async function httpOptionsFromFlags(args: ParsedArgs, io: CliIo): Promise<HttpServerOptions> {
  const tokenFile = str(args, 'auth-token-file', true);
  const anonymous = bool(args, 'allow-anonymous-writes');
  const reads = bool(args, 'auth-reads');
  if (tokenFile !== undefined && anonymous)
    throw new UsageError('serve: give --auth-token-file or --allow-anonymous-writes, not both (with a token, writes need it)');
  if (reads && tokenFile === undefined)
    throw new UsageError('serve: --auth-reads needs --auth-token-file FILE (the token reads must send)');
  const token = tokenFile === undefined ? null : await readToken(tokenFile, io);
  const rerank = num(args, 'rerank', true);
  return {
    host: str(args, 'host'),
    port: num(args, 'port'),
    bodyLimit: num(args, 'body-limit'),
    deadlineMs: num(args, 'deadline-ms'),
    auth: { token, allowAnonymousWrites: anonymous, reads },
    defaults: { k: num(args, 'k'), ef: num(args, 'ef'), ...(rerank !== undefined ? { rerank } : {}) },
  };
}

/** The token in `path`: its first line, without surrounding whitespace. */
async function readToken(path: string, io: CliIo): Promise<string> {
  const text = await aboutFile(path, () => readFile(path, 'utf8'));
  const token = (text.split(/\r?\n/)[0] ?? '').trim();
  if (token.length === 0) fail('INVALID_ARGUMENT', `${path}: the auth token file is empty (its first line is the token)`);
  if (/\s/.test(token)) fail('INVALID_ARGUMENT', `${path}: the auth token holds whitespace; a bearer token is one word`);
  if (token.length < 16)
    fail('INVALID_ARGUMENT', `${path}: the auth token has ${token.length} characters; use at least 16 (say, openssl rand -hex 32)`);
  const { mode } = await stat(path);
  if ((mode & 0o077) !== 0)
    println(io.stderr, `webannolo serve: warning: ${path} can be read by other users (chmod 600 it): it holds the token`);
  return token;
}

/** Serves `opened` until SIGTERM or SIGINT, then finishes what is in flight, closes the backend, and returns 0. */
async function serveUntilSignal(opened: OpenedBackend, options: HttpServerOptions, io: CliIo): Promise<number> {
  const { backend } = opened;
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  try {
    server = await startHttpServer(backend, { ...options, log: (line) => println(io.stderr, line) });
  } catch (error) {
    await backend.close();
    throw error;
  }
  const stopping = untilSignal();
  println(io.stdout, JSON.stringify(readyLine(server.url, backend, server.writeAccess, opened.ready)));
  const signal = await stopping;
  println(io.stderr, `webannolo serve: ${signal}: finishing the requests in flight, then closing`);
  await server.close();
  await backend.close();
  const info = backend.describe();
  println(io.stdout, JSON.stringify({ stopped: signal, items: info.items }));
  return 0;
}

function readyLine(url: string, backend: ServeBackend, writes: string, extra: Record<string, unknown>): Record<string, unknown> {
  const info = backend.describe();
  return {
    listening: url,
    kind: info.kind,
    items: info.items,
    dim: info.dim,
    metric: info.metric,
    backend: info.backend,
    writable: info.writable,
    writes,
    ...extra,
  };
}

/** Resolves with the first SIGTERM or SIGINT; a second one ends the process the default way (no graceful wait). */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(signal);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

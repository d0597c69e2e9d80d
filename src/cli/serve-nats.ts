import type { QueryBatcherOptions } from '../batching/batcher-options.js';
import { fail } from '../errors.js';
import type { Backend } from '../gpu/select.js';
import { requestGpuQuietly } from '../node/quiet-gpu.js';
import type { DurableOptions } from '../serve/durable/durable-index.js';
import { GatewayBackend } from '../serve/nats/gateway-backend.js';
import { LocalShardIndex, readShardAnnotations } from '../serve/nats/shard-index.js';
import { ShardReplica } from '../serve/nats/shard-replica.js';
import { connectNats } from '../serve/nats/sharded-client.js';
import { changesStream } from '../serve/nats/subjects.js';
import { aboutFile, type CliIo, type FlagSpec, num, type ParsedArgs, println, str, UsageError } from './args.js';
import { LOCAL_BACKEND_FLAGS } from './serve-local.js';

/**
 * `webannolo serve` on NATS: the flags and what they start. With --nats and --index a
 * replica of one shard (`--shard I --shards N`; processes serving the same shard are replicas
 * of it: NATS balances the shard's searches over them and hands a dead one's share to the
 * others); with --nats and --gateway the HTTP API in front of the whole sharded service
 * (GatewayBackend: reads scatter to every shard and merge, writes go to the owning shard's
 * change log and are acknowledged once applied).
 *
 * A replica takes the local index's search flags (--backend, --threads, --max-batch,
 * --max-wait-ms, --max-queue) and its snapshot flags (--snapshot-every, --snapshot-interval-ms:
 * a snapshot writes the shard file with the log position it holds, so a restart replays only
 * the changes after it); it serves no HTTP (the gateway does). The gateway takes none of the
 * index flags.
 */

/** Local-index flags a replica takes: search batching and where it runs, and snapshots. */
const REPLICA_INDEX_FLAGS = new Set([
  'index',
  'backend',
  'gpu-mode',
  'width',
  'threads',
  'max-batch',
  'max-wait-ms',
  'max-queue',
  'snapshot-every',
  'snapshot-interval-ms',
]);

export const NATS_SERVE_FLAGS: readonly FlagSpec[] = [
  {
    name: 'nats',
    type: 'string',
    placeholder: 'URL',
    help: 'serve on NATS (server URLs, comma-separated): a shard replica with --index, the HTTP gateway with --gateway',
  },
  {
    name: 'service',
    type: 'string',
    placeholder: 'NAME',
    help: 'with --nats: the service name, prefix of its subjects (default webannolo)',
  },
  { name: 'shard', type: 'int', min: 0, max: 1023, placeholder: 'I', help: 'with --nats --index: which shard the index file is (0..N-1)' },
  { name: 'shards', type: 'int', min: 1, max: 1024, placeholder: 'N', help: 'with --nats: how many shards the service has' },
  { name: 'gateway', type: 'boolean', help: 'with --nats: serve the HTTP API in front of the sharded service (no --index)' },
  { name: 'timeout-ms', type: 'int', min: 1, placeholder: 'MS', help: 'with --gateway: wait per attempt for a shard (default 2000)' },
  {
    name: 'retries',
    type: 'int',
    min: 0,
    max: 100,
    placeholder: 'N',
    help: 'with --gateway: attempts after the first for a shard that did not answer (default 2)',
  },
  {
    name: 'allow-partial',
    type: 'boolean',
    help: 'with --gateway: searches answer without shards that do not answer (marked partial) instead of failing',
  },
  {
    name: 'read-only',
    type: 'boolean',
    help: 'with --nats --index: serve searches only, without following the change log (no JetStream needed)',
  },
];

/** What `serve` runs, from its flags: a local index, a shard replica, or the gateway. */
export function natsServeMode(args: ParsedArgs): 'local' | 'replica' | 'gateway' {
  const only = (f: string, where: string) => {
    if (args.given.has(f)) throw new UsageError(`serve: --${f} only applies ${where}`);
  };
  if (!args.given.has('nats')) {
    for (const f of NATS_SERVE_FLAGS) only(f.name, 'with --nats');
    return 'local';
  }
  if (!args.given.has('shards')) throw new UsageError('serve: --nats needs --shards N (the shards of the service)');
  if (args.given.has('gateway') && args.values.get('gateway') === true) {
    if (args.given.has('index')) throw new UsageError('serve: --gateway serves the sharded service: leave out --index');
    only('shard', 'to a shard replica (--nats --index)');
    only('read-only', 'to a shard replica (--nats --index)');
    for (const f of LOCAL_BACKEND_FLAGS) if (f.name !== 'index') only(f.name, 'to an index (a local one, or a shard replica)');
    return 'gateway';
  }
  if (!args.given.has('index')) throw new UsageError('serve: --nats needs --index SHARD_FILE (a replica) or --gateway');
  if (!args.given.has('shard')) throw new UsageError('serve: --nats --index needs --shard I (which shard the file is)');
  for (const f of ['timeout-ms', 'retries', 'allow-partial']) only(f, 'with --gateway');
  for (const f of LOCAL_BACKEND_FLAGS)
    if (!REPLICA_INDEX_FLAGS.has(f.name)) only(f.name, "to a local index (a replica's changes come from its shard's JetStream stream)");
  if (args.values.get('read-only') === true)
    for (const f of ['snapshot-every', 'snapshot-interval-ms']) only(f, 'to a replica that follows the change log (leave out --read-only)');
  return 'replica';
}

/** Opens the gateway's backend for `serve --nats URL --gateway`; the caller serves HTTP on it. */
export function openGateway(args: ParsedArgs, io: CliIo): Promise<GatewayBackend> {
  return GatewayBackend.open({
    servers: str(args, 'nats'),
    service: str(args, 'service', true) ?? 'webannolo',
    shards: num(args, 'shards'),
    ...(args.given.has('timeout-ms') ? { timeoutMs: num(args, 'timeout-ms') } : {}),
    ...(args.given.has('retries') ? { retries: num(args, 'retries') } : {}),
    allowPartial: args.values.get('allow-partial') === true,
    onLog: (line) => println(io.stderr, line),
  });
}

/** A running shard replica and how to stop it. */
export interface RunningReplica {
  readonly replica: ShardReplica;
  readonly index: LocalShardIndex;
  /** Resolves when the NATS connection ends for good (it reconnects on its own until then). */
  readonly disconnected: Promise<void>;
  close(): Promise<void>;
}

/** Starts `serve --nats URL --index SHARD_FILE --shard I --shards N`: returns once it answers searches. */
export async function startReplica(args: ParsedArgs, io: CliIo): Promise<RunningReplica> {
  const path = str(args, 'index');
  const service = str(args, 'service', true) ?? 'webannolo';
  const shard = num(args, 'shard');
  const shards = num(args, 'shards');
  if (shard >= shards) throw new UsageError(`serve: --shard ${shard} is not below --shards ${shards}`);
  const note = await aboutFile(path, () => readShardAnnotations(path));
  if ((note.shard !== undefined && note.shard !== shard) || (note.shards !== undefined && note.shards !== shards))
    fail('INVALID_ARGUMENT', `${path} is shard ${note.shard} of ${note.shards}, not shard ${shard} of ${shards}`);
  const follow = args.values.get('read-only') !== true;
  const externalLog = follow ? changesStream({ service, shards }, shard) : undefined;
  const durable: DurableOptions = {
    ...(args.given.has('snapshot-every') ? { snapshotEveryChanges: num(args, 'snapshot-every') } : {}),
    ...(args.given.has('snapshot-interval-ms') ? { snapshotIntervalMs: num(args, 'snapshot-interval-ms') } : {}),
  };
  const batcher = await replicaBatcher(args, io);
  const index = await aboutFile(path, () =>
    LocalShardIndex.open(path, externalLog === undefined ? { batcher } : { externalLog, durable, batcher }),
  );
  let nc: Awaited<ReturnType<typeof connectNats>> | null = null;
  try {
    nc = await connectNats(str(args, 'nats'), `webannolo ${service} shard ${shard}`);
    const replica = await ShardReplica.start({
      nc,
      service,
      shards,
      shard,
      index,
      followChanges: follow,
      onLog: (line) => println(io.stderr, line),
    });
    const conn = nc;
    const info = replica.info();
    println(
      io.stdout,
      `serving ${path} as shard ${shard} of ${shards} of service ${service} on ${str(args, 'nats')}: ${info.items} items, change log at ${info.appliedSeq}`,
    );
    println(
      io.stdout,
      JSON.stringify({ service, shard, shards, items: info.items, appliedSeq: info.appliedSeq, replica: info.replica, index: path }),
    );
    return {
      replica,
      index,
      disconnected: conn.closed().then(() => {}),
      close: async () => {
        await replica.close();
        if (!conn.isClosed()) await conn.drain().catch(() => {});
        await index.close();
      },
    };
  } catch (err) {
    if (nc && !nc.isClosed()) await nc.close();
    await index.close();
    throw err;
  }
}

/** The replica's query batcher from the local index's flags (their defaults as `serve --index` has them). */
async function replicaBatcher(args: ParsedArgs, io: CliIo): Promise<QueryBatcherOptions> {
  const backend = str(args, 'backend') as Backend;
  const gpuMode = str(args, 'gpu-mode', true);
  if (gpuMode !== undefined && backend === 'cpu') throw new UsageError('serve: --gpu-mode needs --backend gpu or auto');
  const batchParams: NonNullable<QueryBatcherOptions['batchParams']> = { backend };
  if (backend !== 'cpu') {
    const { gpu, reason } = await requestGpuQuietly();
    if (gpu === null && backend === 'gpu') fail('NO_GPU', `${reason}: --backend gpu needs one, or use --backend auto`);
    if (gpu === null) println(io.stderr, `webannolo serve: ${reason}: batches run on the CPU`);
    batchParams.gpu = gpu;
  }
  if (gpuMode !== undefined) batchParams.gpuMode = gpuMode as NonNullable<typeof batchParams.gpuMode>;
  const width = num(args, 'width', true);
  if (width !== undefined) batchParams.width = width;
  const threads = num(args, 'threads', true);
  if (threads !== undefined) batchParams.threads = threads;
  return { maxBatch: num(args, 'max-batch'), maxWaitMs: num(args, 'max-wait-ms'), maxQueue: num(args, 'max-queue'), batchParams };
}

/** Runs a shard replica until SIGINT or SIGTERM (exit 0), or until its NATS connection is lost for good (exit 1). */
export async function runReplica(args: ParsedArgs, io: CliIo): Promise<number> {
  const running = await startReplica(args, io);
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => {
    const on = (s: NodeJS.Signals) => resolve(s);
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
    running.disconnected.then(() => resolve(null));
  });
  await running.close();
  if (signal === null) {
    println(io.stderr, 'webannolo: error: the NATS connection was lost for good');
    return 1;
  }
  return 0;
}

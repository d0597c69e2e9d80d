import { BATCHER_DEFAULTS, type BatchBackendParams } from '../batching/batcher-options.js';
import { fail } from '../errors.js';
import type { Backend } from '../gpu/select.js';
import { requestGpuQuietly } from '../node/quiet-gpu.js';
import { LocalBackend, type ServeBackend, type ServeMetrics } from '../serve/index.js';
import type { GpuMode } from '../types.js';
import { aboutFile, bool, type CliIo, type FlagSpec, num, type ParsedArgs, println, round, secondsSince, str, UsageError } from './args.js';
import { searchCommand } from './search.js';

/**
 * `webannolo serve` over one index file in this process: the flags that say how it is loaded,
 * searched (batching, CPU or GPU, threads) and changed (the write-ahead log), and the step that
 * opens it as a LocalBackend.
 */

/** A flag of `search`, with serve's own help text where its meaning differs. */
function searchFlag(name: string, changes: Partial<FlagSpec> = {}): FlagSpec {
  const spec = searchCommand.flags.find((f) => f.name === name);
  if (!spec) throw new Error(`search has no flag --${name}`);
  return { ...spec, ...changes };
}

export const LOCAL_BACKEND_FLAGS: readonly FlagSpec[] = [
  { name: 'index', type: 'string', placeholder: 'INDEX', help: 'index file written by `build` (an hnsw index with keys takes writes)' },
  searchFlag('rerank-from', {
    help: 'where re-ranking vectors are read from (--rerank): loaded into memory, or read from the index file per query',
  }),
  searchFlag('backend', {
    help: 'where batches run: cpu, gpu (WebGPU; an error without an adapter), or auto (the GPU for batches it runs faster; the CPU without an adapter)',
  }),
  searchFlag('gpu-mode'),
  searchFlag('width'),
  searchFlag('threads', { help: 'worker threads sharing each batch on the CPU (default: every core)' }),
  { name: 'max-batch', type: 'int', min: 1, max: 65536, default: BATCHER_DEFAULTS.maxBatch, help: 'queries per batch at most' },
  {
    name: 'max-wait-ms',
    type: 'int',
    min: 0,
    max: 60000,
    default: BATCHER_DEFAULTS.maxWaitMs,
    help: 'how long a batch waits for more queries after its first (0: the queries that arrived together)',
  },
  {
    name: 'max-queue',
    type: 'int',
    min: 1,
    default: BATCHER_DEFAULTS.maxQueue,
    help: 'searches that may wait at once; more are answered 503 with Retry-After',
  },
  { name: 'log', type: 'boolean', default: true, help: 'keep a write-ahead log beside the index (--log false: serve it read-only)' },
  {
    name: 'fsync',
    type: 'boolean',
    default: true,
    help: 'fsync the log before acknowledging a write (--fsync false survives crashes of the process, not of the machine)',
  },
  {
    name: 'snapshot-every',
    type: 'int',
    min: 0,
    placeholder: 'N',
    help: 'write a snapshot after N changes (default 10000; 0: not by count)',
  },
  {
    name: 'snapshot-interval-ms',
    type: 'int',
    min: 0,
    placeholder: 'MS',
    help: 'write a snapshot this often when changes arrived (default 600000; 0: not by time)',
  },
];

/** A backend ready to serve, and what the ready line should say about it. */
export interface OpenedBackend {
  readonly backend: ServeBackend;
  readonly ready: Record<string, unknown>;
}

/** Opens the index of `--index` as a LocalBackend, its batches fed to `metrics`. */
export async function openLocalBackend(args: ParsedArgs, io: CliIo, metrics: ServeMetrics): Promise<OpenedBackend> {
  const indexPath = str(args, 'index', true);
  if (indexPath === undefined) throw new UsageError('serve: give --index INDEX, the index file to serve');
  const backendChoice = str(args, 'backend') as Backend;
  const gpuMode = str(args, 'gpu-mode', true) as GpuMode | undefined;
  if (gpuMode !== undefined && backendChoice === 'cpu') throw new UsageError('serve: --gpu-mode needs --backend gpu or auto');
  const useLog = bool(args, 'log');
  for (const name of ['fsync', 'snapshot-every', 'snapshot-interval-ms'])
    if (!useLog && args.given.has(name)) throw new UsageError(`serve: --${name} applies to the write-ahead log (leave out --log false)`);

  const batchParams: BatchBackendParams = { backend: backendChoice };
  const ready: Record<string, unknown> = {};
  if (backendChoice !== 'cpu') {
    const { gpu, reason } = await requestGpuQuietly();
    if (gpu === null && backendChoice === 'gpu')
      fail(
        'NO_GPU',
        `${reason}: --backend gpu needs one (without a GPU: install chromium and libvulkan1 and set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json), or use --backend auto`,
      );
    if (gpu === null) println(io.stderr, `webannolo serve: ${reason}: batches run on the CPU`);
    // An explicit null keeps the library from looking for the GPU again (and Dawn from loading).
    batchParams.gpu = gpu;
    ready['device'] = gpu?.description ?? null;
  }
  if (gpuMode !== undefined) batchParams.gpuMode = gpuMode;
  const width = num(args, 'width', true);
  if (width !== undefined) batchParams.width = width;
  const threads = num(args, 'threads', true);
  if (threads !== undefined) batchParams.threads = threads;

  const log = useLog
    ? {
        fsync: bool(args, 'fsync'),
        ...(args.given.has('snapshot-every') ? { snapshotEveryChanges: num(args, 'snapshot-every') } : {}),
        ...(args.given.has('snapshot-interval-ms') ? { snapshotIntervalMs: num(args, 'snapshot-interval-ms') } : {}),
      }
    : false;
  const loadStart = performance.now();
  const backend = await aboutFile(indexPath, () =>
    LocalBackend.open(indexPath, {
      batcher: {
        maxBatch: num(args, 'max-batch'),
        maxWaitMs: num(args, 'max-wait-ms'),
        maxQueue: num(args, 'max-queue'),
        batchParams,
        onBatch: metrics.onBatch,
      },
      log,
      load: { rerank: str(args, 'rerank-from') as 'memory' | 'disk' },
    }),
  );
  const logStats = backend.stats().log;
  return {
    backend,
    ready: {
      index: indexPath,
      ...ready,
      loadSeconds: round(secondsSince(loadStart)),
      ...(logStats ? { seq: logStats.seq, replayed: logStats.replayed, tornBytes: logStats.tornBytes } : { log: null }),
    },
  };
}

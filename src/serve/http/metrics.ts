import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { BatchInfo, QueryBatcherStats } from '../../batching/batcher-options.js';
import type { ServeBackend } from '../backend.js';

/**
 * The Prometheus metrics of one server, in a registry of its own (never prom-client's global
 * one, so two servers in a process, or a server in an application that has its own metrics,
 * do not mix): requests by route and status and their latency; the query batcher's batch
 * sizes, waits and run times (fed by its onBatch callback: create the metrics before the
 * backend, and hand `onBatch` to it); the queue depth and the batcher's counters, the items,
 * the backend and GPU mode, GPU round trips and the write-ahead log's position and fsyncs,
 * read from the backend when Prometheus scrapes; for a gateway to shards, its requests to the
 * shards (attempts, retries, shards missing, partial answers) and its write parts by outcome.
 */
export class ServeMetrics {
  /** The prom-client registry holding this server's metrics. */
  readonly registry = new Registry();
  private backend: ServeBackend | null = null;
  private roundTripsFromBatches = 0;
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly latency: Histogram<'method' | 'route'>;
  private readonly batchSize: Histogram;
  private readonly batchWait: Histogram;
  private readonly batchRun: Histogram;
  private readonly batches: Counter<'backend' | 'outcome'>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'webannolo_http_requests_total',
      help: 'HTTP requests answered, by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'webannolo_http_request_duration_seconds',
      help: 'Time from a request arriving to its answer being sent, by method and route',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'webannolo_search_batch_size',
      help: 'Queries per batch the query batcher ran',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers,
    });
    const timeBuckets = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
    this.batchWait = new Histogram({
      name: 'webannolo_search_batch_wait_seconds',
      help: "How long each batch's oldest query waited in the queue",
      buckets: timeBuckets,
      registers,
    });
    this.batchRun = new Histogram({
      name: 'webannolo_search_batch_run_seconds',
      help: 'How long each batch ran',
      buckets: timeBuckets,
      registers,
    });
    this.batches = new Counter({
      name: 'webannolo_search_batches_total',
      help: 'Batches run, by the backend that ran them (cpu, gpu) and outcome (ok, error)',
      labelNames: ['backend', 'outcome'],
      registers,
    });
    this.scrapedMetrics(registers);
  }

  /** Give this to the QueryBatcher (LocalBackendOptions.batcher.onBatch): one call per batch. */
  readonly onBatch = (info: BatchInfo): void => {
    this.batchSize.observe(info.size);
    this.batchWait.observe(info.waitMs / 1000);
    this.batchRun.observe(info.runMs / 1000);
    const backend = info.result?.backend ?? 'unknown';
    this.batches.inc({ backend, outcome: info.error === undefined ? 'ok' : 'error' });
    this.roundTripsFromBatches += info.result?.roundTrips ?? 0;
  };

  /** The backend whose state the gauges report at each scrape. */
  watch(backend: ServeBackend): void {
    this.backend = backend;
  }

  /** One answered request (route: the route's pattern, never the raw URL, so the label set stays small). */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.latency.observe({ method, route }, seconds);
  }

  /** The text Prometheus scrapes. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** The content type of metrics(): Prometheus text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Metrics read from the backend when scraped. */
  private scrapedMetrics(registers: Registry[]): void {
    const describe = () => {
      try {
        return this.backend?.describe() ?? null;
      } catch {
        return null;
      }
    };
    const stats = () => statsOf(this.backend);
    new Gauge({
      name: 'webannolo_ready',
      help: '1 when the backend can serve (no failure reported), else 0',
      registers,
      collect() {
        const info = describe();
        this.set(info !== null && info.failure === null ? 1 : 0);
      },
    });
    new Gauge({
      name: 'webannolo_items',
      help: 'Live items in the index (over every shard for a gateway)',
      registers,
      collect() {
        const info = describe();
        if (info) this.set(info.items);
      },
    });
    new Gauge({
      name: 'webannolo_backend_info',
      help: 'Always 1; the labels say what serves: kind (local, gateway), backend (cpu, gpu, auto), gpu_mode last used, metric',
      labelNames: ['kind', 'backend', 'gpu_mode', 'metric'],
      registers,
      collect() {
        this.reset();
        const info = describe();
        if (info) this.set({ kind: info.kind, backend: info.backend, gpu_mode: info.gpuMode, metric: info.metric }, 1);
      },
    });
    new Gauge({
      name: 'webannolo_search_queue_depth',
      help: 'Searches waiting for a batch',
      registers,
      collect() {
        const queued = stats()?.batcher?.queued;
        if (queued !== undefined) this.set(queued);
      },
    });
    new Gauge({
      name: 'webannolo_search_batches_running',
      help: 'Batches running now',
      registers,
      collect() {
        const running = stats()?.batcher?.running;
        if (running !== undefined) this.set(running);
      },
    });
    new Counter({
      name: 'webannolo_search_calls_total',
      help: 'Searches the batcher settled or refused: searched, failed, refused (invalid, overloaded, closed), overloaded, aborted',
      labelNames: ['outcome'],
      registers,
      collect() {
        const b = stats()?.batcher;
        if (!b) return;
        this.reset();
        for (const outcome of ['searched', 'failed', 'refused', 'overloaded', 'aborted'] as const)
          if (b[outcome] !== undefined) this.inc({ outcome }, b[outcome]);
      },
    });
    const fromBatches = () => this.roundTripsFromBatches;
    new Counter({
      name: 'webannolo_gpu_round_trips_total',
      help: 'GPU submit-and-read-back round trips of the searches',
      registers,
      collect() {
        this.reset();
        this.inc(stats()?.roundTrips ?? fromBatches());
      },
    });
    logMetrics(registers, stats);
    shardMetrics(registers, stats);
  }
}

/** A gateway's requests to its shards and its write parts, when the backend counts them. */
function shardMetrics(registers: Registry[], stats: () => BackendStatsLike | null): void {
  const counter = (name: string, help: string, read: (s: BackendStatsLike) => number | undefined) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        const s = stats();
        const value = s ? read(s) : undefined;
        if (value === undefined) return;
        this.reset();
        this.inc(value);
      },
    });
  counter('webannolo_shard_requests_total', 'Requests sent to shards (every attempt)', (s) => s.shards?.attempts);
  counter(
    'webannolo_shard_retries_total',
    'Shard requests sent again (no reply, no replica, a replica behind the log)',
    (s) => s.shards?.retries,
  );
  counter('webannolo_shard_missing_total', 'Times a shard gave no usable reply after every attempt', (s) => s.shards?.missing);
  counter('webannolo_partial_answers_total', 'Searches answered without some shards (allow-partial)', (s) => s.shards?.partial);
  new Counter({
    name: 'webannolo_shard_write_parts_total',
    help: 'Parts of writes (one per shard a write touches) by outcome: applied, refused by the shard, unknown (no replica said)',
    labelNames: ['outcome'],
    registers,
    collect() {
      const writes = stats()?.writes;
      if (!writes) return;
      this.reset();
      for (const outcome of ['applied', 'refused', 'unknown'] as const)
        if (writes[outcome] !== undefined) this.inc({ outcome }, writes[outcome]);
    },
  });
}

/** The write-ahead log's position, size and fsyncs, when the backend keeps one. */
function logMetrics(registers: Registry[], stats: () => BackendStatsLike | null): void {
  const logGauge = (name: string, help: string, read: (log: LogStatsLike) => number | undefined) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const log = stats()?.log;
        const value = log ? read(log) : undefined;
        if (value !== undefined) this.set(value);
      },
    });
  logGauge('webannolo_log_seq', 'Sequence number of the last change applied (durable once acknowledged)', (l) => l.seq);
  logGauge('webannolo_log_bytes', 'Bytes in the log segments kept on disk', (l) => l.log?.bytes);
  logGauge('webannolo_snapshot_seq', 'The log position the last snapshot holds everything up to', (l) => l.snapshotSeq);
  new Counter({
    name: 'webannolo_log_fsyncs_total',
    help: 'fsync calls of the write-ahead log',
    registers,
    collect() {
      const fsyncs = stats()?.log?.log?.fsyncs;
      if (fsyncs === undefined) return;
      this.reset();
      this.inc(fsyncs);
    },
  });
}

/** LocalBackendStats.log (DurableStats), every part optional. */
interface LogStatsLike {
  readonly seq?: number;
  readonly snapshotSeq?: number;
  readonly replayed?: number;
  readonly log?: { readonly bytes?: number; readonly fsyncs?: number };
}

/** What a backend may report beyond ServeBackend (LocalBackend's stats()); every part optional, so any backend may offer a part of it. */
export interface BackendStatsLike {
  /** The query batcher's counters. */
  readonly batcher?: Partial<QueryBatcherStats>;
  /** The write-ahead log's figures; null without a log. */
  readonly log?: LogStatsLike | null;
  /** GPU round trips so far. */
  readonly roundTrips?: number;
  /** A gateway's requests to its shards (GatewayBackend.stats()). */
  readonly shards?: {
    /** Requests sent to a shard's queue group, every attempt counted. */
    readonly attempts?: number;
    /** Attempts that repeated an earlier one (no reply, no replica, or one behind the log). */
    readonly retries?: number;
    /** Times a shard gave no usable reply after every attempt. */
    readonly missing?: number;
    /** Searches answered without some shards (allowPartial). */
    readonly partial?: number;
  };
  /** A gateway's write parts by outcome. */
  readonly writes?: {
    /** Write parts a replica applied. */
    readonly applied?: number;
    /** Write parts a replica refused (a duplicate or unknown key). */
    readonly refused?: number;
    /** Write parts durable in the log (or perhaps so) whose outcome no replica told. */
    readonly unknown?: number;
  };
}

/** The backend's stats() when it has one (and it does not throw). */
export function statsOf(backend: ServeBackend | null): BackendStatsLike | null {
  const stats = (backend as { stats?: unknown } | null)?.stats;
  if (typeof stats !== 'function') return null;
  try {
    return (stats.call(backend) as BackendStatsLike | null) ?? null;
  } catch {
    return null;
  }
}

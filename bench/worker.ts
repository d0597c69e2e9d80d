/**
 * Benchmarks one library on one dataset in a fresh process (forked by run.ts with
 * --expose-gc), so that memory deltas, JIT state and native allocators of one library do not
 * leak into another's numbers. Sends a LibResult to the parent.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchArgs, DatasetName, LibName } from './args.js';
import { loadDataset, metricOf } from './datasets.js';
import { type ModeResult, memoryAfterGc, recallAtK, sweep, sweepInterleaved } from './measure.js';
import { isWebannolo, makeAdapter, type PqMemory, type PqQuantizeInfo } from './peers.js';

export interface WorkerJob {
  dataset: DatasetName;
  lib: LibName;
  args: BenchArgs;
}

export interface LibResult {
  lib: LibName;
  dataset: { description: string; metric: string; n: number; nq: number; dim: number; gtSource: string };
  describe: string;
  buildMs: number;
  memory: {
    /**
     * Resident memory the built index adds to a process that no longer holds the input
     * vectors: rss(after build, base dropped) - rss(base loaded) + bytes of the base vectors,
     * both RSS readings after a full GC.
     */
    rssDeltaBytes: number;
    /**
     * rssDeltaBytes minus the growth of V8 heap pages that are committed but hold no live
     * object after the GC (slack left by temporary JS garbage such as hnswlib-node's number[]
     * conversions); live JS objects and ArrayBuffers stay counted.
     */
    rssNetBytes: number;
    heapTotalDeltaBytes: number;
    heapUsedDeltaBytes: number;
    externalDeltaBytes: number;
    /** The library's own figure (webannolo: graphBytes + storeBytes). */
    selfReportedBytes: number | null;
    /** Size of the serialized index file (peers: writeIndex / save). */
    savedBytes: number | null;
  };
  modes: ModeResult[];
  /** The product-quantization part (webannolo, unless --no-pq). */
  pq?: PqResult;
}

export interface PqResult extends PqQuantizeInfo {
  rerank: number;
  /**
   * Resident memory that quantize() added (RSS after a full GC, before and after training and
   * encoding, the plain index kept): the JS codes, the codebooks, and their copies in the
   * WebAssembly memory with its per-query lookup-table slots.
   */
  rssDeltaBytes: number;
  /**
   * Growth of process.memoryUsage().external across quantize() (after full GCs): the bytes
   * actually allocated outside the JS heap, i.e. the JS codes and codebooks arrays plus the
   * WebAssembly memory (codes and codebooks copied there, per-query lookup-table slots).
   * Deterministic, unlike RSS, which the GC and the allocator move by whole pages.
   */
  externalDeltaBytes: number;
  memory: PqMemory;
  /** Exhaustive scan over the codes (FlatIndex over the PQ store): one point, ef = 0. */
  flat: ModeResult;
  /** plain HNSW, PQ-HNSW, PQ+rerank R, PQ+rerank max(ef,R): one sweep, the modes taking turns pass by pass (sweepInterleaved). */
  modes: ModeResult[];
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]!) as WorkerJob;
  const { args, lib } = job;
  const log = (s: string) => process.stderr.write(`[${job.dataset}/${lib}] ${s}\n`);
  const metric = metricOf(job.dataset);
  const adapter = await makeAdapter(lib, {
    metric,
    m: args.m,
    efConstruction: args.efConstruction,
    seed: args.seed,
    batchSize: args.batchSize,
  });

  // Memory: RSS with the dataset loaded (after a full GC), then build, drop our references to
  // the base vectors, GC again. index = after - mid + dataBytes: a library that copies the
  // vectors into its index is charged for its copy, one that keeps referencing the caller's
  // array is charged for that array (it can no longer be freed), and the caller's copy is
  // free again either way.
  let loaded: ReturnType<typeof loadDataset> | null = loadDataset(job.dataset, args);
  const n = loaded.base.size;
  const dataBytes = loaded.base.byteLength;
  const mid = await memoryAfterGc();
  let lastPct = -1;
  const buildMs = await adapter.build(loaded.base, (done) => {
    const pct = Math.floor((done / n) * 10) * 10;
    if (pct !== lastPct && pct > 0) {
      lastPct = pct;
      if (process.stderr.isTTY) process.stderr.write(`\r[${job.dataset}/${lib}] building ${pct}%`);
      else if (pct % 50 === 0) log(`building ${pct}%`);
    }
  });
  loaded = null;
  const after = await memoryAfterGc();
  if (process.stderr.isTTY) process.stderr.write('\n');
  const rssDelta = after.rss - mid.rss + dataBytes;
  log(`built in ${(buildMs / 1000).toFixed(1)} s, index rss ${(rssDelta / 2 ** 20).toFixed(1)} MiB`);
  const ds = loadDataset(job.dataset, args); // again, for the queries and the exact distances of recall

  const dir = mkdtempSync(join(tmpdir(), 'webannolo-bench-'));
  try {
    const memory = {
      rssDeltaBytes: rssDelta,
      rssNetBytes: rssDelta - Math.max(0, after.heapTotal - after.heapUsed - (mid.heapTotal - mid.heapUsed)),
      heapTotalDeltaBytes: after.heapTotal - mid.heapTotal,
      heapUsedDeltaBytes: after.heapUsed - mid.heapUsed,
      externalDeltaBytes: after.external - mid.external + dataBytes,
      selfReportedBytes: adapter.selfReportedBytes(),
      savedBytes: adapter.savedBytes(dir),
    };
    const sweepOpts = { efs: args.efs, k: args.k, warmup: args.warmup, minTimeMs: args.minTimeMs, minPasses: args.minPasses };
    const score = (ids: Int32Array) => recallAtK(ids, args.k, ds.gt, ds.base, ds.queries, ds.metric);
    // The plain-only sweep first, before any PQ code has run in this process (the figures the
    // peer comparison uses); --pq-only skips it.
    const modes = args.pqOnly ? [] : await sweep(adapter.modes(), ds.queries, sweepOpts, score, log);
    let pq: PqResult | undefined;
    if (args.pq && isWebannolo(adapter)) {
      const m = args.pqM[job.dataset];
      log(`PQ: training m=${m} on min(n, ${args.pqTrainSample}) vectors, ${args.pqIterations} iterations at most...`);
      const before = await memoryAfterGc();
      const info = adapter.quantize({
        m,
        trainSample: args.pqTrainSample,
        maxIterations: args.pqIterations,
        seed: args.seed,
        rerank: args.rerank,
      });
      const afterPq = await memoryAfterGc();
      log(`PQ: trained in ${(info.trainMs / 1000).toFixed(1)} s, encoded in ${(info.encodeMs / 1000).toFixed(1)} s (${info.kernels})`);
      const [flat] = await sweep([adapter.flatPqMode()], ds.queries, { ...sweepOpts, efs: [0], minPasses: 1, minTimeMs: 0 }, score, log);
      const pqModes = await sweepInterleaved(adapter.pqModes(args.rerank), ds.queries, sweepOpts, score, log);
      pq = {
        ...info,
        rerank: args.rerank,
        rssDeltaBytes: afterPq.rss - before.rss,
        externalDeltaBytes: afterPq.external - before.external,
        memory: adapter.pqMemory(dir),
        flat: flat!,
        modes: pqModes,
      };
    }
    const dataset = {
      description: ds.description,
      metric: ds.metric,
      n: ds.base.size,
      nq: ds.queries.size,
      dim: ds.base.dim,
      gtSource: ds.gtSource,
    };
    const result: LibResult = { lib, dataset, describe: adapter.describe, buildMs, memory, modes, ...(pq ? { pq } : {}) };
    await new Promise<void>((res, rej) => process.send!(result, (e: Error | null) => (e ? rej(e) : res())));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);

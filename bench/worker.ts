/**
 * Benchmarks one library on one dataset in a fresh process (forked by run.ts with
 * --expose-gc), so that memory deltas, JIT state and native allocators of one library do not
 * leak into another's numbers. Sends a LibResult to the parent.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchArgs, DatasetName, LibName } from './args.js';
import { loadDataset } from './datasets.js';
import { memoryAfterGc, recallAtK, sweep, type ModeResult } from './measure.js';
import { makeAdapter } from './peers.js';

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
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]!) as WorkerJob;
  const { args, lib } = job;
  const log = (s: string) => process.stderr.write(`[${job.dataset}/${lib}] ${s}\n`);
  const metric = job.dataset === 'mnist' ? 'l2' : 'ip';
  const adapter = await makeAdapter(lib, {
    metric, m: args.m, efConstruction: args.efConstruction, seed: args.seed, batchSize: args.batchSize,
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
      rssNetBytes: rssDelta - Math.max(0, (after.heapTotal - after.heapUsed) - (mid.heapTotal - mid.heapUsed)),
      heapTotalDeltaBytes: after.heapTotal - mid.heapTotal,
      heapUsedDeltaBytes: after.heapUsed - mid.heapUsed,
      externalDeltaBytes: after.external - mid.external + dataBytes,
      selfReportedBytes: adapter.selfReportedBytes(),
      savedBytes: adapter.savedBytes(dir),
    };
    const modes = await sweep(
      adapter.modes(), ds.queries, { efs: args.efs, k: args.k, warmup: args.warmup, minTimeMs: args.minTimeMs, minPasses: args.minPasses },
      (ids) => recallAtK(ids, args.k, ds.gt, ds.base, ds.queries, ds.metric),
      log,
    );
    const dataset = {
      description: ds.description, metric: ds.metric, n: ds.base.size, nq: ds.queries.size, dim: ds.base.dim, gtSource: ds.gtSource,
    };
    const result: LibResult = { lib, dataset, describe: adapter.describe, buildMs, memory, modes };
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

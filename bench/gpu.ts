/**
 * GPU-vs-CPU benchmark of webannolo over an ef sweep, recall@10 vs QPS with the GPU counters
 * (round trips, bytes up/down, host ms per query), written as bench/results/gpu-<dataset>.json
 * and .svg with the device name. Modes:
 *   cpu-single    a loop of search() (one thread): the reference every ratio uses
 *   cpu-batch     searchBatch on the CPU
 *   gpu-hybrid    searchBatch, beam on the CPU, distances on the GPU per round
 *   gpu-resident  searchBatch, the whole search in one GPU kernel
 * and exact search (FlatIndex) on each backend, with the store bytes read per second; on the GPU
 * also the store bytes one resident query reads, f32 against RaBitQ codes (bench/gpu-rabitq.ts).
 *
 *   node dist/bench/gpu.js [--datasets mnist,bge] [--n 60000] [--nq 1024] [--efs 16,32,64,128]
 *     [--batches 1,64,1024,10000] [--backend cpu,gpu] [--budget 20] [--tile 1] [--out bench/results]
 *
 * Each point searches consecutive queries in calls of `batch` queries until all are done or
 * `--budget` seconds pass (SwiftShader makes GPU points slow); QPS and recall are over the
 * queries it got through. Without a WebGPU adapter the GPU modes are skipped (one line).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { arch, cpus, platform } from 'node:os';
import { join } from 'node:path';
import { DenseDataset } from '../src/data/dense.js';
import { type GpuContext, requestGpu } from '../src/gpu/device.js';
import type { Backend } from '../src/gpu/select.js';
import { FlatIndex } from '../src/indexes/flat.js';
import { HnswIndex } from '../src/indexes/hnsw/hnsw-index.js';
import { type DatasetName, parseArgs as parseBenchArgs } from './args.js';
import { renderChart, type Series } from './chart.js';
import { type BenchDataset, ensureGroundTruth, loadDataset } from './datasets.js';
import { rabitqStoreBytes } from './gpu-rabitq.js';
import { recallAtK } from './measure.js';

interface GpuBenchArgs {
  datasets: DatasetName[];
  n: number;
  nq: number;
  efs: number[];
  batches: number[];
  backends: ('cpu' | 'gpu')[];
  budgetS: number;
  /** The query set repeated this many times (bge has 97 queries; the batch is 970). */
  tile: number;
  out: string;
}

function parse(argv: readonly string[]): GpuBenchArgs {
  const get = (flag: string, fallback: string) => {
    const i = argv.indexOf(`--${flag}`);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
  };
  const list = (flag: string, fallback: string) =>
    get(flag, fallback)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const nums = (flag: string, fallback: string) => list(flag, fallback).map(Number);
  const backends = list('backend', 'cpu,gpu');
  for (const b of backends) if (b !== 'cpu' && b !== 'gpu') throw new Error(`--backend takes cpu,gpu; got ${b}`);
  return {
    datasets: list('datasets', 'mnist,bge') as DatasetName[],
    n: Number(get('n', '60000')),
    nq: Number(get('nq', '1024')),
    efs: nums('efs', '16,32,64,128'),
    batches: nums('batches', '1,64,1024,10000'),
    backends: backends as ('cpu' | 'gpu')[],
    budgetS: Number(get('budget', '20')),
    tile: Number(get('tile', '1')),
    out: get('out', 'bench/results'),
  };
}

type Mode = 'cpu-single' | 'cpu-batch' | 'gpu-hybrid' | 'gpu-resident';

interface Point {
  mode: Mode;
  backend: string;
  batch: number;
  ef: number;
  queries: number;
  seconds: number;
  qps: number;
  recall: number;
  /** Totals over the point's calls. */
  roundTrips: number;
  bytesUp: number;
  bytesDown: number;
  /** Host JavaScript time per query (excluding GPU waits), ms. */
  hostMsPerQuery: number;
}

const K = 10;

/** Searches consecutive query batches until done or out of budget; QPS and recall over those. */
async function measure(
  index: HnswIndex,
  ds: BenchDataset,
  mode: Mode,
  gpu: GpuContext | null,
  batch: number,
  ef: number,
  a: GpuBenchArgs,
): Promise<Point> {
  const nq = ds.queries.size;
  const ids = new Int32Array(nq * K);
  let done = 0;
  let used = 'cpu';
  const traffic = { roundTrips: 0, bytesUp: 0, bytesDown: 0, hostMs: 0 };
  const backend: Backend = mode.startsWith('gpu') ? 'gpu' : 'cpu';
  const gpuMode = mode === 'gpu-hybrid' ? 'hybrid' : 'resident';
  const t0 = performance.now();
  while (done < nq && performance.now() - t0 < a.budgetS * 1000) {
    const count = Math.min(batch, nq - done);
    if (mode === 'cpu-single') {
      const t = performance.now();
      for (let q = done; q < done + count; q++) ids.set(index.search(ds.queries.get(q), K, { ef }).ids, q * K);
      traffic.hostMs += performance.now() - t;
    } else {
      const r = await index.searchBatch(ds.queries.slice(done, done + count), K, {
        ef,
        backend,
        gpu,
        ...(backend === 'gpu' ? { gpuMode } : {}),
      });
      ids.set(r.ids, done * K);
      used = r.backend;
      traffic.roundTrips += r.roundTrips;
      traffic.bytesUp += r.bytesUp;
      traffic.bytesDown += r.bytesDown;
      traffic.hostMs += r.hostMs;
    }
    done += count;
  }
  const seconds = (performance.now() - t0) / 1000;
  const sub = { depth: ds.gt.depth, ids: ds.gt.ids.subarray(0, done * ds.gt.depth) };
  const { recall } = recallAtK(ids.subarray(0, done * K), K, sub, ds.base, ds.queries.slice(0, done), ds.metric);
  const { hostMs, ...counts } = traffic;
  return { mode, backend: used, batch, ef, queries: done, seconds, qps: done / seconds, recall, ...counts, hostMsPerQuery: hostMs / done };
}

/** The dataset with its queries (and their ground truth) repeated `times` times. */
function tiled(ds: BenchDataset, times: number): BenchDataset {
  if (times <= 1) return ds;
  const rows: Float32Array[] = [];
  for (let t = 0; t < times; t++) for (let q = 0; q < ds.queries.size; q++) rows.push(ds.queries.get(q) as Float32Array);
  const ids = new Int32Array(ds.gt.ids.length * times);
  for (let t = 0; t < times; t++) ids.set(ds.gt.ids, t * ds.gt.ids.length);
  return {
    ...ds,
    description: `${ds.description}, repeated ${times} times`,
    queries: DenseDataset.fromRows(rows),
    gt: { depth: ds.gt.depth, ids },
  };
}

/** Exact search in calls of 64 queries until all are done or the budget is spent (a scan is O(n) per query). */
async function exact(ds: BenchDataset, backend: 'cpu' | 'gpu', gpu: GpuContext | null, a: GpuBenchArgs) {
  const flat = FlatIndex.build(ds.base, { metric: ds.metric });
  const ids = new Int32Array(ds.queries.size * K);
  let done = 0;
  let used = backend as string;
  let roundTrips = 0;
  const t0 = performance.now();
  while (done < ds.queries.size && performance.now() - t0 < a.budgetS * 1000) {
    const count = Math.min(64, ds.queries.size - done);
    const r = await flat.searchBatch(ds.queries.slice(done, done + count), K, { backend, gpu });
    ids.set(r.ids, done * K);
    used = r.backend;
    roundTrips += r.roundTrips;
    done += count;
  }
  const seconds = (performance.now() - t0) / 1000;
  const sub = { depth: ds.gt.depth, ids: ds.gt.ids.subarray(0, done * ds.gt.depth) };
  const { recall } = recallAtK(ids.subarray(0, done * K), K, sub, ds.base, ds.queries.slice(0, done), ds.metric);
  // Every query reads the whole store once: the scan's effective bandwidth.
  const gbPerSecond = (done * flat.store.byteLength) / seconds / 1e9;
  return { backend: used, queries: done, seconds, qps: done / seconds, recall, gbPerSecond, roundTrips };
}

export async function runGpuBench(argv: readonly string[], log: (line: string) => void = console.log): Promise<void> {
  const a = parse(argv);
  const gpu = a.backends.includes('gpu') ? await requestGpu() : null;
  if (a.backends.includes('gpu') && !gpu)
    log('no WebGPU adapter (set VK_ICD_FILENAMES for SwiftShader, or run on a GPU machine): GPU columns skipped');
  const backends = a.backends.filter((b) => b === 'cpu' || gpu !== null);
  mkdirSync(a.out, { recursive: true });
  for (const name of a.datasets) {
    const benchArgs = parseBenchArgs(['--datasets', name, '--n', String(a.n), '--nq', String(a.nq), '--out', a.out]);
    await ensureGroundTruth(name, benchArgs);
    const ds = tiled(loadDataset(name, benchArgs), a.tile);
    const t0 = performance.now();
    const index = HnswIndex.build(ds.base, { metric: ds.metric, m: 16, efConstruction: 200 });
    log(`${ds.description}: HNSW built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    // Warm-up: JIT, store and graph uploads, pipeline compilation.
    for (let q = 0; q < Math.min(50, ds.queries.size); q++) index.search(ds.queries.get(q), K, { ef: a.efs[0]! });
    if (gpu) {
      for (const gpuMode of ['resident', 'hybrid'] as const) {
        for (const ef of a.efs)
          await index.searchBatch(ds.queries.slice(0, Math.min(8, ds.queries.size)), K, { ef, backend: 'gpu', gpu, gpuMode });
      }
    }
    const modes: Mode[] = ['cpu-single', 'cpu-batch', ...(backends.includes('gpu') ? (['gpu-hybrid', 'gpu-resident'] as const) : [])];
    const points: Point[] = [];
    for (const mode of modes) {
      for (const batch of mode === 'cpu-single' ? [1] : a.batches) {
        for (const ef of a.efs) {
          const p = await measure(index, ds, mode, gpu, batch, ef, a);
          points.push(p);
          log(
            `  ${p.mode.padEnd(12)} batch ${String(batch).padStart(5)} ef ${String(ef).padStart(4)}: recall@10 ${p.recall.toFixed(4)}  ${p.qps.toFixed(1).padStart(9)} QPS  ` +
              `round trips ${p.roundTrips}, up ${p.bytesUp} B, down ${p.bytesDown} B, host ${p.hostMsPerQuery.toFixed(4)} ms/query  (${p.queries} queries, ${p.seconds.toFixed(2)} s)`,
          );
        }
      }
    }
    const exacts = [];
    for (const backend of backends) {
      const e = await exact(ds, backend, gpu, a);
      exacts.push(e);
      log(
        `  exact   ${e.backend.padEnd(7)}: recall@10 ${e.recall.toFixed(4)}  ${e.qps.toFixed(1).padStart(9)} QPS  ${e.gbPerSecond.toFixed(2)} GB/s of store read  (${e.queries} queries)`,
      );
    }
    const storeBytes = gpu ? await rabitqStoreBytes(index, ds, gpu, a.efs[a.efs.length >> 1]!, log) : [];
    // Ratios against the single-thread CPU at the same ef, same run.
    const single = (ef: number) => points.find((p) => p.mode === 'cpu-single' && p.ef === ef);
    const ratios = points
      .filter((p) => p.mode !== 'cpu-single')
      .map((p) => {
        const s = single(p.ef)!;
        return {
          mode: p.mode,
          batch: p.batch,
          ef: p.ef,
          qpsOverCpuSingle: p.qps / s.qps,
          hostShareOfCpuSingle: p.hostMsPerQuery / s.hostMsPerQuery,
          recallMinusCpuSingle: p.recall - s.recall,
        };
      });
    for (const r of ratios) {
      log(
        `  ${r.mode.padEnd(12)} batch ${String(r.batch).padStart(5)} ef ${String(r.ef).padStart(4)}: ${r.qpsOverCpuSingle.toFixed(2)}x the QPS of cpu-single, host time ${(100 * r.hostShareOfCpuSingle).toFixed(1)}% of its time per query, recall ${r.recallMinusCpuSingle >= 0 ? '+' : ''}${r.recallMinusCpuSingle.toFixed(4)}`,
      );
    }
    const exactRatio = exacts.length === 2 ? exacts[1]!.qps / exacts[0]!.qps : null;
    const summary = { ratios, exactGpuOverCpu: exactRatio };
    log(`  exact GPU/CPU: ${fmt(exactRatio)}x`);
    const result = {
      dataset: name,
      description: ds.description,
      device: gpu?.description ?? null,
      node: process.version,
      cpu: cpus()[0]?.model,
      platform: `${platform()}-${arch()}`,
      date: new Date().toISOString(),
      args: a,
      points,
      exact: exacts,
      storeBytes,
      summary,
    };
    writeFileSync(join(a.out, `gpu-${name}.json`), JSON.stringify(result, null, 1));
    const series: Series[] = [];
    for (const mode of modes) {
      for (const batch of a.batches) {
        const pts = points.filter((p) => p.mode === mode && p.batch === batch).map((p) => ({ recall: p.recall, qps: p.qps, ef: p.ef }));
        if (pts.length)
          series.push({
            name: `${mode} batch ${batch}`,
            points: pts,
            color: MODE_COLORS[mode][Math.min(2, a.batches.indexOf(batch))]!,
            dashed: batch === 1,
          });
      }
    }
    writeFileSync(
      join(a.out, `gpu-${name}.svg`),
      renderChart(`webannolo GPU vs CPU: ${name}`, `${gpu?.description ?? 'no GPU'} · ${cpus()[0]?.model ?? ''}`, series, K),
    );
  }
}

const fmt = (v: number | null) => (v === null ? 'n/a' : v.toFixed(2));
const MODE_COLORS: Record<Mode, string[]> = {
  'cpu-single': ['#636363', '#636363', '#636363'],
  'cpu-batch': ['#9ecae1', '#4292c6', '#08519c'],
  'gpu-hybrid': ['#fdd0a2', '#fd8d3c', '#a63603'],
  'gpu-resident': ['#fcae91', '#fb6a4a', '#a50f15'],
};

const USAGE = `usage: node dist/bench/gpu.js [--datasets mnist,bge] [--n 60000] [--nq 1024] [--efs 16,32,64,128]
  [--batches 1,64,1024,10000] [--backend cpu,gpu] [--budget 20] [--tile 1] [--out bench/results]`;

if (process.argv[1]?.endsWith('gpu.js')) {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    process.exit(0);
  }
  runGpuBench(argv).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}

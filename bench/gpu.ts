/**
 * GPU-vs-CPU benchmark of webannolo: batched HNSW search (batch sizes 1, 64, 1024 by default)
 * on each backend over an ef sweep, and exact search (FlatIndex), recall@10 vs QPS, written
 * as bench/results/gpu-<dataset>.json and .svg with the device name.
 *
 *   node dist/bench/gpu.js [--datasets mnist,bge] [--n 60000] [--nq 1024] [--efs 16,32,64,128]
 *     [--batches 1,64,1024] [--backend cpu,gpu] [--width 4] [--budget 20] [--out bench/results]
 *
 * Each point searches consecutive queries in calls of `batch` queries until all are done or
 * `--budget` seconds pass (SwiftShader makes GPU points slow); QPS and recall are over the
 * queries it got through. Without a WebGPU adapter the GPU columns are skipped (one line).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { arch, cpus, platform } from 'node:os';
import { join } from 'node:path';
import { FlatIndex } from '../src/index/flat.js';
import { HnswIndex } from '../src/index/hnsw/hnsw-index.js';
import { requestGpu, type GpuContext } from '../src/gpu/device.js';
import type { Backend } from '../src/gpu/select.js';
import { parseArgs as parseBenchArgs, type DatasetName } from './args.js';
import { renderChart, type Series } from './chart.js';
import { ensureGroundTruth, loadDataset, type BenchDataset } from './datasets.js';
import { recallAtK } from './measure.js';

interface GpuBenchArgs {
  datasets: DatasetName[];
  n: number;
  nq: number;
  efs: number[];
  batches: number[];
  backends: ('cpu' | 'gpu')[];
  width: number;
  budgetS: number;
  out: string;
}

function parse(argv: readonly string[]): GpuBenchArgs {
  const get = (flag: string, fallback: string) => {
    const i = argv.indexOf(`--${flag}`);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
  };
  const list = (flag: string, fallback: string) => get(flag, fallback).split(',').map((s) => s.trim()).filter(Boolean);
  const nums = (flag: string, fallback: string) => list(flag, fallback).map(Number);
  const backends = list('backend', 'cpu,gpu');
  for (const b of backends) if (b !== 'cpu' && b !== 'gpu') throw new Error(`--backend takes cpu,gpu; got ${b}`);
  return {
    datasets: list('datasets', 'mnist,bge') as DatasetName[],
    n: Number(get('n', '60000')),
    nq: Number(get('nq', '1024')),
    efs: nums('efs', '16,32,64,128'),
    batches: nums('batches', '1,64,1024'),
    backends: backends as ('cpu' | 'gpu')[],
    width: Number(get('width', '4')),
    budgetS: Number(get('budget', '20')),
    out: get('out', 'bench/results'),
  };
}

interface Point {
  backend: string;
  batch: number;
  ef: number;
  queries: number;
  seconds: number;
  qps: number;
  recall: number;
}

const K = 10;

/** Searches consecutive query batches until done or out of budget; QPS and recall over those. */
async function measure(index: HnswIndex, ds: BenchDataset, backend: Backend, gpu: GpuContext | null, batch: number, ef: number, a: GpuBenchArgs): Promise<Point> {
  const nq = ds.queries.size;
  const ids = new Int32Array(nq * K);
  let done = 0;
  let used = backend;
  const t0 = performance.now();
  while (done < nq && performance.now() - t0 < a.budgetS * 1000) {
    const count = Math.min(batch, nq - done);
    const r = await index.searchBatch(ds.queries.slice(done, done + count), K, { ef, batchSize: batch, width: backend === 'gpu' ? a.width : 1, backend, gpu });
    ids.set(r.ids, done * K);
    used = r.backend as Backend;
    done += count;
  }
  const seconds = (performance.now() - t0) / 1000;
  const sub = { depth: ds.gt.depth, ids: ds.gt.ids.subarray(0, done * ds.gt.depth) };
  const { recall } = recallAtK(ids.subarray(0, done * K), K, sub, ds.base, ds.queries.slice(0, done), ds.metric);
  return { backend: used, batch, ef, queries: done, seconds, qps: done / seconds, recall };
}

async function exact(ds: BenchDataset, backend: 'cpu' | 'gpu', gpu: GpuContext | null, a: GpuBenchArgs) {
  const flat = FlatIndex.build(ds.base, { metric: ds.metric });
  // The CPU scan is O(n) per query: time a slice of the queries within the budget.
  const nq = Math.min(ds.queries.size, backend === 'cpu' ? 200 : ds.queries.size);
  const t0 = performance.now();
  const r = await flat.searchBatch(ds.queries.slice(0, nq), K, { backend, gpu });
  const seconds = (performance.now() - t0) / 1000;
  const sub = { depth: ds.gt.depth, ids: ds.gt.ids.subarray(0, nq * ds.gt.depth) };
  const { recall } = recallAtK(r.ids, K, sub, ds.base, ds.queries.slice(0, nq), ds.metric);
  void a;
  return { backend: r.backend, queries: nq, seconds, qps: nq / seconds, recall };
}

export async function runGpuBench(argv: readonly string[], log: (line: string) => void = console.log): Promise<void> {
  const a = parse(argv);
  const gpu = a.backends.includes('gpu') ? await requestGpu() : null;
  if (a.backends.includes('gpu') && !gpu) log('no WebGPU adapter (set VK_ICD_FILENAMES for SwiftShader, or run on a GPU machine): GPU columns skipped');
  const backends = a.backends.filter((b) => b === 'cpu' || gpu !== null);
  mkdirSync(a.out, { recursive: true });
  for (const name of a.datasets) {
    const benchArgs = parseBenchArgs(['--datasets', name, '--n', String(a.n), '--nq', String(a.nq), '--out', a.out]);
    await ensureGroundTruth(name, benchArgs);
    const ds = loadDataset(name, benchArgs);
    const t0 = performance.now();
    const index = HnswIndex.build(ds.base, { metric: ds.metric, m: 16, efConstruction: 200 });
    log(`${ds.description}: HNSW built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const points: Point[] = [];
    for (const backend of backends) {
      for (const batch of a.batches) {
        for (const ef of a.efs) {
          const p = await measure(index, ds, backend, gpu, batch, ef, a);
          points.push(p);
          log(`  ${p.backend.padEnd(7)} batch ${String(batch).padStart(4)} ef ${String(ef).padStart(4)}: recall@10 ${p.recall.toFixed(4)}  ${p.qps.toFixed(1).padStart(9)} QPS  (${p.queries} queries, ${p.seconds.toFixed(2)} s)`);
        }
      }
    }
    const exacts = [];
    for (const backend of backends) {
      const e = await exact(ds, backend, gpu, a);
      exacts.push(e);
      log(`  exact   ${e.backend.padEnd(7)}: recall@10 ${e.recall.toFixed(4)}  ${e.qps.toFixed(1).padStart(9)} QPS  (${e.queries} queries)`);
    }
    const ratio = (batch: number) => {
      const best = (b: string) => Math.max(0, ...points.filter((p) => p.backend === b && p.batch === batch && p.recall >= 0.95).map((p) => p.qps));
      const c = best('cpu');
      return c > 0 && best('gpu') > 0 ? best('gpu') / c : null;
    };
    const exactRatio = exacts.length === 2 ? exacts[1]!.qps / exacts[0]!.qps : null;
    const summary = { batched1024GpuOverCpuAtRecall095: ratio(1024), batched64GpuOverCpuAtRecall095: ratio(64), exactGpuOverCpu: exactRatio };
    log(`  GPU/CPU: batch 1024 at recall >= 0.95: ${fmt(summary.batched1024GpuOverCpuAtRecall095)}x; exact: ${fmt(exactRatio)}x`);
    const result = {
      dataset: name, description: ds.description, device: gpu?.description ?? null, node: process.version,
      cpu: cpus()[0]?.model, platform: `${platform()}-${arch()}`, date: new Date().toISOString(),
      args: a, points, exact: exacts, summary,
    };
    writeFileSync(join(a.out, `gpu-${name}.json`), JSON.stringify(result, null, 1));
    const series: Series[] = [];
    for (const backend of new Set(points.map((p) => p.backend))) {
      for (const batch of a.batches) {
        const pts = points.filter((p) => p.backend === backend && p.batch === batch).map((p) => ({ recall: p.recall, qps: p.qps, ef: p.ef }));
        if (pts.length) series.push({ name: `${backend} batch ${batch}`, points: pts, color: backend === 'cpu' ? cpuColor(batch) : gpuColor(batch), dashed: batch === 1 });
      }
    }
    writeFileSync(join(a.out, `gpu-${name}.svg`), renderChart(`webannolo GPU vs CPU: ${name}`, `${gpu?.description ?? 'no GPU'} · ${cpus()[0]?.model ?? ''}`, series, K));
  }
}

const fmt = (v: number | null) => (v === null ? 'n/a' : v.toFixed(2));
const cpuColor = (b: number) => (b === 1 ? '#9ecae1' : b <= 64 ? '#4292c6' : '#08519c');
const gpuColor = (b: number) => (b === 1 ? '#fcae91' : b <= 64 ? '#fb6a4a' : '#a50f15');

if (process.argv[1]?.endsWith('gpu.js')) {
  runGpuBench(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}

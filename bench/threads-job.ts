/**
 * One (dataset, library, thread count) job of the thread-scaling benchmark, in its own process
 * (forked by bench/threads.ts): build with N threads (timed), warm up, then recall@10 and QPS
 * per ef for every search mode, the modes taking turns pass by pass so that load from other
 * processes falls on all of them alike. Sends a ThreadsJobResult to the parent.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DenseDataset } from '../src/data/dense.js';
import type { SparseDataset } from '../src/data/sparse.js';
import { recallAtK as idRecall } from '../src/eval/recall.js';
import { closeWorkers } from '../src/index.js';
import { HnswIndex } from '../src/indexes/hnsw/hnsw-index.js';
import { readCsr } from '../src/io/csr.js';
import { readFvecs, readIvecs } from '../src/io/vecs.js';
import { parseArgs as parseBenchArgs } from './args.js';
import { BGE_DIR, ensureGroundTruth, loadDataset } from './datasets.js';
import { recallAtK as denseRecall, type SweepPoint } from './measure.js';

export type ThreadsDataset = 'mnist' | 'bge' | 'splade';
export type ThreadsLib = 'webannolo' | 'usearch';

export interface ThreadsJob {
  dataset: ThreadsDataset;
  lib: ThreadsLib;
  threads: number;
  m: number;
  efConstruction: number;
  efs: number[];
  k: number;
  /** MNIST base size; splade base rows (0 = all). */
  n: number;
  nq: number;
  minTimeMs: number;
  out: string;
}

export interface ThreadsJobResult {
  job: ThreadsJob;
  description: string;
  buildMs: number;
  modes: { mode: string; points: SweepPoint[] }[];
}

interface Loaded {
  description: string;
  metric: 'l2' | 'ip';
  base: DenseDataset | SparseDataset;
  queries: DenseDataset | SparseDataset;
  score(ids: Int32Array, scores: Float32Array | null): { recall: number; recallStrict: number };
}

/** A search mode: runs queries [0, nq) and returns ids and natural scores (row q at q*k). */
interface Mode {
  name: string;
  run(ef: number): Promise<{ ids: Int32Array; scores: Float32Array | null }>;
}

const SPLADE_DIR = join(BGE_DIR, '..', 'splade-pp-ed');

async function load(job: ThreadsJob): Promise<Loaded> {
  if (job.dataset === 'splade') {
    const read = (f: string) => new Uint8Array(readFileSync(join(SPLADE_DIR, f)));
    const base = readCsr(read('base.csr'), job.n > 0 ? job.n : undefined);
    if (job.n > 0 && job.n < 56_637) throw new Error('splade: the shipped ground truth is for the whole base; use --splade-n 0');
    const queries = readCsr(read('queries.csr'), job.nq);
    const ids = readIvecs(read('groundtruth.ivecs'), job.nq);
    const dists = readFvecs(read('groundtruth.dist.fvecs'), job.nq);
    const gt = { ...ids, scores: dists.data };
    return {
      description: `splade-pp-ed: ${base.size} base, ${queries.size} queries (sparse, inner product)`,
      metric: 'ip',
      base,
      queries,
      score: (got, scores) => {
        const recall = idRecall(got, job.k, gt, scores ? { scores } : {});
        return { recall, recallStrict: idRecall(got, job.k, gt) };
      },
    };
  }
  const benchArgs = parseBenchArgs(['--datasets', job.dataset, '--n', String(job.n || 60000), '--nq', String(job.nq), '--out', job.out]);
  await ensureGroundTruth(job.dataset, benchArgs);
  const ds = loadDataset(job.dataset, benchArgs);
  return {
    description: ds.description,
    metric: ds.metric,
    base: ds.base,
    queries: ds.queries,
    score: (got) => denseRecall(got, job.k, ds.gt, ds.base, ds.queries, ds.metric),
  };
}

async function webannolo(job: ThreadsJob, data: Loaded): Promise<{ buildMs: number; modes: Mode[] }> {
  const t0 = performance.now();
  const index = await HnswIndex.buildAsync(data.base, {
    metric: data.metric,
    m: job.m,
    efConstruction: job.efConstruction,
    threads: job.threads,
  });
  const buildMs = performance.now() - t0;
  const { k } = job;
  const nq = data.queries.size;
  const queries = Array.from({ length: nq }, (_, q) => data.queries.get(q));
  const loop: Mode = {
    name: 'webannolo loop of search()',
    run: async (ef) => {
      const ids = new Int32Array(nq * k);
      const scores = new Float32Array(nq * k);
      for (let q = 0; q < nq; q++) {
        const r = index.search(queries[q]!, k, { ef });
        ids.set(r.ids, q * k);
        scores.set(r.scores, q * k);
      }
      return { ids, scores };
    },
  };
  const batch = (threads: number): Mode => ({
    name: `webannolo searchBatch threads=${threads}`,
    run: async (ef) => {
      const r = await index.searchBatch(data.queries, k, { ef, threads });
      if (r.threads !== threads && nq > 1) throw new Error(`searchBatch ran on ${r.threads} threads, ${threads} asked`);
      return { ids: r.ids, scores: r.scores };
    },
  });
  const modes = job.threads === 1 ? [loop, batch(1)] : [loop, batch(1), batch(job.threads)];
  return { buildMs, modes };
}

async function usearch(job: ThreadsJob, data: Loaded): Promise<{ buildMs: number; modes: Mode[] }> {
  if (!(data.base instanceof DenseDataset) || !(data.queries instanceof DenseDataset)) throw new Error('usearch: dense data only');
  const mod = await import('usearch');
  const base = data.base;
  const make = (ef: number) =>
    new mod.Index({
      dimensions: base.dim,
      metric: data.metric === 'l2' ? mod.MetricKind.L2sq : mod.MetricKind.IP,
      quantization: mod.ScalarKind.F32,
      connectivity: job.m,
      expansion_add: job.efConstruction,
      expansion_search: ef,
      multi: false,
    });
  const keys = new BigUint64Array(base.size);
  for (let i = 0; i < base.size; i++) keys[i] = BigInt(i);
  const t0 = performance.now();
  const built = make(64);
  built.add(keys, base.data, job.threads);
  const buildMs = performance.now() - t0;
  // usearch fixes expansion_search at construction: a copy per ef, loaded from one saved file.
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'webannolo-threads-'));
  const file = join(dir, 'usearch.bin');
  built.save(file);
  const byEf = new Map<number, InstanceType<typeof mod.Index>>();
  const at = (ef: number) => {
    let index = byEf.get(ef);
    if (!index) {
      index = make(ef);
      index.load(file);
      byEf.set(ef, index);
    }
    return index;
  };
  const queries = data.queries;
  const { k } = job;
  const mode: Mode = {
    name: `usearch search threads=${job.threads}`,
    run: async (ef) => {
      const r = at(ef).search(queries.data, k, job.threads) as { keys: BigUint64Array; counts?: BigUint64Array };
      const ids = new Int32Array(queries.size * k).fill(-1);
      for (let q = 0; q < queries.size; q++) {
        const found = r.counts ? Number(r.counts[q]!) : k;
        for (let i = 0; i < Math.min(k, found); i++) ids[q * k + i] = Number(r.keys[q * k + i]!);
      }
      return { ids, scores: null };
    },
  };
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return { buildMs, modes: [mode] };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]!) as ThreadsJob;
  const log = (s: string) => process.stderr.write(`[${job.dataset}/${job.lib}/t${job.threads}] ${s}\n`);
  const data = await load(job);
  const { buildMs, modes } = job.lib === 'webannolo' ? await webannolo(job, data) : await usearch(job, data);
  log(`built in ${(buildMs / 1000).toFixed(1)} s`);
  const results = modes.map((m) => ({ mode: m.name, points: [] as SweepPoint[] }));
  const nq = data.queries.size;
  for (const ef of job.efs) {
    // Warm-up pass of every mode (JIT, worker start, usearch's per-ef copy), untimed.
    const answers = [];
    for (const m of modes) answers.push(await m.run(ef));
    const best = modes.map(() => Infinity);
    const total = modes.map(() => 0);
    const passes = modes.map(() => 0);
    for (let round = 0; round < 3 || total.some((t) => t < job.minTimeMs); round++) {
      for (let j = 0; j < modes.length; j++) {
        const i = (j + round) % modes.length;
        const t = performance.now();
        await modes[i]!.run(ef);
        const ms = performance.now() - t;
        best[i] = Math.min(best[i]!, ms);
        total[i]! += ms;
        passes[i]!++;
      }
    }
    for (let i = 0; i < modes.length; i++) {
      const r = data.score(answers[i]!.ids, answers[i]!.scores);
      const point: SweepPoint = {
        ef,
        ...r,
        qps: (nq / best[i]!) * 1000,
        qpsMean: ((nq * passes[i]!) / total[i]!) * 1000,
        passes: passes[i]!,
        timedMs: total[i]!,
      };
      results[i]!.points.push(point);
      log(
        `${modes[i]!.name.padEnd(34)} ef=${String(ef).padStart(4)}  recall@${job.k}=${point.recall.toFixed(4)}  qps=${point.qps.toFixed(0)}`,
      );
    }
  }
  await closeWorkers();
  const result: ThreadsJobResult = { job, description: data.description, buildMs, modes: results };
  await new Promise<void>((res, rej) => process.send!(result, (e: Error | null) => (e ? rej(e) : res())));
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);

/**
 * Searches while the index changes (issue 23's target): single searches on the calling thread
 * (ef 64, k 10) on MNIST, first on an idle index, then while addAsync runs back to back on one
 * worker thread (1,000 items per call), then idle again; QPS and latency percentiles of each
 * phase, in the same run. Target: during the adds >= 0.7x the idle QPS and p99 <= 2x the idle
 * p99. Also reports the longest pause between two searches (what the calling thread spent on
 * the adds' own work: their start, their landing) and the adds' throughput. Writes
 * bench/results/living-concurrency.json.
 *
 *   npm run bench:concurrency -- [--n 60000] [--start 50000] [--batch 1000] [--seconds 10] [--ef 64]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DenseDataset } from '../src/data/dense.js';
import { closeWorkers, HnswIndex } from '../src/index.js';
import { loadMnist } from '../src/node/index.js';
import { yieldToEventLoop } from '../src/util/yield.js';
import { ROOT } from './args.js';

const K = 10;
const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '60000' },
    start: { type: 'string', default: '50000' },
    batch: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    ef: { type: 'string', default: '64' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results') },
  },
});
const n = Number(values.n);
const start = Number(values.start);
const batch = Number(values.batch);
const phaseMs = Number(values.seconds) * 1000;
const ef = Number(values.ef);
const { train, test: queries } = loadMnist(n, 1000);
const dim = train.dim;

function rows(from: number, count: number): DenseDataset {
  return new DenseDataset(train.data.slice(from * dim, (from + count) * dim), dim);
}

/** Per-search latencies (ms) and the longest pause between two searches of one phase. */
interface Phase {
  readonly latencies: Float64Array;
  readonly count: number;
  readonly wallMs: number;
  readonly maxPauseMs: number;
}

/**
 * Single searches back to back for `ms`, giving the event loop a turn every 5 ms (so an add's
 * messages and landing run between searches, as they would in a service).
 */
async function searchFor(index: HnswIndex, ms: number): Promise<Phase> {
  const latencies = new Float64Array(2_000_000);
  let count = 0;
  let maxPause = 0;
  const t0 = performance.now();
  let sliceStart = t0;
  let lastEnd = t0;
  for (let q = 0; performance.now() - t0 < ms; q = (q + 1) % queries.size) {
    const s = performance.now();
    maxPause = Math.max(maxPause, s - lastEnd);
    index.search(queries.get(q), K, { ef });
    lastEnd = performance.now();
    latencies[count++] = lastEnd - s;
    if (lastEnd - sliceStart > 5) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
  }
  return { latencies: latencies.slice(0, count), count, wallMs: performance.now() - t0, maxPauseMs: maxPause };
}

function summary(p: Phase) {
  const sorted = [...p.latencies].sort((a, b) => a - b);
  const at = (f: number) => sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))]!;
  return {
    searches: p.count,
    qps: +((p.count / p.wallMs) * 1000).toFixed(0),
    p50Ms: +at(0.5).toFixed(4),
    p99Ms: +at(0.99).toFixed(4),
    p999Ms: +at(0.999).toFixed(4),
    maxMs: +sorted[sorted.length - 1]!.toFixed(3),
    maxPauseMs: +p.maxPauseMs.toFixed(2),
  };
}

let t0 = performance.now();
const index = await HnswIndex.buildAsync(rows(0, start), {
  metric: 'l2',
  m: 16,
  efConstruction: 200,
  seed: 1,
  keys: Array.from({ length: start }, (_, i) => i),
});
console.log(`built ${start} MNIST items in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
// Warm up the searcher and the JIT.
await searchFor(index, 1000);

const idle = summary(await searchFor(index, phaseMs));
console.log('idle          ', idle);

// Adds of `batch` items back to back on one worker thread: rows start.. n, then the same rows again under new keys.
let stop = false;
let added = 0;
let calls = 0;
let nextKey = start;
const addMs: number[] = [];
const adding = (async () => {
  let from = start;
  while (!stop) {
    if (from + batch > n) from = start;
    const keys = Array.from({ length: batch }, () => nextKey++);
    const a0 = performance.now();
    await index.addAsync(rows(from, batch), keys, { threads: 1 });
    addMs.push(performance.now() - a0);
    added += batch;
    calls++;
    from += batch;
  }
})();
const sizeBefore = index.size;
t0 = performance.now();
const during = summary(await searchFor(index, phaseMs));
const duringMs = performance.now() - t0;
stop = true;
await adding;
console.log('during adds   ', during);
const after = summary(await searchFor(index, phaseMs));
console.log('idle after    ', after);

const adds = {
  calls,
  itemsPerCall: batch,
  itemsPerSecond: +((added / duringMs) * 1000).toFixed(0),
  meanCallMs: +(addMs.reduce((a, b) => a + b, 0) / Math.max(1, addMs.length)).toFixed(1),
  sizeBefore,
  sizeAfter: index.size,
};
const ratios = { qps: +(during.qps / idle.qps).toFixed(3), p99: +(during.p99Ms / idle.p99Ms).toFixed(3) };
const verdict = { qpsTarget: ratios.qps >= 0.7, p99Target: ratios.p99 <= 2 };
console.log('adds          ', adds);
console.log(
  `during/idle: QPS x${ratios.qps} (target >= 0.7: ${verdict.qpsTarget ? 'met' : 'missed'}), p99 x${ratios.p99} (target <= 2: ${verdict.p99Target ? 'met' : 'missed'})`,
);

mkdirSync(values.out!, { recursive: true });
writeFileSync(
  join(values.out!, 'living-concurrency.json'),
  `${JSON.stringify(
    {
      machine: { cpu: cpus()[0]?.model, threads: availableParallelism(), node: process.version },
      params: { n, start, batch, seconds: phaseMs / 1000, ef, k: K, addThreads: 1 },
      idle,
      during,
      idleAfter: after,
      adds,
      ratios,
      verdict,
    },
    null,
    2,
  )}\n`,
);
await closeWorkers();

/**
 * `webannolo serve` under load: single-vector POST /search requests (ef 64, k 10, a different
 * MNIST test query each) from autocannon at several concurrencies against MNIST 60k, with the
 * query batcher on (its defaults) and off (`--max-batch 1`), JSON and binary bodies; the
 * in-process `searchBatch` QPS ceiling on the same index and threads, and one `search()`'s
 * latency, in the same run; then 1 shard against 3 shards on NATS through the gateway. One
 * server process per configuration, started fresh and stopped before the next: never two
 * loads at once. Writes bench/results/serve.json and prints a table.
 *
 *   npm run bench:serve -- [--n 60000] [--nq 10000] [--concurrency 1,8,64,256] [--seconds 5] [--warmup 1]
 *     [--threads 2] [--shards 3] [--shard-concurrency 64]
 *     [--wait-ms 1 (0: none)] [--wait-concurrency 64] [--nats-server nats-server] [--no-shards] [--no-http]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { closeWorkers, HnswIndex, QueryBatcher } from '../src/index.js';
import { loadMnist, mnistDir, saveIndexFile } from '../src/node/index.js';
import { ROOT } from './args.js';
import { type Bodies, type BodyKind, buildBodies, cpuSecondsOf, meanBatch, readBatchCounters, runLoad, searchOnce } from './serve-load.js';
import { startHttpServer, tempDir } from './serve-procs.js';
import { type Batching, type CeilingRun, type HttpRun, type InProcess, type Measured, printTable, ratiosOf } from './serve-report.js';
import { runShardConfigs, type ShardRun } from './serve-shards.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '60000' },
    nq: { type: 'string', default: '10000' },
    k: { type: 'string', default: '10' },
    ef: { type: 'string', default: '64' },
    m: { type: 'string', default: '16' },
    'ef-construction': { type: 'string', default: '200' },
    threads: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '1,8,64,256' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    'ceiling-seconds': { type: 'string', default: '1' },
    shards: { type: 'string', default: '3' },
    'shard-concurrency': { type: 'string', default: '64' },
    'wait-ms': { type: 'string', default: '1' },
    'wait-concurrency': { type: 'string', default: '64' },
    'nats-server': { type: 'string', default: process.env['NATS_SERVER'] ?? 'nats-server' },
    'no-shards': { type: 'boolean', default: false },
    'no-http': { type: 'boolean', default: false },
    out: { type: 'string', default: join(ROOT, 'bench', 'results') },
  },
});
const num = (name: keyof typeof values) => {
  const v = Number(values[name]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name}: expected a positive number, got '${String(values[name])}'`);
  return v;
};
const n = num('n');
const K = num('k');
const EF = num('ef');
const threads = num('threads');
const seconds = num('seconds');
const warmup = num('warmup');
const concurrencies = String(values.concurrency)
  .split(',')
  .map((s) => Number(s.trim()));
const loadAtStart = loadavg();
const { train, test: queries } = loadMnist(n, num('nq'));

// The index, built once with the library and saved where every server of the run loads it.
let t0 = performance.now();
const index = await HnswIndex.buildAsync(train, { metric: 'l2', m: num('m'), efConstruction: num('ef-construction'), seed: 1, threads });
const buildSeconds = (performance.now() - t0) / 1000;
const dir = tempDir('webannolo-bench-serve-');
const indexFile = join(dir, 'mnist.wann');
await saveIndexFile(index, indexFile);
console.log(
  `built ${train.size} MNIST items in ${buildSeconds.toFixed(1)} s (m ${values.m}, efConstruction ${values['ef-construction']}), saved`,
);

/**
 * The QPS of `searchBatch` over every query on the same threads: warm-up, then three timed
 * loops of at least --ceiling-seconds, median.
 */
async function ceiling(): Promise<CeilingRun> {
  const params = { ef: EF, threads, backend: 'cpu' as const };
  await index.searchBatch(queries, K, params);
  const runs: number[] = [];
  for (let r = 0; r < 3; r++) {
    let searched = 0;
    const start = performance.now();
    while (performance.now() - start < num('ceiling-seconds') * 1000) {
      await index.searchBatch(queries, K, params);
      searched += queries.size;
    }
    runs.push(+((searched / (performance.now() - start)) * 1000).toFixed(0));
  }
  const sorted = [...runs].sort((a, b) => a - b);
  return { qps: sorted[1]!, runs };
}

/** One `search()` at a time on this thread: p50 / p99 latency after a warm-up (the reference of the concurrency-1 target). */
function singleSearch(ms: number): { p50Ms: number; p99Ms: number; qps: number; searches: number } {
  const lat: number[] = [];
  const run = (until: number, keep: boolean) => {
    for (let q = 0; performance.now() < until; q = (q + 1) % queries.size) {
      const s = performance.now();
      index.search(queries.get(q), K, { ef: EF });
      if (keep) lat.push(performance.now() - s);
    }
  };
  run(performance.now() + 500, false);
  const start = performance.now();
  run(start + ms, true);
  const wall = performance.now() - start;
  lat.sort((a, b) => a - b);
  const at = (f: number) => +lat[Math.min(lat.length - 1, Math.floor(f * lat.length))]!.toFixed(4);
  return { p50Ms: at(0.5), p99Ms: at(0.99), qps: +((lat.length / wall) * 1000).toFixed(0), searches: lat.length };
}

/**
 * A QueryBatcher in this process (the server's defaults, same threads) under `callers` callers
 * that each search one query after another for `ms`: what the server's batching reaches
 * without HTTP.
 */
async function batcherAlone(callers: number, ms: number): Promise<{ callers: number; qps: number; meanBatch: number }> {
  const batcher = new QueryBatcher(index, { batchParams: { threads, backend: 'cpu' } });
  let next = 0;
  let searched = 0;
  const loop = async (until: number) => {
    while (performance.now() < until) {
      await batcher.search(queries.get(next), K, { ef: EF });
      next = (next + 1) % queries.size;
      searched++;
    }
  };
  const burst = (until: number) => Promise.all(Array.from({ length: callers }, () => loop(until)));
  await burst(performance.now() + 1000);
  const before = { searched, batches: batcher.stats.batches };
  const start = performance.now();
  await burst(start + ms);
  const wall = performance.now() - start;
  const n = searched - before.searched;
  await batcher.close();
  return { callers, qps: +((n / wall) * 1000).toFixed(0), meanBatch: +(n / (batcher.stats.batches - before.batches)).toFixed(2) };
}

const ceilingBefore = await ceiling();
const single = singleSearch(3000);
const batcher64 = await batcherAlone(num('wait-concurrency'), seconds * 1000);
console.log('in-process searchBatch ceiling', ceilingBefore, 'single search()', single, 'QueryBatcher alone', batcher64);
const expected = Array.from({ length: 10 }, (_, q) => Array.from(index.search(queries.get(q), K, { ef: EF }).ids));
// The servers get both cores from here on.
await closeWorkers();
const bodies: Bodies = buildBodies(queries, K, EF);

/** How many of the in-process top-k ids of queries 0..9 the server's answers hold (1 = the same results). */
async function overlap(url: string, kind: BodyKind): Promise<number> {
  let same = 0;
  for (let q = 0; q < expected.length; q++) {
    const keys = new Set((await searchOnce(url, kind, bodies, q)).map(Number));
    same += expected[q]!.filter((id) => keys.has(id)).length;
  }
  return +(same / (expected.length * K)).toFixed(3);
}

/** A measured load against `url`: warm-up, metrics, measured run (and the CPU time of the server processes `pids`), metrics again. */
async function measure(url: string, kind: BodyKind, connections: number, pids: readonly number[]): Promise<Measured> {
  await runLoad(url, kind, bodies, connections, warmup);
  const before = await readBatchCounters(url);
  const cpu = () => pids.reduce<number | null>((sum, pid) => (sum === null ? null : addCpu(sum, cpuSecondsOf(pid))), 0);
  const cpu0 = cpu();
  const load = await runLoad(url, kind, bodies, connections, seconds);
  const cpu1 = cpu();
  const serverCores = cpu0 === null || cpu1 === null ? null : +((cpu1 - cpu0) / load.seconds).toFixed(2);
  return { ...load, meanBatch: meanBatch(before, await readBatchCounters(url)), serverCores, loadAverage1: +loadavg()[0]!.toFixed(2) };
}
const addCpu = (sum: number, v: number | null) => (v === null ? null : sum + v);

/** Batching on (the server's defaults) and off (`--max-batch 1`); at --wait-concurrency also on with `--max-wait-ms --wait-ms`. */
const waitMs = Number(values['wait-ms']);
const modesAt = (concurrency: number): Batching[] =>
  waitMs > 0 && concurrency === num('wait-concurrency') ? ['on', 'off', 'on+wait'] : ['on', 'off'];
const http: HttpRun[] = [];
if (!values['no-http']) {
  for (const concurrency of concurrencies)
    for (const body of ['json', 'binary'] as const)
      for (const batching of modesAt(concurrency)) {
        const flags = ['--index', indexFile, '--port', '0', '--threads', String(threads), '--backend', 'cpu'];
        if (batching === 'off') flags.push('--max-batch', '1');
        if (batching === 'on+wait') flags.push('--max-wait-ms', String(waitMs));
        const { proc, url } = await startHttpServer(`serve (batching ${batching})`, flags);
        try {
          const sameResults = await overlap(url, body);
          const load = await measure(url, body, concurrency, [proc.child.pid!]);
          http.push({ batching, maxWaitMs: batching === 'on+wait' ? waitMs : 0, body, concurrency, overlap: sameResults, load });
          console.log(`batching ${batching}, ${body}, c${concurrency}:`, load, 'overlap', sameResults);
        } finally {
          await proc.stop();
        }
      }
}

// The ceiling again after the servers' runs: the higher of the two medians is the machine's capacity (the lower ratio).
const ceilingAfter = http.length > 0 ? await ceiling() : null;
if (ceilingAfter) console.log('in-process searchBatch ceiling after the HTTP runs', ceilingAfter);
await closeWorkers();
const inProcess: InProcess = {
  ceiling: { qps: Math.max(ceilingBefore.qps, ceilingAfter?.qps ?? 0), before: ceilingBefore, after: ceilingAfter },
  single,
  batcher: batcher64,
};

let shards: ShardRun[] = [];
if (!values['no-shards']) {
  t0 = performance.now();
  shards = await runShardConfigs({
    natsServer: String(values['nats-server']),
    data: join(mnistDir(), 'train-images-idx3-ubyte'),
    n,
    m: num('m'),
    efConstruction: num('ef-construction'),
    threads,
    shardCounts: [1, num('shards')],
    concurrency: num('shard-concurrency'),
    dir,
    measure,
    overlap,
  });
  console.log(`shards: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

const ratios = ratiosOf(http, shards, inProcess, num('shard-concurrency'));
printTable(http, shards, inProcess, ratios);
mkdirSync(values.out!, { recursive: true });
writeFileSync(
  join(values.out!, 'serve.json'),
  `${JSON.stringify(
    {
      machine: {
        cpu: cpus()[0]?.model,
        threads: availableParallelism(),
        node: process.version,
        // Other work on the machine: the 1/5/15-minute load averages when the run began and ended.
        loadAverage: { start: loadAtStart.map((v) => +v.toFixed(2)), end: loadavg().map((v) => +v.toFixed(2)) },
      },
      params: { n, nq: queries.size, k: K, ef: EF, m: num('m'), efConstruction: num('ef-construction'), threads, seconds, warmup },
      buildSeconds: +buildSeconds.toFixed(1),
      inProcess,
      http,
      shards,
      ratios,
    },
    null,
    2,
  )}\n`,
);

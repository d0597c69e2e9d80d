/**
 * A living index against a fresh build of the same items (issue 10's sequence): build half of
 * MNIST, add the other half, remove 10 %, add back 5 %; then recall@10 and QPS of both over an
 * ef sweep, exact ground truth over the live items. Times each change. Writes
 * bench/results/living.json.
 *
 *   npm run bench:living -- [--n 60000] [--nq 1000] [--efs 10,16,...] [--min-time 1000]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DenseDataset } from '../src/data/dense.js';
import { closeWorkers } from '../src/index.js';
import { FlatIndex } from '../src/indexes/flat.js';
import { HnswIndex } from '../src/indexes/hnsw/hnsw-index.js';
import { loadMnist } from '../src/node/mnist.js';
import { ROOT } from './args.js';

const K = 10;
const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '60000' },
    nq: { type: 'string', default: '1000' },
    efs: { type: 'string', default: '10,16,24,32,48,64,96,128' },
    'min-time': { type: 'string', default: '1000' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results') },
  },
});
const n = Number(values.n);
const efs = values.efs!.split(',').map(Number);
const { train, test: queries } = loadMnist(n, Number(values.nq));
const BUILD = { metric: 'l2' as const, m: 16, efConstruction: 200, seed: 1 };

function rows(ids: readonly number[]): DenseDataset {
  const out = new Float32Array(ids.length * train.dim);
  for (const [i, id] of ids.entries()) out.set(train.get(id), i * train.dim);
  return new DenseDataset(out, train.dim);
}
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const seconds = (t0: number) => +((performance.now() - t0) / 1000).toFixed(2);

const times: Record<string, number> = {};
let t0 = performance.now();
const half = Math.floor(n / 2);
const living = await HnswIndex.buildAsync(rows(range(0, half)), { ...BUILD, keys: range(0, half) });
times['build half (all threads)'] = seconds(t0);
t0 = performance.now();
await living.addAsync(rows(range(half, n)), range(half, n));
times['add the other half (addAsync, all threads)'] = seconds(t0);
const removed = range(0, n).filter((i) => i % 10 === 7);
t0 = performance.now();
living.remove(removed);
times['remove 10 % (one call)'] = seconds(t0);
const back = removed.filter((_, i) => i % 2 === 0);
t0 = performance.now();
living.add(rows(back), back);
times['add back 5 % (one call, reusing slots)'] = seconds(t0);
const live = new Set(range(0, n));
for (const id of removed) live.delete(id);
for (const id of back) live.add(id);
const liveIds = [...live].sort((a, b) => a - b);
t0 = performance.now();
const fresh = await HnswIndex.buildAsync(rows(liveIds), { ...BUILD, keys: liveIds });
times['fresh build of the live items (all threads)'] = seconds(t0);

// Exact top-k over the live items, as keys (MNIST row numbers).
const exact = await FlatIndex.build(rows(liveIds), { metric: 'l2' }).searchBatch(queries, K);
const truth = Array.from(exact.ids, (i) => liveIds[i]!);
const gone = new Set(removed.filter((id) => !live.has(id)));

function sweep(index: HnswIndex, name: string) {
  return efs.map((ef) => {
    const keys = new Array<number>(queries.size * K);
    let best = Infinity;
    let spent = 0;
    for (let q = 0; q < Math.min(100, queries.size); q++) index.search(queries.get(q), K, { ef });
    for (let pass = 0; pass < 2 || spent < Number(values['min-time']); pass++) {
      const s = performance.now();
      for (let q = 0; q < queries.size; q++) {
        const r = index.search(queries.get(q), K, { ef });
        for (let i = 0; i < K; i++) keys[q * K + i] = r.keys![i] as number;
      }
      const ms = performance.now() - s;
      spent += ms;
      best = Math.min(best, ms);
    }
    let hit = 0;
    for (let q = 0; q < queries.size; q++) {
      const row = new Set(keys.slice(q * K, (q + 1) * K));
      for (let i = 0; i < K; i++) if (row.has(truth[q * K + i]!)) hit++;
    }
    if (keys.some((key) => gone.has(key))) throw new Error(`${name}: a removed key was returned`);
    const point = { ef, recall: hit / (queries.size * K), qps: (queries.size * 1000) / best };
    process.stderr.write(`[${name}] ef ${ef}: recall ${point.recall.toFixed(4)}, ${Math.round(point.qps)} QPS\n`);
    return point;
  });
}
const livingPoints = sweep(living, 'living');
const freshPoints = sweep(fresh, 'fresh');
const report = {
  environment: { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), date: new Date().toISOString() },
  n,
  nq: queries.size,
  live: live.size,
  times,
  living: livingPoints,
  fresh: freshPoints,
  recallDifference: livingPoints.map((p, i) => ({
    ef: p.ef,
    livingMinusFresh: +(p.recall - freshPoints[i]!.recall).toFixed(4),
    qpsRatio: +(p.qps / freshPoints[i]!.qps).toFixed(2),
  })),
};
console.log(JSON.stringify(report.times));
console.log('| ef | living recall@10 | fresh recall@10 | difference | living / fresh QPS |');
console.log('|---|---|---|---|---|');
for (const [i, d] of report.recallDifference.entries()) {
  console.log(
    `| ${d.ef} | ${livingPoints[i]!.recall.toFixed(4)} | ${freshPoints[i]!.recall.toFixed(4)} | ${d.livingMinusFresh >= 0 ? '+' : ''}${d.livingMinusFresh.toFixed(4)} | ${d.qpsRatio}x |`,
  );
}
mkdirSync(values.out!, { recursive: true });
writeFileSync(join(values.out!, 'living.json'), `${JSON.stringify(report, null, 1)}\n`);
await closeWorkers();

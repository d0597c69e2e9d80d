/**
 * Sparse search speed (issue 11) on splade-pp-ed (56,637 SPLADE documents, inner product):
 * builds HNSW once per (m, efConstruction) on every core, then, on one thread, sweeps ef with
 * the WebAssembly gather kernel and the JS loop on the same graph (interleaved pass by pass),
 * and the early-termination slack lambda at a generous ef. Reports recall@10 (ties count, as
 * the dataset README defines it) and QPS, and QPS at recall 0.95. Writes
 * bench/results/sparse.json.
 *
 *   npm run bench:sparse -- [--graphs 16x200,32x400] [--nq 1000] [--efs 40,50,...] [--lambdas 0.3,0.5] [--min-time 1000]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { closeWorkers, type GroundTruth, recallAtK } from '../src/index.js';
import { HnswIndex } from '../src/indexes/hnsw/hnsw-index.js';
import { readCsr } from '../src/io/csr.js';
import { readFvecs, readIvecs } from '../src/io/vecs.js';
import { PlainSparseStore } from '../src/quant/plain.js';
import { ROOT } from './args.js';
import { BGE_DIR } from './datasets.js';
import { qpsAtRecall, type SweepPoint } from './measure.js';

const { values } = parseArgs({
  options: {
    graphs: { type: 'string', default: '16x200,32x400' },
    nq: { type: 'string', default: '1000' },
    efs: { type: 'string', default: '40,50,60,80,100,150,200,300,400' },
    lambdas: { type: 'string', default: '0.2,0.3,0.5' },
    'lambda-ef': { type: 'string', default: '400' },
    'min-time': { type: 'string', default: '1000' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results') },
  },
});
const dir = join(BGE_DIR, '..', 'splade-pp-ed');
const bytes = (f: string) => new Uint8Array(readFileSync(join(dir, f)));
const nq = Number(values.nq);
const base = readCsr(bytes('base.csr'));
const queries = readCsr(bytes('queries.csr'), nq);
const gt: GroundTruth = { ...readIvecs(bytes('groundtruth.ivecs'), nq), scores: readFvecs(bytes('groundtruth.dist.fvecs'), nq).data };
const log = (line: string) => process.stderr.write(`${line}\n`);

/** One timed point: whole passes over the queries until min-time; QPS of the fastest pass. */
function measure(index: HnswIndex, params: { ef: number; lambda?: number }): SweepPoint {
  const out = new Int32Array(queries.size * 10);
  const scores = new Float32Array(queries.size * 10);
  for (let q = 0; q < Math.min(50, queries.size); q++) index.search(queries.get(q), 10, params);
  let best = Infinity;
  let total = 0;
  let passes = 0;
  do {
    const t0 = performance.now();
    for (let q = 0; q < queries.size; q++) {
      const r = index.search(queries.get(q), 10, params);
      if (passes === 0) {
        out.set(r.ids, q * 10);
        scores.set(r.scores, q * 10);
      }
    }
    const ms = performance.now() - t0;
    best = Math.min(best, ms);
    total += ms;
    passes++;
  } while (passes < 2 || total < Number(values['min-time']));
  const recall = recallAtK(out, 10, gt, { scores });
  return {
    ef: params.ef,
    recall,
    recallStrict: recallAtK(out, 10, gt),
    qps: (queries.size / best) * 1000,
    qpsMean: ((queries.size * passes) / total) * 1000,
    passes,
    timedMs: total,
  };
}

const report: Record<string, unknown>[] = [];
for (const spec of values.graphs!.split(',')) {
  const [m, efc] = spec.split('x').map(Number) as [number, number];
  const t0 = performance.now();
  const wasm = await HnswIndex.buildAsync(base, { metric: 'ip', m, efConstruction: efc, seed: 1 });
  await wasm.close();
  const buildSeconds = (performance.now() - t0) / 1000;
  const js = wasm.withStore(new PlainSparseStore(base, 'ip', { simd: false }));
  log(`[sparse] M=${m} efConstruction=${efc}: built in ${buildSeconds.toFixed(1)} s (all cores)`);
  const series: Record<string, SweepPoint[]> = { wasm: [], js: [] };
  for (const ef of values.efs!.split(',').map(Number)) {
    // Interleaved: a burst of load from elsewhere falls on both kernels alike.
    for (const [name, index] of [
      ['wasm', wasm],
      ['js', js],
    ] as const) {
      const p = measure(index, { ef });
      series[name]!.push(p);
      log(
        `[sparse] M=${m} efC=${efc} ${name.padEnd(4)} ef=${String(ef).padStart(4)} recall@10=${p.recall.toFixed(4)} qps=${p.qps.toFixed(0)}`,
      );
    }
  }
  const lambdaEf = Number(values['lambda-ef']);
  const lambdas = values
    .lambdas!.split(',')
    .filter((s) => s !== '')
    .map(Number)
    .map((lambda) => {
      const p = measure(wasm, { ef: lambdaEf, lambda });
      log(`[sparse] M=${m} efC=${efc} wasm ef=${lambdaEf} lambda=${lambda} recall@10=${p.recall.toFixed(4)} qps=${p.qps.toFixed(0)}`);
      return { lambda, ...p };
    });
  const at95 = { wasm: qpsAtRecall(series['wasm']!, 0.95), js: qpsAtRecall(series['js']!, 0.95) };
  log(
    `[sparse] M=${m} efC=${efc}: QPS at recall 0.95 wasm ${at95.wasm.qps?.toFixed(0)} (${at95.wasm.note}), js ${at95.js.qps?.toFixed(0)}; ratio ${at95.wasm.qps && at95.js.qps ? (at95.wasm.qps / at95.js.qps).toFixed(2) : '-'}`,
  );
  report.push({ m, efConstruction: efc, buildSeconds: +buildSeconds.toFixed(1), qpsAt95: at95, series, lambdaEf, lambdas });
}
await closeWorkers();
mkdirSync(values.out!, { recursive: true });
const file = join(values.out!, 'sparse.json');
writeFileSync(
  file,
  JSON.stringify(
    {
      dataset: `splade-pp-ed: ${base.size} base, ${queries.size} queries (sparse, inner product)`,
      k: 10,
      searchThreads: 1,
      report,
      cpu: cpus()[0]?.model,
      cores: cpus().length,
      node: process.version,
      date: new Date().toISOString(),
    },
    null,
    2,
  ),
);
log(`[sparse] wrote ${file}`);

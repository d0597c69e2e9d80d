/**
 * f16 and SQ8 storage against f32 on one graph (issue 11): build HNSW on the plain vectors
 * once, quantize() it to f16 and to SQ8 (plain vectors kept for re-ranking), then sweep ef
 * with the modes interleaved pass by pass (same process, same graph: the ratios are the
 * store's alone). Reports recall@10 at the same ef, QPS ratios, QPS at recall 0.95 and the
 * store bytes. Writes bench/results/quantized-<dataset>.json.
 *
 *   npm run bench:quantized -- [--datasets bge,mnist] [--n 60000] [--nq 1000] [--efs ...]
 *     [--min-time 300] [--passes 3] [--rerank 100] [--out bench/results]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { DenseDataset } from '../src/data/dense.js';
import { HnswIndex } from '../src/indexes/hnsw/hnsw-index.js';
import { ScalarQuantizer } from '../src/quant/scalar/quantizer.js';
import { parseArgs } from './args.js';
import { ensureGroundTruth, loadDataset } from './datasets.js';
import { type ModeResult, qpsAtRecall, recallAtK, sweepInterleaved } from './measure.js';
import type { SearchMode } from './peers.js';

const args = parseArgs(process.argv.slice(2));
const log = (line: string) => process.stderr.write(`${line}\n`);

function mode(name: string, index: HnswIndex, rerank: number): SearchMode {
  let queries: DenseDataset | null = null;
  let ef = 10;
  return {
    name,
    prepare: (q) => void (queries = q),
    setEf: (e) => void (ef = e),
    searchAll(count, k) {
      const out = new Int32Array(count * k);
      const params = { ef, rerank: Math.min(rerank, ef) };
      for (let q = 0; q < count; q++) out.set(index.search(queries!.get(q), k, params).ids, q * k);
      return out;
    },
    ids: (raw) => raw as Int32Array,
  };
}

for (const name of args.datasets) {
  await ensureGroundTruth(name, args);
  const ds = loadDataset(name, args);
  log(`[quantized] ${ds.description}`);
  let t0 = performance.now();
  const plain = await HnswIndex.buildAsync(ds.base, { metric: ds.metric, m: args.m, efConstruction: args.efConstruction, seed: args.seed });
  const buildSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const f16 = plain.quantize(new ScalarQuantizer('f16'), { keepPlain: false });
  const f16Seconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const sq8 = plain.quantize(new ScalarQuantizer('sq8'));
  const sq8Seconds = (performance.now() - t0) / 1000;
  const modes = [mode('f32', plain, 0), mode('f16', f16, 0), mode('sq8', sq8, 0), mode(`sq8 rerank${args.rerank}`, sq8, args.rerank)];
  const score = (ids: Int32Array) => recallAtK(ids, args.k, ds.gt, ds.base, ds.queries, ds.metric);
  const results: ModeResult[] = await sweepInterleaved(
    modes,
    ds.queries,
    {
      efs: args.efs,
      k: args.k,
      warmup: args.warmup,
      minTimeMs: args.minTimeMs,
      minPasses: args.minPasses,
    },
    score,
    log,
  );

  const [f32r] = results;
  const byEf = results.slice(1).map((r) => ({
    mode: r.mode,
    points: r.points.map((p, i) => ({
      ef: p.ef,
      recall: p.recall,
      recallMinusF32: +(p.recall - f32r!.points[i]!.recall).toFixed(4),
      qpsRatio: +(p.qps / f32r!.points[i]!.qps).toFixed(3),
    })),
  }));
  const at95 = Object.fromEntries(results.map((r) => [r.mode, qpsAtRecall(r.points, 0.95)]));
  const storeBytes = { f32: plain.store.byteLength, f16: f16.store.byteLength, sq8: sq8.store.byteLength };
  const summary = {
    dataset: ds.description,
    k: args.k,
    m: args.m,
    efConstruction: args.efConstruction,
    rerank: args.rerank,
    buildSeconds: +buildSeconds.toFixed(2),
    encodeSeconds: { f16: +f16Seconds.toFixed(3), sq8: +sq8Seconds.toFixed(3) },
    storeBytes,
    storeRatio: { f16: +(storeBytes.f16 / storeBytes.f32).toFixed(4), sq8: +(storeBytes.sq8 / storeBytes.f32).toFixed(4) },
    vsF32: byEf,
    qpsAt95: at95,
    qpsAt95Ratio: Object.fromEntries(
      results
        .slice(1)
        .map((r) => [r.mode, at95[r.mode]!.qps && at95['f32']!.qps ? +(at95[r.mode]!.qps! / at95['f32']!.qps!).toFixed(3) : null]),
    ),
    results,
    cpu: cpus()[0]?.model,
    node: process.version,
    date: new Date().toISOString(),
  };
  mkdirSync(args.out, { recursive: true });
  const file = join(args.out, `quantized-${name}.json`);
  writeFileSync(file, JSON.stringify(summary, null, 2));
  log(`[quantized] store bytes ${JSON.stringify(summary.storeRatio)} of f32; QPS@0.95 ratios ${JSON.stringify(summary.qpsAt95Ratio)}`);
  for (const r of byEf)
    log(
      `[quantized] ${r.mode}: ${r.points.map((p) => `ef ${p.ef}: ${p.recallMinusF32 >= 0 ? '+' : ''}${p.recallMinusF32} recall, ${p.qpsRatio}x`).join('; ')}`,
    );
  log(`[quantized] wrote ${file}`);
}

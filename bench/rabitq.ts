/**
 * RaBitQ against f32, f16, SQ8 and PQ on one graph: build HNSW on the plain vectors once,
 * quantize() it to f16 (alone: it replaces f32, no re-ranking), SQ8, PQ and RaBitQ (1, 2 and 4
 * bits; plain vectors kept for re-ranking), then sweep ef with the modes interleaved pass by pass
 * (same process, same graph, a warm-up, at least --min-time ms per point). Quantized modes but
 * f16 re-rank min(--rerank, ef) candidates; RaBitQ's re-ranking computes exact distances only for
 * candidates whose lower bound can enter the top k, and the report gives how many per query.
 * Reports bytes per vector, recall and QPS per ef, QPS at recall 0.95 and its ratios (each
 * quantized mode's over f32's and over SQ8's). Writes bench/results/rabitq-<dataset>.json.
 *
 * Data sets: mnist (784-d L2), bge (768-d IP), bge-pca128 (bge projected onto its top 128
 * principal directions, L2: bench/bge-pca.ts), the synthetic ones (scale only).
 *
 *   npm run build && node dist/bench/rabitq.js -- [--datasets mnist,bge-pca128] [--n 60000] [--nq 1000]
 *     [--efs ...] [--min-time 1000] [--passes 3] [--rerank 100] [--pq-m mnist=98] [--out bench/results]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { DenseDataset } from '../src/data/dense.js';
import { HnswIndex } from '../src/indexes/hnsw/hnsw-index.js';
import { ProductQuantizer } from '../src/quant/pq/quantizer.js';
import { RabitqQuantizer } from '../src/quant/rabitq/quantizer.js';
import type { RabitqStore } from '../src/quant/rabitq/store.js';
import { ScalarQuantizer } from '../src/quant/scalar/quantizer.js';
import { parseArgs } from './args.js';
import { ensureGroundTruth, loadDataset } from './datasets.js';
import { type ModeResult, qpsAtRecall, recallAtK, sweepInterleaved } from './measure.js';
import type { SearchMode } from './peers.js';

const args = parseArgs(process.argv.slice(2));
const log = (line: string) => process.stderr.write(`${line}\n`);

/** Exact distances per query at each ef (SearchResult.reranked), beside the candidates re-ranking was given. */
const exactPerQuery = new Map<string, { ef: number; exact: number; candidates: number }[]>();

type At95 = ReturnType<typeof qpsAtRecall>;

/**
 * QPS@0.95 of every mode but the two references over theirs (null where either never reaches
 * 0.95). A mode already past 0.95 at the smallest ef has only a lower bound (its QPS there): a
 * ratio with such a reference is an upper bound, with such a mode a lower bound. The note names them.
 */
function qpsRatios(at95: Record<string, At95>, f32: string, sq8: string) {
  const ratio = (a: At95 | undefined, b: At95 | undefined) => (a?.qps != null && b?.qps != null ? +(a.qps / b.qps).toFixed(3) : null);
  const state = (name: string) => {
    const note = at95[name]?.note ?? 'no points';
    return note.startsWith('lower bound') ? `${name}: lower bound` : at95[name]?.qps == null ? `${name}: ${note}` : '';
  };
  return Object.fromEntries(
    Object.entries(at95)
      .filter(([m]) => m !== f32 && m !== sq8)
      .map(([m, x]) => {
        const note = [m, f32, sq8]
          .map(state)
          .filter((s) => s !== '')
          .join('; ');
        return [m, { vsF32: ratio(x, at95[f32]), vsSq8: ratio(x, at95[sq8]), note }];
      }),
  );
}

const fmtRatio = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(2)}x`);

function mode(name: string, index: HnswIndex, rerank: number): SearchMode {
  let queries: DenseDataset | null = null;
  let ef = 10;
  let exact = 0;
  let searched = 0;
  const record = () => {
    if (searched === 0 || rerank === 0) return;
    const list = exactPerQuery.get(name) ?? [];
    list.push({ ef, exact: +(exact / searched).toFixed(2), candidates: Math.min(rerank, ef) });
    exactPerQuery.set(name, list);
  };
  return {
    name,
    prepare: (q) => void (queries = q),
    setEf: (e) => {
      record();
      ef = e;
      exact = 0;
      searched = 0;
    },
    searchAll(count, k) {
      const out = new Int32Array(count * k);
      const params = { ef, rerank: Math.min(rerank, ef) };
      for (let q = 0; q < count; q++) {
        const r = index.search(queries!.get(q), k, params);
        out.set(r.ids, q * k);
        exact += r.reranked ?? 0;
      }
      searched += count;
      return out;
    },
    ids: (raw) => raw as Int32Array,
  };
}

for (const name of args.datasets) {
  exactPerQuery.clear(); // per dataset: each JSON holds its own
  await ensureGroundTruth(name, args);
  const ds = loadDataset(name, args);
  log(`[rabitq] ${ds.description}`);
  let t0 = performance.now();
  const plain = await HnswIndex.buildAsync(ds.base, { metric: ds.metric, m: args.m, efConstruction: args.efConstruction, seed: args.seed });
  const buildSeconds = (performance.now() - t0) / 1000;
  const encodeSeconds: Record<string, number> = {};
  const quantized = (label: string, make: () => HnswIndex) => {
    t0 = performance.now();
    const index = make();
    encodeSeconds[label] = +((performance.now() - t0) / 1000).toFixed(3);
    return index;
  };
  const f16 = quantized('f16', () => plain.quantize(new ScalarQuantizer('f16'), { keepPlain: false }));
  const sq8 = quantized('sq8', () => plain.quantize(new ScalarQuantizer('sq8')));
  const pq = quantized('pq', () => plain.quantize(new ProductQuantizer({ m: args.pqM[name] })));
  const rabitq = [1, 2, 4].map((bits) => [bits, quantized(`rabitq${bits}`, () => plain.quantize(new RabitqQuantizer({ bits })))] as const);
  const r = args.rerank;
  const modes = [
    mode('f32', plain, 0),
    mode('f16', f16, 0),
    mode(`sq8 rerank${r}`, sq8, r),
    mode(`pq rerank${r}`, pq, r),
    ...rabitq.map(([bits, index]) => mode(`rabitq${bits} rerank${r}`, index, r)),
  ];
  const score = (ids: Int32Array) => recallAtK(ids, args.k, ds.gt, ds.base, ds.queries, ds.metric);
  const results: ModeResult[] = await sweepInterleaved(
    modes,
    ds.queries,
    { efs: args.efs, k: args.k, warmup: args.warmup, minTimeMs: args.minTimeMs, minPasses: args.minPasses },
    score,
    log,
  );
  for (const m of modes) m.setEf(0);
  const bytesPerVector = {
    f32: plain.store.byteLength / plain.size,
    f16: f16.store.byteLength / f16.size,
    sq8: sq8.store.byteLength / sq8.size,
    pq: pq.store.byteLength / pq.size,
    ...Object.fromEntries(rabitq.map(([bits, index]) => [`rabitq${bits}`, (index.store as RabitqStore).bytesPerVector])),
  };
  const at95 = Object.fromEntries(results.map((x) => [x.mode, qpsAtRecall(x.points, 0.95)]));
  const ratios = qpsRatios(at95, 'f32', `sq8 rerank${r}`);
  const summary = {
    dataset: ds.description,
    k: args.k,
    m: args.m,
    efConstruction: args.efConstruction,
    rerank: r,
    buildSeconds: +buildSeconds.toFixed(2),
    encodeSeconds,
    bytesPerVector,
    qpsAt95: at95,
    qpsAt95Ratios: ratios,
    exactDistancesPerQuery: Object.fromEntries(exactPerQuery),
    results,
    cpu: cpus()[0]?.model,
    node: process.version,
    date: new Date().toISOString(),
  };
  mkdirSync(args.out, { recursive: true });
  const file = join(args.out, `rabitq-${name}.json`);
  writeFileSync(file, JSON.stringify(summary, null, 2));
  log(`[rabitq] bytes/vector ${JSON.stringify(bytesPerVector)}`);
  log(`[rabitq] QPS@0.95 ${JSON.stringify(Object.fromEntries(Object.entries(at95).map(([k, v]) => [k, v.qps && Math.round(v.qps)])))}`);
  for (const [m, x] of Object.entries(ratios))
    log(`[rabitq] QPS@0.95 ratio ${m}: ${fmtRatio(x.vsF32)} f32, ${fmtRatio(x.vsSq8)} SQ8${x.note ? ` (${x.note})` : ''}`);
  log(`[rabitq] wrote ${file}`);
}

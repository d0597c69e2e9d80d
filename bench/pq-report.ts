/**
 * The product-quantization report of the peer benchmark (bench/run.ts): plain vs PQ-HNSW vs
 * PQ-HNSW + re-ranking from the webannolo worker's one graph, the issue's three targets, bytes
 * per vector, `<dataset>-pq.json` / `.svg` and the table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { BenchArgs, DatasetName } from './args.js';
import { renderChart, type Series } from './chart.js';
import { type ModeResult, qpsAtRecall } from './measure.js';
import type { LibResult, PqResult } from './worker.js';

/** The recall at which QPS is compared (interpolated). */
export const TARGET = 0.95;

export const ratio = (a: number | null | undefined, b: number | null | undefined) => (a == null || b == null || b === 0 ? null : a / b);

const PQ_QPS_TARGET = 2;
const PQ_SIZE_TARGET = 16;

const modeOf = (modes: readonly ModeResult[], name: string) => modes.find((m) => m.mode === name);

/** The issue's three targets, from one sweep where plain and PQ ran side by side. */
function pqTargets(r: LibResult, pq: PqResult, k: number) {
  const n = r.dataset.n;
  const [plainMode, pqMode, ...rerankModes] = pq.modes;
  const plain = plainMode!;
  const codes = pqMode!;
  // (1) QPS at the same ef, no re-ranking.
  const perEf = plain.points.map((p) => {
    const q = codes.points.find((x) => x.ef === p.ef);
    return {
      ef: p.ef,
      plainQps: p.qps,
      pqQps: q?.qps ?? null,
      ratio: ratio(q?.qps, p.qps),
      plainRecall: p.recall,
      pqRecall: q?.recall ?? null,
    };
  });
  const rs = perEf.map((x) => x.ratio).filter((x): x is number => x != null);
  const sorted = [...rs].sort((a, b) => a - b);
  const qps = {
    target: `PQ-HNSW (no re-ranking) QPS >= ${PQ_QPS_TARGET}x plain HNSW QPS at the same ef`,
    perEf,
    minRatio: sorted[0] ?? null,
    medianRatio: sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)]! : null,
    maxRatio: sorted[sorted.length - 1] ?? null,
    efsMeeting: perEf.filter((x) => x.ratio != null && x.ratio >= PQ_QPS_TARGET).map((x) => x.ef),
    met: rs.length > 0 && rs.every((x) => x >= PQ_QPS_TARGET),
  };
  // (2) PQ store (codes + codebooks amortised over n) vs the plain vectors.
  const plainVector = pq.memory.pq.rerankBytes / n;
  const store = pq.memory.pq.storeBytes / n;
  const size = {
    target: `PQ store (codes + codebooks) >= ${PQ_SIZE_TARGET}x smaller than the plain vectors`,
    plainVectorBytesPerVector: plainVector,
    pqStoreBytesPerVector: store,
    ratio: plainVector / store,
    codesOnlyRatio: plainVector / (pq.memory.codesBytes / n),
    met: plainVector / store >= PQ_SIZE_TARGET,
  };
  // (3) with re-ranking, recall >= 0.95 at no less QPS than plain HNSW at 0.95.
  const plainAt = qpsAtRecall(plain.points, TARGET);
  const pure = modeOf(r.modes, 'webannolo');
  const pureAt = pure ? qpsAtRecall(pure.points, TARGET) : null;
  const rerank = rerankModes.map((m) => {
    const at = qpsAtRecall(m.points, TARGET);
    return {
      mode: m.mode,
      qpsAt95: at.qps,
      note: at.note,
      ratio: ratio(at.qps, plainAt.qps),
      ratioVsPlainFirstSweep: pureAt ? ratio(at.qps, pureAt.qps) : null,
      met: at.qps != null && plainAt.qps != null && at.qps >= plainAt.qps,
    };
  });
  const recall = {
    target: `with re-ranking, recall@${k} >= ${TARGET} at a QPS >= plain HNSW's QPS at recall ${TARGET} (both interpolated at ${TARGET})`,
    plainQpsAt95: plainAt.qps,
    plainNote: plainAt.note,
    plainFirstSweepQpsAt95: pureAt?.qps ?? null,
    rerank,
    met: rerank.some((x) => x.met),
  };
  return { qps, size, recall };
}

function pqBytes(r: LibResult, pq: PqResult) {
  const n = r.dataset.n;
  const mem = pq.memory;
  const per = (b: number) => b / n;
  return {
    perVector: {
      graph: per(mem.pq.graphBytes),
      codes: per(mem.codesBytes),
      codebooksAmortised: per(mem.codebooksBytes),
      pqStore: per(mem.pq.storeBytes),
      plainVectors: per(mem.pq.rerankBytes),
      plainIndex: per(mem.plain.graphBytes + mem.plain.storeBytes),
      pqIndexWithoutPlain: per(mem.pq.graphBytes + mem.pq.storeBytes),
      pqIndexWithPlain: per(mem.pq.graphBytes + mem.pq.storeBytes + mem.pq.rerankBytes),
      fileWithoutPlain: per(mem.fileBytesCodesOnly),
      fileWithPlain: per(mem.fileBytesWithPlain),
      quantizeExternalDelta: per(pq.externalDeltaBytes),
      quantizeRssDelta: per(pq.rssDeltaBytes),
    },
    totals: { ...mem, quantizeExternalDeltaBytes: pq.externalDeltaBytes, quantizeRssDeltaBytes: pq.rssDeltaBytes },
  };
}

const PQ_COLORS = ['#d62728', '#9467bd', '#ff7f0e', '#8c564b'];

/** Writes `<name>-pq.json` / `.svg` and prints the table; `environment` is run.ts's (machine, versions). */
export function writePqReport(name: DatasetName, r: LibResult, pq: PqResult, args: BenchArgs, environment: object): void {
  const targets = pqTargets(r, pq, args.k);
  const bytes = pqBytes(r, pq);
  const flat = pq.flat.points[0]!;
  const report = {
    dataset: name,
    ...r.dataset,
    k: args.k,
    params: {
      graph: { m: args.m, efConstruction: args.efConstruction, seed: args.seed },
      pq: {
        m: pq.m,
        dsub: pq.dsub,
        ksub: 256,
        trainSample: pq.trainSample,
        maxIterations: pq.maxIterations,
        seed: args.seed,
        kernels: pq.kernels,
      },
      rerank: pq.rerank,
      efs: args.efs,
      minTimeMs: args.minTimeMs,
      minPasses: args.minPasses,
      warmup: args.warmup,
      threads: 1,
    },
    method: [
      'One webannolo HNSW graph is built on the plain vectors; index.quantize(new ProductQuantizer({m, trainSample, maxIterations, seed})) gives',
      'a second HnswIndex over the same graph that searches m-byte PQ codes (asymmetric distance, lookup tables + ADC in WebAssembly) and keeps',
      'the plain vectors for re-ranking. One sweep over ef of four modes: plain HNSW, PQ-HNSW (no re-ranking), PQ+rerank R (the best R candidates',
      'of the beam re-scored by their plain vectors; the library caps R at the beam size, so R > ef re-ranks the whole beam),',
      'PQ+rerank max(ef,R) (always the whole beam), all one query per search() call, in the same process; per ef the modes take turns pass by',
      'pass (rounds of one timed pass each, starting mode rotating) so load from other processes falls on all alike. The plain-only sweep of the peer',
      'comparison (<dataset>.json) ran earlier in that process, before any PQ code; its QPS at 0.95 is kept as plainFirstSweepQpsAt95.',
      'flat PQ: FlatIndex over the PQ store (exhaustive ADC scan, no re-ranking): the recall ceiling of PQ-HNSW without re-ranking.',
      'trainMs: ProductQuantizer.train (k-means++ and Lloyd per subspace, on min(n, trainSample) seeded rows); encodeMs: the quantize() call',
      '(encoding every vector and copying codes and codebooks into wasm memory).',
    ].join(' '),
    bytesDefinition:
      'per vector = bytes / n. graph, pqStore (= codes + codebooks) and plainVectors are index.memory (graphBytes, storeBytes, rerankBytes); codebooks are m x 256 x dsub float32, amortised over n; files are serializeIndex() of the PQ index with and without the plain vectors; quantizeExternalDelta is the growth of process.memoryUsage().external across quantize() (after full GCs): the JS codes and codebooks plus the WebAssembly memory holding their copies and the per-query lookup-table slots, i.e. what this implementation really allocates for the PQ store; quantizeRssDelta is the RSS growth over the same span (noisier: the GC and allocator move RSS by pages)',
    recallDefinition: `recall@${args.k} as in <dataset>.json (ties with the k-th true distance count)`,
    qpsDefinition:
      'fastest of the timed passes over all queries (passes of the four modes interleaved round by round until each has minPasses passes and minTimeMs), one search() call per query; flat PQ: one pass',
    interpolation: `QPS at recall ${TARGET}: linear in recall between the consecutive sweep points (by ef) around ${TARGET}`,
    environment,
    timing: { trainS: pq.trainMs / 1000, encodeS: pq.encodeMs / 1000, graphBuildS: r.buildMs / 1000 },
    bytes,
    flatPq: { recall: flat.recall, recallStrict: flat.recallStrict, qps: flat.qps },
    targets,
    modes: pq.modes,
    plainFirstSweep: modeOf(r.modes, 'webannolo') ?? null,
  };
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, `${name}-pq.json`), `${JSON.stringify(report, null, 2)}\n`);
  const series: Series[] = pq.modes.map((m, i) => ({
    name: m.mode,
    points: m.points,
    color: PQ_COLORS[i % PQ_COLORS.length]!,
    dashed: i === 3,
  }));
  const d = r.dataset;
  const subtitle = `${d.n} items, ${d.nq} queries, ${d.dim}-d ${d.metric}; M=${args.m}, efC=${args.efConstruction}; PQ m=${pq.m} (${pq.dsub}-d subspaces); 1 thread; ${cpus()[0]?.model ?? ''}`;
  writeFileSync(
    join(args.out, `${name}-pq.svg`),
    renderChart(`${name}: plain vs PQ HNSW, recall@${args.k} vs QPS`, subtitle, series, args.k, TARGET, [
      { x: flat.recall, label: `flat PQ ${flat.recall.toFixed(3)}` },
    ]),
  );
  printPqTable(name, r, pq, report, args);
  console.log(`wrote ${join(args.out, `${name}-pq.json`)} and ${name}-pq.svg`);
}

function printPqTable(
  name: string,
  r: LibResult,
  pq: PqResult,
  report: { bytes: ReturnType<typeof pqBytes>; targets: ReturnType<typeof pqTargets>; flatPq: { recall: number; qps: number } },
  args: BenchArgs,
): void {
  const b = report.bytes.perVector;
  const t = report.targets;
  const x = (v: number | null | undefined, d = 2) => (v == null ? 'n/a' : v.toFixed(d));
  const yes = (m: boolean) => (m ? 'MET' : 'NOT MET');
  const lines: string[] = [];
  lines.push('', `== ${name} PQ: ${r.dataset.description}; M=${args.m}, efC=${args.efConstruction}, k=${args.k}, 1 thread ==`);
  lines.push(
    `PQ m=${pq.m} (${pq.dsub}-d subspaces x 256 centroids, ${pq.kernels}): trained on ${pq.trainSample} vectors (<= ${pq.maxIterations} iterations) in ${(pq.trainMs / 1000).toFixed(1)} s, encoded in ${(pq.encodeMs / 1000).toFixed(1)} s`,
  );
  lines.push(
    `bytes/vector: graph ${x(b.graph, 1)}, codes ${x(b.codes, 1)}, codebooks ${x(b.codebooksAmortised, 1)} (amortised over n), plain vectors ${x(b.plainVectors, 1)}`,
  );
  lines.push(
    `  plain HNSW ${x(b.plainIndex, 1)}; PQ-HNSW ${x(b.pqIndexWithoutPlain, 1)} without / ${x(b.pqIndexWithPlain, 1)} with the plain vectors (files ${x(b.fileWithoutPlain, 1)} / ${x(b.fileWithPlain, 1)})`,
  );
  lines.push(
    `  allocated by quantize(): ${x(b.quantizeExternalDelta, 1)} (JS codes + codebooks + wasm memory; RSS delta ${x(b.quantizeRssDelta, 1)})`,
  );
  lines.push(
    `flat PQ (exhaustive scan over codes): recall@${args.k} ${report.flatPq.recall.toFixed(4)}, QPS ${report.flatPq.qps.toFixed(0)}`,
  );
  const colW = Math.max(17, ...pq.modes.map((m) => m.mode.length + 2));
  lines.push('', `recall@${args.k} / QPS per ef; PQ/plain = QPS ratio at the same ef`);
  lines.push('ef'.padStart(5) + pq.modes.map((m) => m.mode.padStart(colW)).join('') + 'PQ/plain'.padStart(10));
  for (const ef of args.efs) {
    const cells = pq.modes.map((m) => {
      const p = m.points.find((q) => q.ef === ef);
      return (p ? `${p.recall.toFixed(4)} / ${p.qps.toFixed(0)}` : '-').padStart(colW);
    });
    const rr = t.qps.perEf.find((q) => q.ef === ef)?.ratio;
    lines.push(String(ef).padStart(5) + cells.join('') + x(rr).padStart(10));
  }
  lines.push('targets (measured side by side in this run):');
  lines.push(
    `  (1) PQ-HNSW / plain QPS at the same ef >= ${PQ_QPS_TARGET}: min ${x(t.qps.minRatio)}, median ${x(t.qps.medianRatio)}, max ${x(t.qps.maxRatio)}; ef meeting it: ${t.qps.efsMeeting.join(',') || 'none'} -> ${yes(t.qps.met)}`,
  );
  lines.push(
    `  (2) plain vectors / PQ store >= ${PQ_SIZE_TARGET}: ${x(t.size.plainVectorBytesPerVector, 0)} / ${x(t.size.pqStoreBytesPerVector, 1)} B = ${x(t.size.ratio, 1)}x (codes alone ${x(t.size.codesOnlyRatio, 1)}x) -> ${yes(t.size.met)}`,
  );
  lines.push(
    `  (3) QPS at recall ${TARGET}: plain HNSW ${x(t.recall.plainQpsAt95, 0)} (first, plain-only sweep: ${x(t.recall.plainFirstSweepQpsAt95, 0)})`,
  );
  for (const m of t.recall.rerank) {
    lines.push(
      `      ${m.mode}: ${x(m.qpsAt95, 0)}${m.note.startsWith('lower') ? ' (>=)' : ''} (${m.note}), ratio ${x(m.ratio)} (vs first sweep ${x(m.ratioVsPlainFirstSweep)}) -> ${yes(m.met)}`,
    );
  }
  console.log(lines.join('\n'));
}

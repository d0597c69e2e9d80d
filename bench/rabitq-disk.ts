/**
 * RaBitQ at a scale where the plain vectors do not belong in memory: n synthetic dense vectors
 * (default 1M x 768, the clustered generator of bench/synthetic.ts at this dimension; synthetic,
 * so its recall says how hard the generator is, not how the library does on real embeddings),
 * an HNSW graph built on the plain vectors, searched on RaBitQ codes, re-ranked from the plain
 * vectors left in the index file (`loadIndexFile(path, { rerank: 'disk' })`).
 *
 * Two phases, two processes, so the search's RSS is only what searching needs:
 *  - build: generates the data, exact top-10 of the queries (FlatIndex, all threads), builds the
 *    graph (buildAsync, --threads), quantizes with the plain vectors kept, saves the file and
 *    the queries + ground truth beside it; reports generation, ground-truth, build, quantize
 *    and save times and the file's size.
 *  - search (a fresh child process): opens the file with re-ranking from disk, reports RSS after
 *    opening, then per ef a warm-up and a timed loop of single-query searches (at least
 *    --min-time ms) with recall@10, QPS and exact distances per query; the peak RSS at the end.
 *
 *   npm run build && node dist/bench/rabitq-disk.js [--n 1000000] [--dim 768] [--nq 100] [--bits 1]
 *     [--m 16] [--ef-construction 100] [--threads 2] [--efs 64,128,256,512] [--rerank 200]
 *     [--min-time 1000] [--file /tmp/webannolo-rabitq-1m.wann] [--phase all|build|search]
 *
 * Writes bench/results/rabitq-disk.json (the summary of both phases).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DenseDataset } from '../src/data/dense.js';
import { FlatIndex } from '../src/indexes/flat.js';
import { HnswIndex } from '../src/indexes/hnsw/hnsw-index.js';
import { loadIndexFile, saveIndexFile } from '../src/node/index-files.js';
import { RabitqQuantizer } from '../src/quant/rabitq/quantizer.js';
import { samplePoints, syntheticModel } from './synthetic.js';

function flag(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
}
const num = (name: string, fallback: number) => {
  const v = Number(flag(name, String(fallback)));
  if (!Number.isFinite(v)) throw new Error(`--${name} must be a number`);
  return v;
};

const n = num('n', 1_000_000);
const dim = num('dim', 768);
const nq = num('nq', 100);
const bits = num('bits', 1);
const m = num('m', 16);
const efConstruction = num('ef-construction', 100);
const threads = num('threads', cpus().length);
const efs = flag('efs', '64,128,256,512').split(',').map(Number);
const rerank = num('rerank', 200);
const minTimeMs = num('min-time', 1000);
const seed = num('seed', 1);
const K = 10;
const file = flag('file', `/tmp/webannolo-rabitq-${n}x${dim}-${bits}bit.wann`);
const phase = flag('phase', 'all');
const out = flag('out', 'bench/results');
const log = (line: string) => process.stderr.write(`[rabitq-disk] ${line}\n`);
const seconds = (t0: number) => +((performance.now() - t0) / 1000).toFixed(2);
const mib = (bytes: number) => +(bytes / 2 ** 20).toFixed(1);

/** Queries (f32 rows) and their exact top-K ids, beside the index file. */
const sidecar = `${file}.queries-gt.bin`;

async function build(): Promise<Record<string, unknown>> {
  let t0 = performance.now();
  const model = syntheticModel(n, seed, dim);
  const base = samplePoints(model, n, seed);
  const queries = samplePoints(model, nq, (seed ^ 0x80000000) >>> 0);
  const generateSeconds = seconds(t0);
  log(`generated ${n} x ${dim} (${model.clusters} clusters) in ${generateSeconds} s`);

  t0 = performance.now();
  const truth = await FlatIndex.build(base, { metric: 'l2' }).searchBatch(queries, K);
  const groundTruthSeconds = seconds(t0);
  log(`exact top-${K} of ${nq} queries in ${groundTruthSeconds} s`);
  const bytes = new Uint8Array(nq * dim * 4 + nq * K * 4);
  bytes.set(new Uint8Array(queries.data.buffer, queries.data.byteOffset, nq * dim * 4), 0);
  bytes.set(new Uint8Array(truth.ids.buffer, truth.ids.byteOffset, nq * K * 4), nq * dim * 4);
  writeFileSync(sidecar, bytes);

  t0 = performance.now();
  let last = 0;
  const plain = await HnswIndex.buildAsync(base, {
    metric: 'l2',
    m,
    efConstruction,
    seed,
    threads,
    onProgress: (done, total) => {
      if (performance.now() - last < 30_000) return;
      last = performance.now();
      log(`build ${done} / ${total} (${seconds(t0)} s)`);
    },
  });
  const buildSeconds = seconds(t0);
  log(`graph built in ${buildSeconds} s (m ${m}, efConstruction ${efConstruction}, ${threads} threads)`);
  t0 = performance.now();
  const index = plain.quantize(new RabitqQuantizer({ bits }), { keepPlain: true });
  const quantizeSeconds = seconds(t0);
  t0 = performance.now();
  await saveIndexFile(index, file);
  const saveSeconds = seconds(t0);
  const memory = index.memory;
  log(`quantized in ${quantizeSeconds} s, saved in ${saveSeconds} s: ${mib(statSync(file).size)} MiB`);
  return {
    n,
    dim,
    nq,
    bits,
    m,
    efConstruction,
    threads,
    clusters: model.clusters,
    generateSeconds,
    groundTruthSeconds,
    buildSeconds,
    quantizeSeconds,
    saveSeconds,
    fileMiB: mib(statSync(file).size),
    graphMiB: mib(memory.graphBytes),
    codesMiB: mib(memory.storeBytes),
    plainMiB: mib(memory.rerankBytes),
    buildPeakRssMiB: mib(process.resourceUsage().maxRSS * 1024),
  };
}

async function search(): Promise<Record<string, unknown>> {
  const rssBefore = process.memoryUsage().rss;
  const raw = readFileSync(sidecar);
  const queries = new DenseDataset(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + nq * dim * 4)), dim);
  const truth = new Int32Array(raw.buffer.slice(raw.byteOffset + nq * dim * 4, raw.byteOffset + raw.length));
  let t0 = performance.now();
  const index = await loadIndexFile(file, { rerank: 'disk' });
  const openSeconds = seconds(t0);
  if (!(index instanceof HnswIndex)) throw new Error('expected an HNSW index');
  const rssOpen = process.memoryUsage().rss;
  log(`opened in ${openSeconds} s: RSS ${mib(rssOpen)} MiB (${mib(rssBefore)} before)`);
  const points: Record<string, number>[] = [];
  for (const ef of efs) {
    const params = { ef, rerank: Math.min(rerank, ef) };
    const ids = new Int32Array(nq * K);
    let reranked = 0;
    const pass = () => {
      for (let q = 0; q < nq; q++) {
        const r = index.search(queries.get(q), K, params);
        ids.set(r.ids, q * K);
        reranked += r.reranked ?? 0;
      }
    };
    t0 = performance.now();
    while (performance.now() - t0 < 200) pass();
    reranked = 0;
    let passes = 0;
    t0 = performance.now();
    do {
      pass();
      passes++;
    } while (performance.now() - t0 < minTimeMs);
    const qps = (passes * nq) / ((performance.now() - t0) / 1000);
    let hits = 0;
    for (let q = 0; q < nq; q++) {
      const want = new Set(truth.subarray(q * K, (q + 1) * K));
      for (let i = 0; i < K; i++) if (want.has(ids[q * K + i]!)) hits++;
    }
    const point = { ef, rerank: params.rerank, recall: +(hits / (nq * K)).toFixed(4), qps: Math.round(qps) };
    if (reranked > 0) Object.assign(point, { exactPerQuery: +(reranked / (passes * nq)).toFixed(1) });
    points.push(point);
    log(`ef ${ef} rerank ${params.rerank}: recall@10 ${point.recall}, ${point.qps} QPS, RSS ${mib(process.memoryUsage().rss)} MiB`);
  }
  return {
    openSeconds,
    rssBeforeOpenMiB: mib(rssBefore),
    rssAfterOpenMiB: mib(rssOpen),
    peakRssMiB: mib(process.resourceUsage().maxRSS * 1024),
    points,
  };
}

if (phase === 'search') {
  process.stdout.write(`${JSON.stringify(await search())}\n`);
} else {
  mkdirSync(out, { recursive: true });
  const summary: Record<string, unknown> = { data: `synthetic clustered ${dim}-d (bench/synthetic.ts), L2 — not a recall claim`, file };
  if (phase === 'all' || phase === 'build' || !existsSync(file)) summary['build'] = await build();
  if (phase !== 'build') {
    // A fresh process: the RSS of searching, not of building.
    const given = process.argv.slice(2);
    const at = given.indexOf('--phase');
    if (at >= 0) given.splice(at, 2);
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...given, '--phase', 'search'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 24,
    });
    if (child.status !== 0) throw new Error(`search phase failed (${child.status})`);
    summary['search'] = JSON.parse(child.stdout.toString().trim());
  }
  summary['cpu'] = cpus()[0]?.model;
  summary['node'] = process.version;
  summary['date'] = new Date().toISOString();
  writeFileSync(`${out}/rabitq-disk.json`, JSON.stringify(summary, null, 2));
  log(JSON.stringify(summary));
}

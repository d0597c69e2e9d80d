/**
 * webannolo vs hnswlib-node vs usearch: build time, memory and the recall@10 / QPS trade-off,
 * single-threaded. `npm run bench -- --help` lists the flags. Each (dataset, library) pair runs
 * in its own forked process (bench/worker.ts); this file gathers, reports and charts.
 */
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { arch, cpus, platform, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchArgs, type DatasetName, isSynthetic, type LibName, parseArgs, ROOT } from './args.js';
import { renderChart } from './chart.js';
import { ensureGroundTruth } from './datasets.js';
import { qpsAtRecall } from './measure.js';
import { ratio, TARGET, writePqReport } from './pq-report.js';
import type { LibResult, WorkerJob } from './worker.js';

const MEMORY_METHOD = [
  'Every library runs in a fresh process (node --expose-gc, MALLOC_MMAP_THRESHOLD_=131072 so freed large blocks leave RSS). rssDeltaBytes: RSS (after a full GC) with the dataset',
  'loaded, then a single-threaded build, then the bench drops its references to the base vectors and reads RSS after',
  'a full GC again; index = after - before + bytes of the base vectors. So a library is charged for the vectors it',
  'copies into its index (hnswlib, usearch and webannolo all copy) plus its graph and allocator overhead.',
  'rssNetBytes: the same minus the growth of committed-but-empty V8 heap pages (garbage left by temporary JS objects,',
  'mainly the number[] conversions hnswlib-node needs). fileBytes: size of the serialized index',
  '(webannolo serializeIndex(), hnswlib-node writeIndexSync(), usearch save()): vectors + links + ids.',
  'selfReportedBytes: webannolo index.memory graphBytes + storeBytes (the peers expose no such figure to JS).',
].join(' ');

function runWorker(job: WorkerJob): Promise<LibResult> {
  const script = join(fileURLToPath(new URL('.', import.meta.url)), 'worker.js');
  return new Promise((resolve, reject) => {
    // A fixed glibc mmap threshold: large blocks (vectors, graphs) are mmapped and go back to
    // the OS when freed, so RSS deltas do not depend on glibc's adaptive threshold and on which
    // freed block happened to stay in the heap.
    const env = { ...process.env, MALLOC_MMAP_THRESHOLD_: '131072' };
    const child = fork(script, [JSON.stringify(job)], { execArgv: ['--expose-gc'], env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: LibResult | null = null;
    child.on('message', (m) => (result = m as LibResult));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0 && result) resolve(result);
      else reject(new Error(`${job.dataset}/${job.lib} worker exited with code ${code}`));
    });
  });
}

function environment() {
  const cpu = cpus();
  return {
    node: process.version,
    date: new Date().toISOString(),
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    platform: `${platform()} ${arch()}`,
    totalMemGiB: +(totalmem() / 2 ** 30).toFixed(1),
    versions: { webannolo: version('..'), 'hnswlib-node': version('hnswlib-node'), usearch: version('usearch') },
  };
}

function version(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

interface Summary {
  buildS: number;
  rssMiB: number;
  rssNetMiB: number;
  fileMiB: number | null;
  selfReportedMiB: number | null;
  qps95: Record<string, { qps: number | null; note: string }>;
}

const MiB = 2 ** 20;
const mib = (b: number | null) => (b == null ? null : b / MiB);

function summarize(r: LibResult): Summary {
  const qps95: Summary['qps95'] = {};
  for (const m of r.modes) qps95[m.mode] = qpsAtRecall(m.points, TARGET);
  return {
    buildS: r.buildMs / 1000,
    rssMiB: r.memory.rssDeltaBytes / MiB,
    rssNetMiB: r.memory.rssNetBytes / MiB,
    fileMiB: mib(r.memory.savedBytes),
    selfReportedMiB: mib(r.memory.selfReportedBytes),
    qps95,
  };
}

function ratios(sums: Partial<Record<LibName, Summary>>, batchSize: number) {
  const w = sums.webannolo;
  const out: Record<string, Record<string, number | null>> = {};
  if (!w) return out;
  const wb = w.qps95[`webannolo batch${batchSize}`]?.qps;
  for (const peer of ['hnswlib', 'usearch'] as const) {
    const p = sums[peer];
    if (!p) continue;
    out[`webannolo/${peer}`] = {
      qpsAt95: ratio(w.qps95.webannolo?.qps, p.qps95[peer]?.qps),
      qpsAt95WebannoloBatch: ratio(wb, p.qps95[peer]?.qps),
      ...(peer === 'usearch' ? { qpsAt95BatchVsBatch: ratio(wb, p.qps95[`usearch batch${batchSize}`]?.qps) } : {}),
      buildTime: ratio(w.buildS, p.buildS),
      memoryRss: ratio(w.rssMiB, p.rssMiB),
      memoryRssNet: ratio(w.rssNetMiB, p.rssNetMiB),
      memoryFile: ratio(w.fileMiB, p.fileMiB),
    };
  }
  return out;
}

function printTable(
  name: string,
  results: Partial<Record<LibName, LibResult>>,
  sums: Partial<Record<LibName, Summary>>,
  rs: ReturnType<typeof ratios>,
  args: BenchArgs,
): void {
  const first = Object.values(results)[0];
  if (!first) return;
  const lines: string[] = [];
  lines.push('', `== ${name}: ${first.dataset.description}; M=${args.m}, efC=${args.efConstruction}, k=${args.k}, 1 thread ==`);
  lines.push(
    `${'library'.padEnd(12)}${'build s'.padStart(9)}${'rss MiB'.padStart(9)}${'net MiB'.padStart(9)}${'file MiB'.padStart(10)}   QPS @ recall ${TARGET}`,
  );
  const num = (v: number | null, w: number) => (v == null ? 'n/a' : v.toFixed(1)).padStart(w);
  for (const [lib, s] of Object.entries(sums)) {
    const q = Object.entries(s.qps95)
      .map(([mode, v]) => `${mode}: ${v.qps == null ? 'n/a' : v.qps.toFixed(0)}${v.note.startsWith('lower') ? ' (>=)' : ''}`)
      .join(', ');
    lines.push(`${lib.padEnd(12)}${num(s.buildS, 9)}${num(s.rssMiB, 9)}${num(s.rssNetMiB, 9)}${num(s.fileMiB, 10)}   ${q}`);
  }
  const modes = Object.values(results).flatMap((r) => r!.modes);
  const colW = Math.max(17, ...modes.map((m) => m.mode.length + 2));
  lines.push('', `recall@${args.k} / QPS per ef`);
  lines.push('ef'.padStart(5) + modes.map((m) => m.mode.padStart(colW)).join(''));
  for (const ef of args.efs) {
    const cells = modes.map((m) => {
      const p = m.points.find((x) => x.ef === ef);
      return (p ? `${p.recall.toFixed(4)} / ${p.qps.toFixed(0)}` : '-').padStart(colW);
    });
    lines.push(String(ef).padStart(5) + cells.join(''));
  }
  for (const [pair, r] of Object.entries(rs)) {
    const cells = Object.entries(r).map(([key, v]) => `${key} ${v == null ? 'n/a' : v.toFixed(2)}`);
    lines.push(`${pair}: ${cells.join(', ')}`);
  }
  console.log(lines.join('\n'));
}

async function benchDataset(name: DatasetName, args: BenchArgs): Promise<void> {
  await ensureGroundTruth(name, args);
  const results: Partial<Record<LibName, LibResult>> = {};
  for (const lib of args.libs) results[lib] = await runWorker({ dataset: name, lib, args });
  const sums: Partial<Record<LibName, Summary>> = {};
  for (const [lib, r] of Object.entries(results)) sums[lib as LibName] = summarize(r!);
  const rs = ratios(sums, args.batchSize);
  const first = Object.values(results)[0]!;
  const cpu = cpus();
  const pq = results.webannolo?.pq;
  if (pq) writePqReport(name, results.webannolo!, pq, args, environment());
  else if (args.pq && !args.libs.includes('webannolo')) console.log(`(no PQ part for ${name}: it needs --libs to include webannolo)`);
  if (args.pqOnly) return;
  const report = {
    dataset: name,
    ...first.dataset,
    k: args.k,
    params: {
      m: args.m,
      efConstruction: args.efConstruction,
      seed: args.seed,
      efs: args.efs,
      batchSize: args.batchSize,
      minTimeMs: args.minTimeMs,
      minPasses: args.minPasses,
      warmup: args.warmup,
      threads: 1,
    },
    recallDefinition: `recall@${args.k}: returned ids in the true top-${args.k}, plus returned ids whose exact (float64) distance ties the worst of the true top-${args.k} (1e-9 relative slack), over ${args.k}, averaged; recallStrict is the plain set intersection`,
    qpsDefinition:
      'single-query modes: one search call per query, queries pre-converted; batch modes: one call per batch; whole passes over all queries repeated (at least minPasses, until minTimeMs) after an untimed warmup on the first queries; qps is the fastest pass, qpsMean the mean over passes',
    interpolation: `QPS at recall ${TARGET}: linear in recall between the consecutive sweep points (by ef) around ${TARGET}`,
    memoryMethod: MEMORY_METHOD,
    ratioMeaning:
      'webannolo value / peer value: QPS > 1 means webannolo is faster; build time and memory > 1 mean webannolo is slower / larger',
    environment: environment(),
    summary: sums,
    ratios: rs,
    ...(pq ? { pqReport: `${name}-pq.json (plain vs PQ-HNSW vs PQ-HNSW + re-ranking, same webannolo graph and process)` } : {}),
    libs: Object.fromEntries(Object.entries(results).map(([lib, r]) => [lib, { ...r, pq: undefined }])),
  };
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
  const series = Object.values(results).flatMap((r) => r!.modes.map((m) => ({ name: m.mode, points: m.points })));
  const subtitle = `${first.dataset.n} items, ${first.dataset.nq} queries, ${first.dataset.dim}-d ${first.dataset.metric}; M=${args.m}, efC=${args.efConstruction}; 1 thread; ${cpu[0]?.model ?? ''}`;
  writeFileSync(
    join(args.out, `${name}.svg`),
    renderChart(
      `${name}: recall@${args.k} vs QPS${isSynthetic(name) ? ' (synthetic data: not a recall claim)' : ''}`,
      subtitle,
      series,
      args.k,
      TARGET,
    ),
  );
  printTable(name, results, sums, rs, args);
  console.log(`wrote ${join(args.out, `${name}.json`)} and ${name}.svg`);
}

/** The whole peer benchmark for these flags (also what `webannolo bench --datasets synthetic-1m` runs). */
export async function runPeerBench(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv);
  for (const ds of args.datasets) await benchDataset(ds, args);
}

// Run when this file is the entry point (node dist/bench/run.js), not when the CLI imports it.
const isEntry = (() => {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
})();
if (isEntry) {
  runPeerBench(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}

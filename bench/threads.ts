/**
 * Thread scaling: webannolo's parallel build and searchBatch against its own one-thread build
 * and loop of search(), and against usearch with the same threads, M and efConstruction.
 * Every (dataset, library, threads) runs in its own process (bench/threads-job.ts); this file
 * gathers the results, prints the ratios of one run, and writes bench/results/threads.json.
 *
 *   npm run bench:threads -- [--datasets mnist,bge,splade] [--threads 2] [--n 60000] [--nq 1000]
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { qpsAtRecall } from './measure.js';
import type { ThreadsDataset, ThreadsJob, ThreadsJobResult, ThreadsLib } from './threads-job.js';

const TARGET = 0.95;

const { values } = parseArgs({
  options: {
    datasets: { type: 'string', default: 'mnist,bge,splade' },
    threads: { type: 'string', default: String(availableParallelism()) },
    n: { type: 'string', default: '60000' },
    nq: { type: 'string', default: '1000' },
    m: { type: 'string', default: '16' },
    'ef-construction': { type: 'string', default: '200' },
    efs: { type: 'string', default: '10,12,16,24,32,48,64,96,128,192,256' },
    'min-time': { type: 'string', default: '1500' },
    out: { type: 'string', default: 'bench/results' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(
    'npm run bench:threads -- [--datasets mnist,bge,splade] [--threads N] [--n 60000] [--nq 1000] [--m 16] [--ef-construction 200] [--efs ...] [--min-time ms] [--out dir]',
  );
  process.exit(0);
}
const int = (name: string, v: string) => {
  const x = Number(v);
  if (!Number.isInteger(x) || x < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
  return x;
};
const threads = int('threads', values.threads);
const datasets = values.datasets.split(',') as ThreadsDataset[];
for (const d of datasets) if (!['mnist', 'bge', 'splade'].includes(d)) throw new Error(`unknown dataset ${d}`);

function runJob(job: ThreadsJob): Promise<ThreadsJobResult> {
  const script = join(fileURLToPath(new URL('.', import.meta.url)), 'threads-job.js');
  return new Promise((resolve, reject) => {
    const child = fork(script, [JSON.stringify(job)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: ThreadsJobResult | null = null;
    child.on('message', (m) => (result = m as ThreadsJobResult));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 && result ? resolve(result) : reject(new Error(`${job.dataset}/${job.lib}/t${job.threads} exited with ${code}`)),
    );
  });
}

const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a == null || b == null || b === 0 ? null : +(a / b).toFixed(3);
const report: Record<string, unknown> = {
  environment: { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), date: new Date().toISOString() },
  params: { threads, m: int('m', values.m), efConstruction: int('ef-construction', values['ef-construction']), target: TARGET },
  datasets: {},
};

for (const dataset of datasets) {
  const libs: ThreadsLib[] = dataset === 'splade' ? ['webannolo'] : ['webannolo', 'usearch'];
  const results: Record<string, ThreadsJobResult> = {};
  for (const lib of libs) {
    for (const t of threads === 1 ? [1] : [1, threads]) {
      const job: ThreadsJob = {
        dataset,
        lib,
        threads: t,
        m: int('m', values.m),
        efConstruction: int('ef-construction', values['ef-construction']),
        efs: values.efs.split(',').map((e) => int('efs', e)),
        k: 10,
        n: dataset === 'mnist' ? int('n', values.n) : 0,
        nq: int('nq', values.nq),
        minTimeMs: int('min-time', values['min-time']),
        out: values.out,
      };
      results[`${lib}/t${t}`] = await runJob(job);
    }
  }
  const qps = (key: string, mode: string) => {
    const m = results[key]?.modes.find((x) => x.mode === mode);
    return m ? qpsAtRecall(m.points, TARGET).qps : null;
  };
  // Same graph, same ef: the median over the ef sweep of one mode's QPS over another's.
  const medianAtEqualEf = (keyA: string, modeA: string, keyB: string, modeB: string) => {
    const a = results[keyA]?.modes.find((x) => x.mode === modeA);
    const b = results[keyB]?.modes.find((x) => x.mode === modeB);
    if (!a || !b) return null;
    const rs = a.points
      .flatMap((p) => {
        const q = b.points.find((x) => x.ef === p.ef);
        return q ? [p.qps / q.qps] : [];
      })
      .sort((x, y) => x - y);
    return rs.length === 0 ? null : +rs[Math.floor(rs.length / 2)]!.toFixed(3);
  };
  const w1 = results['webannolo/t1']!;
  const wN = results[`webannolo/t${threads}`];
  const u1 = results['usearch/t1'];
  const uN = results[`usearch/t${threads}`];
  const loopKey = wN ? `webannolo/t${threads}` : 'webannolo/t1';
  const summary = {
    description: w1.description,
    buildSeconds: Object.fromEntries(Object.entries(results).map(([key, r]) => [key, +(r.buildMs / 1000).toFixed(2)])),
    qpsAtRecall095: Object.fromEntries(
      Object.entries(results).flatMap(([key, r]) => r.modes.map((m) => [`${key} ${m.mode}`, qpsAtRecall(m.points, TARGET)])),
    ),
    ratios: {
      [`webannolo build t${threads} / t1`]: ratio(wN?.buildMs, w1.buildMs),
      'webannolo searchBatch t1 / loop, median over ef (same process)': medianAtEqualEf(
        loopKey,
        'webannolo searchBatch threads=1',
        loopKey,
        'webannolo loop of search()',
      ),
      [`webannolo searchBatch t${threads} / loop, median over ef (same process)`]: medianAtEqualEf(
        loopKey,
        `webannolo searchBatch threads=${threads}`,
        loopKey,
        'webannolo loop of search()',
      ),
      'webannolo searchBatch t1 / loop at recall 0.95 (same process)': ratio(
        qps(loopKey, 'webannolo searchBatch threads=1'),
        qps(loopKey, 'webannolo loop of search()'),
      ),
      [`webannolo searchBatch t${threads} / loop at recall 0.95 (same process)`]: ratio(
        qps(loopKey, `webannolo searchBatch threads=${threads}`),
        qps(loopKey, 'webannolo loop of search()'),
      ),
      ...(u1
        ? {
            [`webannolo build t${threads} / usearch build t${threads}`]: ratio(wN?.buildMs, uN?.buildMs),
            [`webannolo searchBatch t${threads} / usearch search t${threads}, median over ef (recalls in results)`]: medianAtEqualEf(
              loopKey,
              `webannolo searchBatch threads=${threads}`,
              `usearch/t${threads}`,
              `usearch search threads=${threads}`,
            ),
            [`webannolo searchBatch t${threads} / usearch search t${threads} at recall 0.95`]: ratio(
              qps(loopKey, `webannolo searchBatch threads=${threads}`),
              qps(`usearch/t${threads}`, `usearch search threads=${threads}`),
            ),
            'usearch build t1 / webannolo build t1': ratio(u1.buildMs, w1.buildMs),
          }
        : {}),
    },
    results,
  };
  (report['datasets'] as Record<string, unknown>)[dataset] = summary;
  console.log(`\n== ${dataset}: ${w1.description}; M=${report['params'] && values.m}, efC=${values['ef-construction']}, k=10 ==`);
  console.log('build seconds:', JSON.stringify(summary.buildSeconds));
  for (const [key, v] of Object.entries(summary.qpsAtRecall095))
    console.log(`  QPS@${TARGET} ${key}: ${v.qps == null ? 'n/a' : v.qps.toFixed(0)} (${v.note})`);
  for (const [key, v] of Object.entries(summary.ratios)) console.log(`  ${key}: ${v ?? 'n/a'}`);
}
mkdirSync(values.out, { recursive: true });
writeFileSync(join(values.out, 'threads.json'), `${JSON.stringify(report, null, 1)}\n`);
console.log(`\nwrote ${join(values.out, 'threads.json')}`);

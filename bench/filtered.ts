/**
 * Filtered search: webannolo's label filters against hnswlib-node's filter callback, per
 * selectivity, one process per (library, dataset) (bench/filtered-job.ts), run one after the
 * other. Writes bench/results/filtered.json and prints a table.
 *
 *   npm run bench:filtered -- [--datasets mnist,bge] [--n 60000] [--nq 500] [--efs 16,32,...] [--min-time 1000]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './args.js';
import type { FilteredJobResult, FilteredPoint } from './filtered-job.js';

const TARGET = 0.95;
const { values } = parseArgs({
  options: {
    datasets: { type: 'string', default: 'mnist,bge' },
    n: { type: 'string', default: '60000' },
    nq: { type: 'string', default: '500' },
    efs: { type: 'string', default: '10,16,24,32,48,64,96,128,192,256' },
    'min-time': { type: 'string', default: '1000' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results') },
  },
});

/** The first ef whose recall reaches the target (the sweep's operating point), or null. */
function atTarget(points: FilteredPoint[]): FilteredPoint | null {
  return points.find((p) => p.recall >= TARGET) ?? null;
}

const report: Record<string, unknown> = {
  environment: { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), date: new Date().toISOString() },
  params: { m: 16, efConstruction: 200, k: 10, target: TARGET, efs: values.efs },
  datasets: {},
};

for (const dataset of values.datasets!.split(',')) {
  const results: Partial<Record<'webannolo' | 'hnswlib', FilteredJobResult>> = {};
  for (const lib of ['webannolo', 'hnswlib'] as const) {
    const out = execFileSync(
      process.execPath,
      [
        join(ROOT, 'dist', 'bench', 'filtered-job.js'),
        '--lib',
        lib,
        '--dataset',
        dataset,
        '--n',
        values.n!,
        '--nq',
        values.nq!,
        '--efs',
        values.efs!,
        '--min-time',
        values['min-time']!,
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 },
    );
    results[lib] = JSON.parse(out.trim().split('\n').pop()!) as FilteredJobResult;
  }
  const w = results.webannolo!;
  const h = results.hnswlib!;
  const unfiltered = atTarget(w.cases[0]!.points);
  const rows = w.cases.map((c, i) => {
    const mine = atTarget(c.points);
    const theirs = h.cases[i]!.points;
    const theirsAtTarget = atTarget(theirs);
    const sameEf = mine ? (theirs.find((p) => p.ef === mine.ef) ?? null) : null;
    return {
      filter: c.filter.name,
      selectivity: +(c.filter.selectivity * 100).toFixed(2),
      webannolo: mine,
      hnswlib: theirsAtTarget,
      hnswlibAtSameEf: sameEf,
      'webannolo / unfiltered QPS at 0.95': mine && unfiltered ? +(mine.qps / unfiltered.qps).toFixed(2) : null,
      'webannolo / hnswlib QPS at 0.95': mine && theirsAtTarget ? +(mine.qps / theirsAtTarget.qps).toFixed(2) : null,
      'webannolo / hnswlib QPS at the same ef': mine && sameEf ? +(mine.qps / sameEf.qps).toFixed(2) : null,
    };
  });
  (report['datasets'] as Record<string, unknown>)[dataset] = {
    n: w.n,
    nq: w.nq,
    buildSeconds: { webannolo: w.buildSeconds, hnswlib: h.buildSeconds },
    rows,
    results,
  };
  console.log(`\n== ${dataset}: n=${w.n}, ${w.nq} queries, k=10, recall target ${TARGET} ==`);
  console.log(
    '| filter | selectivity | webannolo ef: recall, QPS | vs unfiltered | hnswlib ef: recall, QPS | hnswlib same ef | webannolo/hnswlib at 0.95 | same ef |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  const fmt = (p: FilteredPoint | null) => (p ? `${p.ef}: ${p.recall.toFixed(3)}, ${Math.round(p.qps)}` : 'never reaches 0.95');
  for (const r of rows) {
    console.log(
      `| ${r.filter} | ${r.selectivity} % | ${fmt(r.webannolo)} | ${r['webannolo / unfiltered QPS at 0.95'] ?? '-'}x | ${fmt(r.hnswlib)} | ${fmt(r.hnswlibAtSameEf)} | ${r['webannolo / hnswlib QPS at 0.95'] ?? '-'}x | ${r['webannolo / hnswlib QPS at the same ef'] ?? '-'}x |`,
    );
  }
}
mkdirSync(values.out!, { recursive: true });
writeFileSync(join(values.out!, 'filtered.json'), `${JSON.stringify(report, null, 1)}\n`);
console.log(`\nwrote ${join(values.out!, 'filtered.json')}`);

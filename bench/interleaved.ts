/**
 * webannolo and hnswlib-node in ONE process, searched in alternation (pass by pass, ef by ef),
 * on a synthetic set (bench/synthetic.ts: not a recall claim). A supplement to the main
 * one-process-per-library bench (`run.ts`): on this shared machine the peers' speed moves by a
 * third between separate runs, while alternating passes puts both libraries under the same
 * load. Recall here is plain |found ∩ true top-10| / 10. Both indexes are built once (webannolo on every core, hnswlib on one) and kept in
 * --cache, so later runs only search. QPS is the median of --rounds passes over the queries.
 * With --build-rounds N it first times N single-thread builds of each library in alternation
 * (the issue's build target; hnswlib-node fed JS arrays, as its users do). With --layouts
 * locality,insertion the same graph is also searched in insertion layout (slot = id), in the
 * same alternation: the locality layout's gain, measured against the same hnswlib passes.
 *
 *   npm run bench:interleaved -- [--n 1000000] [--nq 300] [--efs 64,80,96,112,128,144,160,192] [--rounds 6] [--build-rounds 0] [--layouts locality] [--cache /tmp/webannolo-interleaved]
 */
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { closeWorkers, type DenseDataset, FlatIndex, HnswIndex } from '../src/index.js';
import { closeIndex, loadIndexFile, saveIndexFile } from '../src/node/index.js';
import { qpsAtRecall, type SweepPoint } from './measure.js';
import { syntheticData } from './synthetic.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '1000000' },
    nq: { type: 'string', default: '300' },
    efs: { type: 'string', default: '64,80,96,112,128,144,160,192' },
    rounds: { type: 'string', default: '6' },
    'build-rounds': { type: 'string', default: '0' },
    layouts: { type: 'string', default: 'locality' },
    cache: { type: 'string', default: '/tmp/webannolo-interleaved' },
  },
});
const n = Number(values.n);
const nq = Number(values.nq);
const efs = values.efs!.split(',').map(Number);
const rounds = Number(values.rounds);
const buildRounds = Number(values['build-rounds']);
const layouts = values.layouts!.split(',') as ('locality' | 'insertion')[];
for (const l of layouts) if (l !== 'locality' && l !== 'insertion') throw new Error(`--layouts: 'locality' and/or 'insertion', got '${l}'`);
const params = { m: 16, efConstruction: 200, seed: 1 };
const log = (line: string) => process.stderr.write(`${line}\n`);

interface Hnswlib {
  HierarchicalNSW: new (
    space: string,
    dim: number,
  ) => {
    initIndex(n: number, m: number, efc: number, seed: number): void;
    addPoint(v: number[], label: number): void;
    writeIndexSync(path: string): void;
    readIndexSync(path: string): void;
    setEf(ef: number): void;
    searchKnn(q: number[], k: number): { neighbors: number[] };
  };
}

/** Single-thread build times of both libraries, alternating round by round. */
function compareBuilds(base: DenseDataset, hnswlib: Hnswlib): void {
  const arrays = Array.from({ length: base.size }, (_, i) => Array.from(base.get(i)));
  const ratios: number[] = [];
  for (let r = 0; r < buildRounds; r++) {
    let t0 = performance.now();
    HnswIndex.build(base, { metric: 'l2', ...params });
    const ours = (performance.now() - t0) / 1000;
    t0 = performance.now();
    buildHnswlib(hnswlib, base, (i) => arrays[i]!);
    const their = (performance.now() - t0) / 1000;
    ratios.push(ours / their);
    console.log(
      `build round ${r + 1}: webannolo ${ours.toFixed(1)} s | hnswlib-node ${their.toFixed(1)} s | ratio ${(ours / their).toFixed(2)}x`,
    );
  }
  console.log(`build time ratio (one thread each), median of ${buildRounds}: ${median(ratios).toFixed(2)}x`);
}

/** hnswlib-node's one-thread build, with each row as the JS array its API takes. */
function buildHnswlib(hnswlib: Hnswlib, base: DenseDataset, row: (i: number) => number[]): InstanceType<Hnswlib['HierarchicalNSW']> {
  const index = new hnswlib.HierarchicalNSW('l2', base.dim);
  index.initIndex(base.size, params.m, params.efConstruction, params.seed);
  for (let i = 0; i < base.size; i++) index.addPoint(row(i), i);
  return index;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function main(): Promise<void> {
  mkdirSync(values.cache!, { recursive: true });
  const { base, queries } = syntheticData(n, nq, params.seed);
  log(`synthetic ${n} x ${base.dim} (not a recall claim), ${nq} queries; exact top-10...`);
  const flat = FlatIndex.build(base, { metric: 'l2' });
  const truth = Array.from({ length: nq }, (_, q) => new Set(flat.search(queries.get(q), 10).ids));

  const hnswlib = createRequire(import.meta.url)('hnswlib-node') as Hnswlib;
  if (buildRounds > 0) compareBuilds(base, hnswlib);

  const ourFile = join(values.cache!, `webannolo-${n}.wann`);
  if (!existsSync(ourFile)) {
    log('building webannolo (every core)...');
    const built = await HnswIndex.buildAsync(base, { metric: 'l2', ...params });
    await saveIndexFile(built, ourFile);
    await built.close();
  }
  // A cache written before the locality layout (format 2) is laid out here: the same graph.
  const loaded = (await loadIndexFile(ourFile)) as HnswIndex;
  const variants = new Map(layouts.map((l) => [l === 'locality' ? 'webannolo' : `webannolo-${l}`, loaded.withLayout(l)] as const));

  const theirFile = join(values.cache!, `hnswlib-${n}.bin`);
  let theirs: InstanceType<Hnswlib['HierarchicalNSW']>;
  if (existsSync(theirFile)) {
    theirs = new hnswlib.HierarchicalNSW('l2', base.dim);
    theirs.readIndexSync(theirFile);
  } else {
    log('building hnswlib-node (one thread)...');
    theirs = buildHnswlib(hnswlib, base, (i) => Array.from(base.get(i)));
    theirs.writeIndexSync(theirFile);
  }

  const rows = Array.from({ length: nq }, (_, q) => queries.get(q));
  const arrays = rows.map((r) => Array.from(r));
  const libs: Record<string, (q: number, ef: number) => ArrayLike<number>> = {};
  for (const [name, index] of variants) libs[name] = (q, ef) => index.search(rows[q]!, 10, { ef }).ids;
  libs['hnswlib'] = (q) => theirs.searchKnn(arrays[q]!, 10).neighbors;
  const points: Record<string, SweepPoint[]> = Object.fromEntries(Object.keys(libs).map((name) => [name, []]));
  const timings = new Map<string, number[]>();
  for (const [name, search] of Object.entries(libs)) {
    for (const ef of efs) {
      theirs.setEf(ef);
      let hits = 0;
      for (let q = 0; q < nq; q++) for (const id of Array.from(search(q, ef))) if (truth[q]!.has(id)) hits++;
      const recall = hits / (nq * 10);
      points[name]!.push({ ef, recall, recallStrict: recall, qps: 0, qpsMean: 0, passes: rounds, timedMs: 0 });
      timings.set(`${name} ${ef}`, []);
    }
  }
  for (let r = 0; r < rounds; r++) {
    for (const ef of efs) {
      for (const [name, search] of Object.entries(libs)) {
        theirs.setEf(ef);
        const t0 = performance.now();
        for (let q = 0; q < nq; q++) search(q, ef);
        timings.get(`${name} ${ef}`)!.push(nq / ((performance.now() - t0) / 1000));
      }
    }
  }
  for (const [name, ps] of Object.entries(points)) {
    for (const p of ps) {
      const t = timings.get(`${name} ${p.ef}`)!;
      p.qps = median(t);
      p.timedMs = t.reduce((sum, qps) => sum + (nq / qps) * 1000, 0);
      p.qpsMean = (nq * t.length) / (p.timedMs / 1000);
    }
  }
  const ourNames = [...variants.keys()];
  for (const ef of efs) {
    const b = points['hnswlib']!.find((p) => p.ef === ef)!;
    const cells = ourNames.map((name) => {
      const a = points[name]!.find((p) => p.ef === ef)!;
      return `${name} ${a.recall.toFixed(4)} / ${a.qps.toFixed(0)} QPS (${(a.qps / b.qps).toFixed(2)}x)`;
    });
    console.log(`ef ${ef}: ${cells.join(' | ')} | hnswlib-node ${b.recall.toFixed(4)} / ${b.qps.toFixed(0)} QPS`);
  }
  const at = (name: string) => qpsAtRecall(points[name]!, 0.95);
  const h = at('hnswlib');
  for (const name of ourNames) {
    const w = at(name);
    console.log(
      `QPS at recall 0.95: ${name} ${w.qps?.toFixed(0)} (${w.note}), hnswlib-node ${h.qps?.toFixed(0)} (${h.note})` +
        (w.qps !== null && h.qps !== null ? `: ${(w.qps / h.qps).toFixed(2)}x` : ''),
    );
  }
  closeIndex(loaded);
  await closeWorkers();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

/**
 * One library's filtered-search sweep, in its own process (bench/filtered.ts runs one per
 * library and dataset): build, then for every filter and ef an untimed warm-up and timed
 * passes of single-query searches; prints one JSON line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DenseDataset } from '../src/data/dense.js';
import { closeWorkers } from '../src/index.js';
import { FlatIndex } from '../src/indexes/flat.js';
import { HnswIndex } from '../src/indexes/hnsw/hnsw-index.js';
import { readFvecs } from '../src/io/vecs.js';
import { loadMnist } from '../src/node/mnist.js';
import type { Metric } from '../src/types.js';
import { Rng } from '../src/util/rng.js';
import { BGE_DIR } from './datasets.js';

const K = 10;

export interface FilterCase {
  name: string;
  /** Allowed items / all items. */
  selectivity: number;
  /** null: the unfiltered baseline. */
  label: number | null;
}

export interface FilteredPoint {
  ef: number;
  recall: number;
  qps: number;
}

export interface FilteredJobResult {
  lib: 'webannolo' | 'hnswlib';
  dataset: string;
  n: number;
  nq: number;
  buildSeconds: number;
  cases: { filter: FilterCase; points: FilteredPoint[] }[];
}

const RANDOM_SELECTIVITIES = [0.001, 0.01, 0.1, 0.5];

/** Base, queries, metric and labels (per item) of a dataset, with the filters to test. */
function load(dataset: string, n: number, nq: number) {
  let base: DenseDataset;
  let queries: DenseDataset;
  let metric: Metric;
  const labels: number[][] = [];
  const cases: FilterCase[] = [{ name: 'none', selectivity: 1, label: null }];
  if (dataset === 'mnist') {
    const m = loadMnist(n, nq);
    base = m.train;
    queries = m.test;
    metric = 'l2';
    for (let i = 0; i < base.size; i++) labels.push([m.trainLabels[i]!]);
    cases.push({ name: 'digit 3', selectivity: 0, label: 3 });
  } else {
    base = readFvecs(new Uint8Array(readFileSync(join(BGE_DIR, 'base.fvecs'))));
    queries = readFvecs(new Uint8Array(readFileSync(join(BGE_DIR, 'queries.fvecs'))), nq);
    metric = 'ip';
    const names = readFileSync(join(BGE_DIR, 'base_ids.tsv'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => l.split('\t')[0]!);
    const ids = new Map<string, number>();
    for (const name of names) {
      if (!ids.has(name)) ids.set(name, ids.size);
      labels.push([ids.get(name)!]);
    }
    // The smallest collection, one near 1 % and one near 10 %.
    const sizes = [...ids].map(([name, id]) => ({
      name: name.replace(/^topics\.beir-v1\.0\.0-|\.test\..*$/g, ''),
      id,
      count: names.filter((x) => ids.get(x) === id).length,
    }));
    sizes.sort((a, b) => a.count - b.count);
    const near = (target: number) =>
      sizes.reduce((best, s) => (Math.abs(s.count / names.length - target) < Math.abs(best.count / names.length - target) ? s : best));
    for (const s of new Set([sizes[0]!, near(0.01), near(0.1)])) cases.push({ name: `collection ${s.name}`, selectivity: 0, label: s.id });
  }
  // Random labels of controlled selectivity (label 1000 + s).
  const rng = new Rng(7);
  for (let i = 0; i < base.size; i++) {
    for (let s = 0; s < RANDOM_SELECTIVITIES.length; s++) if (rng.nextOpenUnit() < RANDOM_SELECTIVITIES[s]!) labels[i]!.push(1000 + s);
  }
  for (const [s, sel] of RANDOM_SELECTIVITIES.entries()) cases.push({ name: `random ${sel * 100} %`, selectivity: 0, label: 1000 + s });
  for (const c of cases) if (c.label !== null) c.selectivity = labels.filter((l) => l.includes(c.label!)).length / base.size;
  return { base, queries, metric, labels, cases };
}

/** Exact filtered top-k by brute force over the allowed rows (FlatIndex on the subset). */
async function truthOf(base: DenseDataset, queries: DenseDataset, metric: Metric, allowed: Uint8Array): Promise<Int32Array> {
  const rows: number[] = [];
  for (let i = 0; i < base.size; i++) if (allowed[i]) rows.push(i);
  const sub = new Float32Array(rows.length * base.dim);
  for (const [i, r] of rows.entries()) sub.set(base.get(r), i * base.dim);
  const k = Math.min(K, rows.length);
  const r = await FlatIndex.build(new DenseDataset(sub, base.dim), { metric }).searchBatch(queries, k);
  const out = new Int32Array(queries.size * K).fill(-1);
  for (let q = 0; q < queries.size; q++) for (let i = 0; i < k; i++) out[q * K + i] = rows[r.ids[q * k + i]!]!;
  return out;
}

function recallOf(got: Int32Array, truth: Int32Array): number {
  let hit = 0;
  let total = 0;
  for (let q = 0; q < truth.length / K; q++) {
    const row = new Set(got.subarray(q * K, (q + 1) * K));
    for (let i = 0; i < K; i++) {
      const t = truth[q * K + i]!;
      if (t < 0) continue;
      total++;
      if (row.has(t)) hit++;
    }
  }
  return total === 0 ? 1 : hit / total;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      lib: { type: 'string' },
      dataset: { type: 'string' },
      n: { type: 'string', default: '60000' },
      nq: { type: 'string', default: '500' },
      efs: { type: 'string', default: '16,32,64,128,256' },
      'min-time': { type: 'string', default: '1000' },
      /** Only the filters whose name contains one of these (comma-separated); default all. */
      cases: { type: 'string' },
    },
  });
  const lib = values.lib as 'webannolo' | 'hnswlib';
  const dataset = values.dataset!;
  const efs = values.efs!.split(',').map(Number);
  const minTime = Number(values['min-time']);
  const loaded = load(dataset, Number(values.n), Number(values.nq));
  const { base, queries, metric, labels } = loaded;
  const only = values.cases?.split(',');
  const cases = only ? loaded.cases.filter((c) => only.some((o) => c.name.includes(o))) : loaded.cases;
  const nq = queries.size;

  const t0 = performance.now();
  let searchOne: (q: number, ef: number, allowed: Uint8Array | null, label: number | null) => Int32Array;
  if (lib === 'webannolo') {
    const index = await HnswIndex.buildAsync(base, { metric, m: 16, efConstruction: 200, seed: 1, labels });
    searchOne = (q, ef, _allowed, label) => index.search(queries.get(q), K, label === null ? { ef } : { ef, filter: { label } }).ids;
  } else {
    const { HierarchicalNSW } = (await import('hnswlib-node')).default;
    const index = new HierarchicalNSW(metric === 'l2' ? 'l2' : 'ip', base.dim);
    index.initIndex(base.size, 16, 200, 1);
    for (let i = 0; i < base.size; i++) index.addPoint(Array.from(base.get(i)), i);
    const rows = Array.from({ length: nq }, (_, q) => Array.from(queries.get(q)));
    let lastEf = -1;
    searchOne = (q, ef, allowed) => {
      if (ef !== lastEf) index.setEf((lastEf = ef));
      const out = new Int32Array(K).fill(-1);
      const r = allowed === null ? index.searchKnn(rows[q]!, K) : index.searchKnn(rows[q]!, K, (id: number) => allowed[id] === 1);
      out.set(r.neighbors.slice(0, K));
      return out;
    };
  }
  const buildSeconds = (performance.now() - t0) / 1000;

  const result: FilteredJobResult = { lib, dataset, n: base.size, nq, buildSeconds, cases: [] };
  for (const filter of cases) {
    const allowed = filter.label === null ? null : Uint8Array.from(labels, (l) => (l.includes(filter.label!) ? 1 : 0));
    const truth = await truthOf(base, queries, metric, allowed ?? new Uint8Array(base.size).fill(1));
    const points: FilteredPoint[] = [];
    for (const ef of efs) {
      const ids = new Int32Array(nq * K);
      for (let q = 0; q < Math.min(nq, 50); q++) searchOne(q, ef, allowed, filter.label); // warm-up
      let best = Infinity;
      let spent = 0;
      for (let pass = 0; pass < 2 || spent < minTime; pass++) {
        const s = performance.now();
        for (let q = 0; q < nq; q++) ids.set(searchOne(q, ef, allowed, filter.label), q * K);
        const ms = performance.now() - s;
        spent += ms;
        best = Math.min(best, ms);
      }
      points.push({ ef, recall: recallOf(ids, truth), qps: (nq * 1000) / best });
    }
    result.cases.push({ filter, points });
    process.stderr.write(
      `[${lib} ${dataset}] ${filter.name}: ${points.map((p) => `ef ${p.ef} ${p.recall.toFixed(3)} ${Math.round(p.qps)}/s`).join(', ')}\n`,
    );
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await closeWorkers();
}

await main();
